package convert

import (
	"cmp"
	"path"
	"slices"
	"strconv"
	"strings"
)

// goose reads goose's layout: NNN_name.sql (and NNN_name.go) directly in
// the directory, each file holding both directions after "-- +goose Up"
// and "-- +goose Down".
func (r *reader) goose() []*step {
	type version struct {
		n    int64
		file string
	}
	var versions []version
	seen := map[int64]string{}
	for _, e := range r.readDir(".") {
		name := e.Name()
		ext := path.Ext(name)
		switch {
		case e.IsDir():
			r.ignored(name, "a sub-directory: goose does not read sub-directories")
			continue
		case ext != ".sql" && ext != ".go":
			if isSQL(name) {
				r.unconverted(name, "goose skips it: its name does not end in lower-case .sql")
			} else {
				r.ignored(name, "not a migration file")
			}
			continue
		case strings.HasSuffix(name, "_test.go"):
			r.ignored(name, "a Go test file")
			continue
		}
		digits, _, ok := strings.Cut(name, "_")
		n, err := strconv.ParseInt(digits, 10, 64)
		if !ok || err != nil || n < 1 {
			if ext == ".sql" {
				r.unconverted(name, "goose skips it: not named NNN_name.sql with a version of 1 or more")
			} else {
				r.ignored(name, "a Go file without a version, not a migration")
			}
			continue
		}
		if other, dup := seen[n]; dup {
			r.fail(name, 0, "goose refuses it: version %d is also %s", n, r.show(other))
			continue
		}
		seen[n] = name
		versions = append(versions, version{n, name})
	}
	slices.SortFunc(versions, func(a, b version) int { return cmp.Compare(a.n, b.n) })

	var steps []*step
	for _, v := range versions {
		digits, rest, _ := strings.Cut(v.file, "_")
		st := &step{version: strconv.FormatInt(v.n, 10), digits: digits, name: strings.TrimSuffix(rest, path.Ext(rest))}
		if path.Ext(v.file) == ".go" {
			st.why = "a Go migration: waymark runs SQL files only"
			st.paths = []string{r.show(v.file)}
			steps = append(steps, st)
			continue
		}
		text, ok := r.read(v.file)
		if !ok {
			continue
		}
		g, err := splitGoose(text)
		if err != nil {
			r.fail(v.file, err.line, "goose refuses it: %s", err.msg)
			continue
		}
		if g.envsub {
			st.why = "-- +goose ENVSUB ON: its SQL depends on the environment it ran in"
			st.paths = []string{r.show(v.file)}
			steps = append(steps, st)
			continue
		}
		noTx := ""
		if g.noTx {
			noTx = "-- +goose NO TRANSACTION"
		}
		st.up = &part{path: r.show(v.file), text: text[:g.down], line: 1, noTx: noTx}
		if g.down < len(text) {
			st.down = &part{path: r.show(v.file), text: text[g.down:], line: g.downLine, noTx: noTx}
		} else {
			st.notes = append(st.notes, "irreversible: no -- +goose Down section (goose went down through it doing nothing); add an empty down file if that is what you want")
		}
		steps = append(steps, st)
	}
	return steps
}

// gooseFile is what splitGoose finds in a goose SQL file.
type gooseFile struct {
	// down is the byte offset of the "-- +goose Down" line, or the length
	// of the text when there is none; downLine is its line number.
	down, downLine int
	noTx, envsub   bool
}

// gooseError is a goose file that goose refuses.
type gooseError struct {
	line int
	msg  string
}

// splitGoose reads a goose SQL file line by line, as goose does: a line
// that, trimmed, starts with "--" and contains "+goose" is an annotation,
// wherever it stands (goose does not look inside strings). It returns
// where the down section starts, and refuses what goose refuses.
func splitGoose(text string) (gooseFile, *gooseError) {
	g := gooseFile{down: len(text)}
	const (
		start = iota
		up
		upBlock
		down
		downBlock
	)
	state := start
	off := 0
	for n := 1; off < len(text); n++ {
		end := strings.IndexByte(text[off:], '\n') + 1
		if end == 0 {
			end = len(text) - off
		}
		line := strings.TrimSuffix(strings.TrimSuffix(text[off:off+end], "\n"), "\r")
		lineStart := off
		off += end
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "--") || !strings.Contains(line, "+goose") {
			if state == start && trimmed != "" && !strings.HasPrefix(trimmed, "--") {
				return g, &gooseError{n, "SQL before -- +goose Up"}
			}
			continue
		}
		a, err := gooseAnnotation(line)
		if err != "" {
			return g, &gooseError{n, err}
		}
		switch a {
		case "Up":
			if state != start {
				return g, &gooseError{n, "a second -- +goose Up"}
			}
			state = up
		case "Down":
			if state != up {
				return g, &gooseError{n, "-- +goose Down before -- +goose Up, twice, or inside a statement block"}
			}
			state, g.down, g.downLine = down, lineStart, n
		case "StatementBegin":
			switch state {
			case up:
				state = upBlock
			case down:
				state = downBlock
			default:
				return g, &gooseError{n, "-- +goose StatementBegin outside the Up or Down section, or inside a block"}
			}
		case "StatementEnd":
			switch state {
			case upBlock:
				state = up
			case downBlock:
				state = down
			default:
				return g, &gooseError{n, "-- +goose StatementEnd without StatementBegin"}
			}
		case "NO TRANSACTION":
			g.noTx = true
		case "ENVSUB ON":
			g.envsub = true
		}
	}
	switch state {
	case start:
		return g, &gooseError{1, "no -- +goose Up annotation"}
	case upBlock, downBlock:
		return g, &gooseError{strings.Count(text, "\n") + 1, "-- +goose StatementBegin without StatementEnd"}
	}
	return g, nil
}

// gooseAnnotation reads an annotation line as goose does, returning its
// canonical name or what is wrong with it.
func gooseAnnotation(line string) (string, string) {
	if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
		return "", "an annotation indented"
	}
	cmd := strings.Replace(strings.ReplaceAll(line, "--", ""), "+goose", "", 1)
	if strings.Contains(cmd, "+goose") {
		return "", "two annotations on one line"
	}
	cmd = strings.TrimSpace(cmd)
	for _, a := range []string{"Up", "Down", "StatementBegin", "StatementEnd", "NO TRANSACTION", "ENVSUB ON", "ENVSUB OFF"} {
		if strings.EqualFold(a, cmd) {
			return a, ""
		}
	}
	return "", "unknown annotation " + strconv.Quote(cmd)
}
