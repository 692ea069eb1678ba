package convert

import (
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/waymarkdb/waymark/source"
)

// popName is pop's file name, with popx's ".autocommit": version, name,
// dialect, autocommit, direction, type.
var popName = regexp.MustCompile(`^(\d+)_([^.]+)(\.[a-z0-9]+)?(\.autocommit)?\.(up|down)\.(sql|fizz)$`)

// popDialects maps pop's dialect names and their synonyms to the dialect.
var popDialects = map[string]string{
	"postgres": "postgres", "postgresql": "postgres", "pg": "postgres", "pgx": "postgres",
	"cockroach": "cockroach", "cockroachdb": "cockroach", "crdb": "cockroach",
	"mysql": "mysql", "mariadb": "mariadb",
	"sqlite3": "sqlite3", "sqlite": "sqlite3",
}

// popFile is one migration file of pop.
type popFile struct {
	rel        string
	name       string
	dialect    string // "all" for a generic file
	autocommit bool
	fizz       bool
}

// pop reads pop's layout (with Ory's popx additions): files named
// VERSION_name[.dialect][.autocommit].up.sql and .down.sql (or .fizz)
// anywhere under the directory.
func (r *reader) pop() []*step {
	byVersion := map[string]map[string][]popFile{} // version, direction
	err := fs.WalkDir(r.fsys, r.dir, func(p string, d fs.DirEntry, err error) error {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, r.dir), "/")
		if r.dir == "." {
			rel = p
		}
		if err != nil {
			r.errs = append(r.errs, &source.Error{Pos: pos(r.show(rel)), Err: source.ErrRead, Cause: fsCause(err)})
			return nil
		}
		if d.IsDir() {
			return nil
		}
		m := popName.FindStringSubmatch(d.Name())
		if m == nil && rel == "schema.sql" {
			r.ignored(rel, "pop's dump of the schema, not a migration")
			return nil
		}
		if m == nil {
			if isSQL(d.Name()) || path.Ext(d.Name()) == ".fizz" {
				r.unconverted(rel, "pop skips it: not named VERSION_name[.dialect][.autocommit].up.sql or .down.sql")
			} else {
				r.ignored(rel, "not a migration file")
			}
			return nil
		}
		f := popFile{rel: rel, name: m[2], dialect: "all", autocommit: m[4] != "", fizz: m[6] == "fizz"}
		switch {
		case m[3] == ".autocommit":
			f.autocommit = true
		case m[3] != "":
			dialect, ok := popDialects[m[3][1:]]
			if !ok {
				r.unconverted(rel, "pop skips it: unknown dialect "+m[3][1:])
				return nil
			}
			f.dialect = dialect
		}
		if f.fizz && (f.dialect != "all" || f.autocommit) {
			r.fail(rel, 0, "pop refuses it: a fizz migration is for every dialect, in a transaction")
			return nil
		}
		if byVersion[m[1]] == nil {
			byVersion[m[1]] = map[string][]popFile{}
		}
		byVersion[m[1]][m[5]] = append(byVersion[m[1]][m[5]], f)
		return nil
	})
	if err != nil {
		r.errs = append(r.errs, &source.Error{Pos: pos(r.show(".")), Err: source.ErrRead, Cause: fsCause(err)})
	}

	var steps []*step
	// pop orders versions as text.
	for _, v := range slices.Sorted(maps.Keys(byVersion)) {
		up, okUp := r.popChoose(v, "up", byVersion[v]["up"])
		down, okDown := r.popChoose(v, "down", byVersion[v]["down"])
		if !okUp || !okDown {
			continue
		}
		if up == nil {
			if down != nil {
				r.ignored(down.rel, "a down file without an up file for PostgreSQL: pop never applies the version there")
			}
			continue
		}
		st := &step{version: v, digits: v, name: up.name}
		chosen := []*popFile{up}
		if down != nil {
			chosen = append(chosen, down)
		}
		for _, f := range chosen {
			st.paths = append(st.paths, r.show(f.rel))
		}
		var parts []*part
		for _, f := range chosen {
			text, ok := r.read(f.rel)
			if !ok {
				return nil
			}
			switch {
			case f.fizz:
				st.why = "fizz: pop translates it to SQL as it runs; write the SQL by hand"
			case strings.Contains(text, "{{"):
				st.why = "a template: pop renders every migration with text/template; render it and write the SQL by hand"
			}
			p := &part{path: r.show(f.rel), text: text, line: 1}
			if f.autocommit {
				p.noTx = ".autocommit. file"
			}
			parts = append(parts, p)
		}
		if st.why == "" {
			st.paths = nil
			st.up = parts[0]
			if down != nil {
				st.down = parts[1]
				if down.name != up.name {
					st.notes = append(st.notes, "the down file is named "+down.name+": named after the up file")
				}
			} else {
				st.notes = append(st.notes, "irreversible: pop has no down file for it on PostgreSQL")
			}
		}
		steps = append(steps, st)
	}
	return steps
}

// popChoose returns the file pop runs on PostgreSQL among the files of one
// version and direction: the postgres one, else the generic one. The
// others are ignored. It returns false after a problem.
func (r *reader) popChoose(version, dir string, files []popFile) (*popFile, bool) {
	var chosen *popFile
	for _, dialect := range []string{"postgres", "all"} {
		var same []*popFile
		for i := range files {
			if files[i].dialect == dialect {
				same = append(same, &files[i])
			}
		}
		if len(same) > 1 {
			r.fail(same[1].rel, 0, "pop refuses it: version %s has another %s file for %s, %s", version, dir, dialect, r.show(same[0].rel))
			return nil, false
		}
		if len(same) == 1 && chosen == nil {
			chosen = same[0]
		}
	}
	for i := range files {
		f := &files[i]
		switch {
		case f == chosen:
		case f.dialect == "all":
			r.ignored(f.rel, "the generic file of a version that has one for PostgreSQL")
		default:
			r.ignored(f.rel, "for "+f.dialect+", not PostgreSQL")
		}
	}
	return chosen, true
}

// pos is the position of a whole file.
func pos(path string) source.Position { return source.Position{Path: path} }
