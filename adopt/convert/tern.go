package convert

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The parts of tern's layout.
var (
	ternName = regexp.MustCompile(`\A(\d+)_(.+)\.sql\z`)
	// ternDisableTx, on a line of its own in a direction's SQL, runs that
	// direction outside a transaction.
	ternDisableTx = regexp.MustCompile(`(?m)^---- tern: disable-tx ----$`)
)

// ternSeparator divides a tern file into its up and down SQL.
const ternSeparator = "---- create above / drop below ----"

// tern reads tern's layout: NNN_name.sql numbered 1, 2, 3... directly in
// the directory, each file holding the up SQL, the separator and the down
// SQL; .sql files in sub-directories are templates, not migrations.
func (r *reader) tern() []*step {
	byNumber := map[int64]string{}
	for _, e := range r.readDir(".") {
		name := e.Name()
		if e.IsDir() {
			r.ignored(name, "a sub-directory: tern reads its .sql files as templates for {{ template }}, never as migrations")
			continue
		}
		m := ternName.FindStringSubmatch(name)
		if m == nil {
			if isSQL(name) {
				r.unconverted(name, "tern skips it: not named NNN_name.sql")
			} else {
				r.ignored(name, "not a migration file")
			}
			continue
		}
		n, err := strconv.ParseInt(m[1], 10, 32)
		if err != nil || n < 1 {
			r.fail(name, 0, "tern refuses it: version %s is not a number from 1 to 2147483647", m[1])
			continue
		}
		if other, dup := byNumber[n]; dup {
			r.fail(name, 0, "tern refuses it: migration %d is also %s", n, r.show(other))
			continue
		}
		byNumber[n] = name
	}
	var steps []*step
	for i, n := range slices.Sorted(maps.Keys(byNumber)) {
		if n != int64(i+1) {
			r.fail(".", 0, "tern refuses it: migration %d is missing (tern numbers its migrations 1, 2, 3... without gaps)", i+1)
			break
		}
		name := byNumber[n]
		m := ternName.FindStringSubmatch(name)
		st := &step{version: strconv.Itoa(i + 1), digits: m[1], name: m[2]}
		text, ok := r.read(name)
		if !ok {
			continue
		}
		if strings.Contains(text, "{{") {
			st.why = "a template: tern renders every migration with text/template; render it and write the SQL by hand"
			st.paths = []string{r.show(name)}
			steps = append(steps, st)
			continue
		}
		up, down, found := strings.Cut(text, ternSeparator)
		st.up = &part{path: r.show(name), text: up, line: 1}
		if ternDisableTx.MatchString(up) {
			st.up.noTx = "---- tern: disable-tx ----"
		}
		if !found || strings.TrimSpace(down) == "" {
			st.notes = append(st.notes, "irreversible: no down SQL (tern refuses to go down through it too)")
		} else {
			st.down = &part{path: r.show(name), text: ternSeparator + down, line: strings.Count(up, "\n") + 1}
			if ternDisableTx.MatchString(down) {
				st.down.noTx = "---- tern: disable-tx ----"
			}
		}
		if !containsSQL(up) {
			r.fail(name, 0, "tern refuses it: its up SQL has only comments")
			continue
		}
		steps = append(steps, st)
	}
	return steps
}

// containsSQL reports whether text has a line that is neither blank nor a
// "--" comment, as tern requires of up SQL.
func containsSQL(text string) bool {
	for line := range strings.Lines(text) {
		if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "--") {
			return true
		}
	}
	return false
}
