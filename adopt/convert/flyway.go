package convert

import (
	"hash/crc32"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/waymarkdb/waymark/source"
)

// Repeatable is a converted repeatable script (Flyway's R__ files).
type Repeatable struct {
	// Name is waymark's name of the script: the tool's description, with
	// characters that waymark's file names do not take replaced by "_".
	Name string
	// Description is the script's name as the tool's history table holds
	// it (for Flyway, the description with "_" read as spaces).
	Description string
	// File is the converted script, r_<Name>.sql.
	File *File
	// Notes say what the conversion decided for it.
	Notes []string
	// FlywayChecksum is the checksum Flyway records for the tool's file
	// ([FlywayChecksum]).
	FlywayChecksum int32
}

// FlywayChecksum returns the checksum Flyway records for a script: the
// CRC-32 (IEEE) of its lines, read as Java's BufferedReader.readLine reads
// them (split at "\n", "\r" or "\r\n", without them) and a byte order mark
// at the start left out, fed one after the other, as a signed 32-bit
// integer.
func FlywayChecksum(text string) int32 {
	text = strings.TrimPrefix(text, "\uFEFF")
	h := crc32.NewIEEE()
	for len(text) > 0 {
		i := strings.IndexAny(text, "\r\n")
		if i < 0 {
			h.Write([]byte(text))
			break
		}
		h.Write([]byte(text[:i]))
		text = text[i:]
		if strings.HasPrefix(text, "\r\n") {
			text = text[2:]
		} else {
			text = text[1:]
		}
	}
	return int32(h.Sum32())
}

// The parts of Flyway's layout.
var (
	// flywayName is a versioned (V), undo (U) or baseline (B) migration:
	// prefix, version (digits separated by "." or "_"), "__", description.
	flywayName = regexp.MustCompile(`\A([VUB])(\d+(?:[._]\d+)*)__(.*)\.sql\z`)
	// flywayRepeatable is a repeatable migration: R__description.sql.
	flywayRepeatable = regexp.MustCompile(`\AR__(.+)\.sql\z`)
	// flywayNoTx is Flyway's script configuration that runs a script
	// outside a transaction, in a .sql.conf file or in the script.
	flywayNoTx = regexp.MustCompile(`(?m)^\s*(?:--\s*flyway:)?executeInTransaction\s*=\s*false\s*$`)
)

// flywayCallbacks are the names (before ".sql") of Flyway's SQL callbacks
// that its migrate and undo commands run.
var flywayCallbacks = []string{"beforeMigrate", "beforeEachMigrate", "beforeEachMigrateStatement", "afterEachMigrateStatement",
	"afterEachMigrateStatementError", "afterEachMigrate", "afterEachMigrateError", "afterMigrate", "afterMigrateApplied",
	"afterVersioned", "afterMigrateError", "beforeRepeatables", "beforeUndo", "beforeEachUndo", "afterEachUndo",
	"afterEachUndoError", "afterUndo", "afterUndoError", "beforeClean", "afterClean", "beforeValidate", "afterValidate",
	"beforeBaseline", "afterBaseline", "beforeRepair", "afterRepair", "beforeInfo", "afterInfo", "createSchema", "beforeCreateSchema"}

// FlywayVersion returns the canonical form of a Flyway version: its
// numbers separated by ".", each without leading zeros, without trailing
// zero parts ("1_01.0" is "1.1"), the form in which two versions that
// Flyway holds equal are equal. It returns "" for a string that is not a
// version.
func FlywayVersion(v string) string {
	parts := strings.FieldsFunc(v, func(c rune) bool { return c == '.' || c == '_' })
	if len(parts) == 0 {
		return ""
	}
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return ""
		}
		parts[i] = strings.TrimLeft(p, "0")
		if parts[i] == "" {
			parts[i] = "0"
		}
	}
	for len(parts) > 1 && parts[len(parts)-1] == "0" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, ".")
}

// CompareFlyway orders canonical Flyway versions ([FlywayVersion]) as
// Flyway does: number by number, numerically, a missing number counting as
// 0. It returns -1, 0 or +1 as cmp.Compare does (or another negative or
// positive number).
func CompareFlyway(a, b string) int {
	x, y := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(x), len(y)); i++ {
		p, q := "0", "0"
		if i < len(x) {
			p = x[i]
		}
		if i < len(y) {
			q = y[i]
		}
		if c := len(p) - len(q); c != 0 { // no leading zeros: longer is larger
			return c
		}
		if c := strings.Compare(p, q); c != 0 {
			return c
		}
	}
	return 0
}

// flywayDescription is a description as Flyway's history holds it.
func flywayDescription(d string) string { return strings.ReplaceAll(d, "_", " ") }

// flyway reads Flyway's layout: V<version>__<description>.sql, the undo
// scripts U<version>__<description>.sql and the repeatable scripts
// R__<description>.sql, anywhere under the directory (Flyway searches its
// locations recursively).
func (r *reader) flyway() []*step {
	type file struct {
		rel, digits, desc string
	}
	ups, undos := map[string]file{}, map[string]file{}
	repeatables := map[string]file{}
	var conf []string
	err := fs.WalkDir(r.fsys, r.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			r.errs = append(r.errs, &source.Error{Pos: source.Position{Path: r.show(strings.TrimPrefix(p, r.dir+"/"))}, Err: source.ErrRead, Cause: fsCause(err)})
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, r.dir), "/")
		if d.IsDir() || rel == "" {
			return nil
		}
		name := path.Base(rel)
		if strings.HasSuffix(name, ".sql.conf") {
			conf = append(conf, rel)
			return nil
		}
		if !isSQL(name) {
			r.ignored(rel, "not a migration file")
			return nil
		}
		if m := flywayRepeatable.FindStringSubmatch(name); m != nil {
			key := flywayDescription(m[1])
			if other, dup := repeatables[key]; dup {
				r.fail(rel, 0, "Flyway refuses it: the repeatable migration %q is also %s", key, r.show(other.rel))
				return nil
			}
			repeatables[key] = file{rel: rel, desc: m[1]}
			return nil
		}
		m := flywayName.FindStringSubmatch(name)
		switch {
		case m == nil && slices.Contains(flywayCallbacks, strings.TrimSuffix(name, ".sql")):
			r.unconverted(rel, "a Flyway callback: waymark runs no scripts around its migrations")
			return nil
		case m == nil:
			r.unconverted(rel, "Flyway skips it: not named V<version>__<description>.sql, U<version>__<description>.sql or R__<description>.sql")
			return nil
		case m[1] == "B":
			r.unconverted(rel, "a Flyway baseline migration: it stands for the versions up to its own, which waymark keeps as they are")
			return nil
		}
		v := FlywayVersion(m[2])
		into := ups
		if m[1] == "U" {
			into = undos
		}
		if other, dup := into[v]; dup {
			r.fail(rel, 0, "Flyway refuses it: version %s is also %s", v, r.show(other.rel))
			return nil
		}
		into[v] = file{rel: rel, digits: strings.ReplaceAll(m[2], ".", "_"), desc: m[3]}
		return nil
	})
	if err != nil {
		r.errs = append(r.errs, &source.Error{Pos: source.Position{Path: r.show(".")}, Err: source.ErrRead, Cause: fsCause(err)})
	}
	noTx := map[string]bool{}
	for _, c := range conf {
		script := strings.TrimSuffix(c, ".conf")
		text, ok := r.read(c)
		if !ok {
			continue
		}
		if flywayNoTx.MatchString(text) {
			noTx[script] = true
		}
	}
	part := func(f file) (*part, string) {
		text, ok := r.read(f.rel)
		if !ok {
			return nil, ""
		}
		if strings.Contains(text, "${") {
			return nil, "it uses Flyway placeholders (${...}), which Flyway replaced as it ran the script"
		}
		p := &part{path: r.show(f.rel), text: text, line: 1}
		if noTx[f.rel] || flywayNoTx.MatchString(text) {
			p.noTx = "executeInTransaction=false in its Flyway script configuration"
		}
		return p, ""
	}

	versions := make([]string, 0, len(ups))
	for v := range ups {
		versions = append(versions, v)
	}
	slices.SortFunc(versions, CompareFlyway)
	for v, u := range undos {
		if _, ok := ups[v]; !ok {
			r.fail(u.rel, 0, "an undo script of version %s, which has no V%s__ script", v, u.digits)
		}
	}
	var steps []*step
	for _, v := range versions {
		f := ups[v]
		st := &step{version: v, digits: f.digits, name: f.desc}
		up, why := part(f)
		if why != "" {
			st.why, st.paths = why, []string{r.show(f.rel)}
			steps = append(steps, st)
			continue
		}
		if up == nil {
			continue
		}
		st.up, st.checksum = up, FlywayChecksum(up.text)
		if u, ok := undos[v]; ok {
			down, why := part(u)
			switch {
			case why != "":
				st.notes = append(st.notes, "irreversible: its undo script "+r.show(u.rel)+" was not converted: "+why)
				r.unconverted(u.rel, why)
			case down != nil:
				st.down = down
			}
		} else {
			st.notes = append(st.notes, "irreversible: no U"+f.digits+"__ undo script")
		}
		steps = append(steps, st)
	}

	descs := make([]string, 0, len(repeatables))
	for d := range repeatables {
		descs = append(descs, d)
	}
	slices.Sort(descs)
	for _, d := range descs {
		f := repeatables[d]
		p, why := part(f)
		if why != "" {
			r.unconverted(f.rel, why)
			continue
		}
		if p == nil {
			continue
		}
		rep := Repeatable{Name: words(f.desc), Description: d, FlywayChecksum: FlywayChecksum(p.text)}
		var noTx string
		rep.File, noTx = r.file(0, "r_"+rep.Name+".sql", p, source.Up)
		if noTx != "" {
			rep.Notes = append(rep.Notes, "no-transaction: "+noTx)
		}
		r.res.Repeatables = append(r.res.Repeatables, rep)
	}
	return steps
}
