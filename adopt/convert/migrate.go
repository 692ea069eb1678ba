package convert

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
)

// migrateName is golang-migrate's file name: version, identifier,
// direction, extension.
var migrateName = regexp.MustCompile(`^([0-9]+)_(.*)\.(down|up)\.(.*)$`)

// golangMigrate reads golang-migrate's layout: NNN_name.up.ext and
// NNN_name.down.ext directly in the directory.
func (r *reader) golangMigrate() []*step {
	type version struct {
		n        uint64
		up, down string // file names
	}
	byVersion := map[uint64]*version{}
	for _, e := range r.readDir(".") {
		name := e.Name()
		if e.IsDir() {
			r.ignored(name, "a sub-directory: golang-migrate does not read sub-directories")
			continue
		}
		m := migrateName.FindStringSubmatch(name)
		if m == nil {
			if isSQL(name) {
				r.unconverted(name, "golang-migrate skips it: not named NNN_name.up.sql or NNN_name.down.sql")
			} else {
				r.ignored(name, "not a migration file")
			}
			continue
		}
		n, err := strconv.ParseUint(m[1], 10, 64)
		if err != nil {
			r.fail(name, 0, "golang-migrate refuses it: version %s does not fit a 64-bit unsigned integer", m[1])
			continue
		}
		v := byVersion[n]
		if v == nil {
			v = &version{n: n}
			byVersion[n] = v
		}
		slot := &v.up
		if m[3] == "down" {
			slot = &v.down
		}
		if *slot != "" {
			r.fail(name, 0, "golang-migrate refuses it: version %d has another %s file, %s", n, m[3], r.show(*slot))
			continue
		}
		*slot = name
	}
	versions := slices.SortedFunc(func(yield func(*version) bool) {
		for _, v := range byVersion {
			if !yield(v) {
				return
			}
		}
	}, func(a, b *version) int { return cmp.Compare(a.n, b.n) })

	var steps []*step
	for _, v := range versions {
		st := &step{version: strconv.FormatUint(v.n, 10)}
		main := cmp.Or(v.up, v.down)
		m := migrateName.FindStringSubmatch(main)
		st.digits, st.name = m[1], m[2]
		if v.up == "" {
			// golang-migrate steps over a version without an up file,
			// recording it.
			st.up = &part{path: r.show(v.down), line: 1}
			st.notes = append(st.notes, "golang-migrate has no up file for it: an empty up step")
		} else if st.up = r.whole(v.up); st.up == nil {
			continue
		}
		if v.down == "" {
			st.notes = append(st.notes, "irreversible: golang-migrate has no down file for it (and went down through it doing nothing)")
		} else {
			if st.down = r.whole(v.down); st.down == nil {
				continue
			}
			if dm := migrateName.FindStringSubmatch(v.down); v.up != "" && dm[2] != m[2] {
				st.notes = append(st.notes, "the down file is named "+strconv.Quote(dm[2])+": named after the up file")
			}
		}
		steps = append(steps, st)
	}
	return steps
}

// whole returns file rel as a part, or nil if it cannot be read.
func (r *reader) whole(rel string) *part {
	text, ok := r.read(rel)
	if !ok {
		return nil
	}
	return &part{path: r.show(rel), text: text, line: 1}
}
