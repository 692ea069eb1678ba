package convert

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing/fstest"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/source"
)

// Tool names a migration tool whose files Convert reads.
type Tool string

// The tools Convert knows.
const (
	GolangMigrate Tool = "golang-migrate"
	Goose         Tool = "goose"
	Tern          Tool = "tern"
	Pop           Tool = "pop"
	Flyway        Tool = "flyway"
)

// Tools lists the tools Convert knows.
var Tools = []Tool{GolangMigrate, Goose, Tern, Pop, Flyway}

// ParseTool returns the tool named s: "golang-migrate" (or "migrate"),
// "goose", "tern", "pop" or "flyway". The error wraps [ErrUnknownTool].
func ParseTool(s string) (Tool, error) {
	switch s {
	case "golang-migrate", "migrate":
		return GolangMigrate, nil
	case "goose", "tern", "pop", "flyway":
		return Tool(s), nil
	}
	return "", fmt.Errorf("convert: %w %q (known: golang-migrate, goose, tern, pop, flyway)", ErrUnknownTool, s)
}

// Options configure Convert. A nil *Options means the defaults.
type Options struct {
	// MultiStatement says that golang-migrate ran the set with
	// x-multi-statement=true, each statement of a file on its own: a file
	// of more than one statement becomes a no-transaction script, which
	// runs them the same way. Default false: golang-migrate ran each file
	// as one query, which PostgreSQL runs as one transaction, and so does
	// waymark. Other tools ignore it.
	MultiStatement bool
	// Unwrap makes a script that wraps all its SQL in BEGIN; ... COMMIT;
	// an ordinary transactional script: those two statements become
	// comments (on the same lines), and waymark runs the rest in its own
	// transaction, with the version's record, as the tool ran it in one.
	// Default false: such a script keeps its BEGIN and COMMIT and runs as
	// a no-transaction script, which a failure part-way leaves dirty.
	Unwrap bool
}

// Result is a converted set: waymark's migrations, and every file of the
// tool's directory that did not become one, with the reason.
type Result struct {
	// Tool is the tool whose files were read.
	Tool Tool
	// Migrations are the tool's versions in the order it applies them,
	// numbered for waymark. One that could not be converted has no files
	// (see Unconverted), but keeps its number.
	Migrations []Migration
	// Renumbered is set when the tool's versions could not be waymark's:
	// one did not fit a signed 64-bit integer (or was 0), or the tool's
	// order was not the order of the numbers (pop orders versions as
	// text). The versions are then 1 to n in the tool's order, and each
	// file name keeps the tool's version after waymark's.
	Renumbered bool
	// Unconverted lists the files the tool would run that waymark cannot
	// (Go code, templates, fizz), and files that look like migrations but
	// that the tool skips (most likely a typo). Nothing of them is in
	// the result.
	Unconverted []Skipped
	// Ignored lists the files the tool never runs against PostgreSQL:
	// another dialect's, sub-directories the tool does not read, files
	// that are not SQL.
	Ignored []Skipped
	// Repeatables are the tool's repeatable scripts (Flyway's R__ files),
	// by description.
	Repeatables []Repeatable
	// Warnings are what converted but needs a look before the set runs
	// on a new database: a script that changes the tool's own history
	// table, which waymark does not keep.
	Warnings []Warning
}

// Warning is a place in the tool's files that converted, but not cleanly.
type Warning struct {
	// Pos is the place in the tool's file.
	Pos source.Position `json:"-"`
	// Version is waymark's version of the script (0 for a repeatable
	// script).
	Version int64 `json:"version"`
	// Message says what is wrong and what to do.
	Message string `json:"message"`
}

// String returns "path:line:col: message".
func (w Warning) String() string { return w.Pos.String() + ": " + w.Message }

// Migration is one version of the converted set.
type Migration struct {
	// Version is waymark's version.
	Version int64
	// SourceVersion is the version as the tool's history table holds it:
	// decimal digits (for pop, as written in the file name).
	SourceVersion string
	// Name is waymark's name of the version: the tool's, with characters
	// that waymark's file names do not take replaced by "_", after the
	// tool's version when the set was renumbered.
	Name string
	// Stem is the file name without ".up.sql" or ".down.sql".
	Stem string
	// Up is nil when the version could not be converted; Down is nil then
	// too, or when the version is irreversible.
	Up, Down *File
	// Notes say what the conversion decided for the version: why a script
	// runs outside a transaction, that an empty step was marked, that the
	// version is irreversible.
	Notes []string
	// FlywayChecksum is, for Flyway, the checksum Flyway records for the
	// version's file ([FlywayChecksum]); 0 for the other tools.
	FlywayChecksum int32
}

// File is a converted script.
type File struct {
	// Name is waymark's file name: "v001_create_users.up.sql".
	Name string
	// From is the path of the tool's file that it comes from.
	From string
	// SQL is the file's text: the tool's script byte for byte, after any
	// directive lines the conversion adds at the top.
	SQL string
	// NoTransaction is set when the file carries -- waymark:no-transaction.
	NoTransaction bool
	// Wrapped is set when the tool's script wraps all its SQL in BEGIN;
	// ... COMMIT; Unwrapped when Options.Unwrap made those two statements
	// comments, so that it runs in waymark's transaction.
	Wrapped, Unwrapped bool
	// Empty is set when the file carries -- waymark:empty.
	Empty bool
}

// Skipped is a file that did not become a waymark file.
type Skipped struct {
	// Path is the file (or directory), as Convert was given it.
	Path string `json:"path"`
	// Reason says why.
	Reason string `json:"reason"`
	// Version is the waymark version reserved for the file's migration,
	// or 0 when the file is not one of the set's migrations.
	Version int64 `json:"version,omitempty"`
}

// Lookup returns the migration of the tool's version v (as its history
// table holds it).
func (r *Result) Lookup(v string) (*Migration, bool) {
	for i := range r.Migrations {
		if r.Migrations[i].SourceVersion == v {
			return &r.Migrations[i], true
		}
	}
	return nil, false
}

// Files returns the converted files, up before down, in version order.
func (r *Result) Files() []*File {
	var out []*File
	for _, m := range r.Migrations {
		for _, f := range []*File{m.Up, m.Down} {
			if f != nil {
				out = append(out, f)
			}
		}
	}
	for _, rep := range r.Repeatables {
		out = append(out, rep.File)
	}
	return out
}

// LookupRepeatable returns the repeatable script whose description, as
// the tool's history table holds it, is d.
func (r *Result) LookupRepeatable(d string) (*Repeatable, bool) {
	for i := range r.Repeatables {
		if r.Repeatables[i].Description == d {
			return &r.Repeatables[i], true
		}
	}
	return nil, false
}

// Write writes the converted files into dir, which it creates if needed.
// It refuses, writing nothing, a directory that already holds a .sql file
// ([ErrExists]): a converted set is never mixed with other files.
func (r *Result) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &source.Error{Pos: source.Position{Path: dir}, Err: ErrWrite, Cause: err}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return &source.Error{Pos: source.Position{Path: dir}, Err: ErrWrite, Cause: err}
	}
	for _, e := range entries {
		if strings.EqualFold(path.Ext(e.Name()), ".sql") {
			return &source.Error{Pos: source.Position{Path: dir}, Err: ErrExists,
				Detail: "it already holds " + e.Name() + ": write the converted set into a directory of its own"}
		}
	}
	var written []string
	for _, f := range r.Files() {
		p := filepath.Join(dir, f.Name)
		if err := writeNew(p, f.SQL); err != nil {
			for _, w := range written {
				os.Remove(w)
			}
			return &source.Error{Pos: source.Position{Path: p}, Err: ErrWrite, Cause: err}
		}
		written = append(written, p)
	}
	return nil
}

// writeNew writes a file that must not exist yet.
func writeNew(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(content)
	return errors.Join(werr, f.Close())
}

// Convert reads directory dir of fsys ("." for its root) as tool lays out
// its migrations and converts them (see the package doc for the rules).
// File paths in the result and in errors are dir joined with the file's
// path in dir. The error, if any, is a source.ErrorList of every problem: the
// tool itself would refuse the directory, or a converted script is not a
// valid waymark script.
func Convert(fsys fs.FS, dir string, tool Tool, opts *Options) (*Result, error) {
	dir = path.Clean(dir)
	show := func(rel string) string { return path.Join(dir, rel) }
	if dir == "." {
		show = func(rel string) string { return rel }
	}
	return convert(fsys, dir, show, tool, opts)
}

// ConvertDir is Convert of a directory on disk; paths are dir joined with
// the file's path in it.
func ConvertDir(dir string, tool Tool, opts *Options) (*Result, error) {
	show := func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
	return convert(os.DirFS(dir), ".", show, tool, opts)
}

// reader reads one tool's layout.
type reader struct {
	fsys fs.FS
	dir  string
	show func(rel string) string
	opts Options
	errs source.ErrorList
	res  *Result
}

// step is one version as the tool sees it, before waymark numbers it.
type step struct {
	version string // as the tool's history holds it
	digits  string // as the file name writes it
	name    string // the tool's name for it
	up      *part
	down    *part // nil: the tool has no down script
	// why is set when the version cannot be converted; paths are its
	// files then.
	why      string
	paths    []string
	notes    []string
	checksum int32 // Flyway's checksum of the up file
}

// part is the text of one direction of a step.
type part struct {
	path string // the file, as shown
	text string
	line int // the line of the file where text starts
	// noTx is set when the tool runs the script outside a transaction:
	// why.
	noTx string
}

func convert(fsys fs.FS, dir string, show func(string) string, tool Tool, opts *Options) (*Result, error) {
	r := &reader{fsys: fsys, dir: dir, show: show, res: &Result{Tool: tool}}
	if opts != nil {
		r.opts = *opts
	}
	var steps []*step
	switch tool {
	case GolangMigrate:
		steps = r.golangMigrate()
	case Goose:
		steps = r.goose()
	case Tern:
		steps = r.tern()
	case Pop:
		steps = r.pop()
	case Flyway:
		steps = r.flyway()
	default:
		_, err := ParseTool(string(tool))
		return nil, err
	}
	if len(r.errs) == 0 && len(steps) == 0 && len(r.res.Repeatables) == 0 {
		r.errs = append(r.errs, &source.Error{Pos: source.Position{Path: show(".")}, Err: source.ErrNoMigrations, Detail: "none named as " + string(tool) + " names them"})
	}
	// Number what could be read even after a problem, so that every
	// problem is reported at once.
	r.number(steps)
	if len(r.errs) > 0 {
		return nil, r.errs.Err()
	}
	sortSkipped(r.res.Unconverted)
	sortSkipped(r.res.Ignored)
	if err := r.check(); err != nil {
		return nil, err
	}
	return r.res, nil
}

func sortSkipped(s []Skipped) {
	slices.SortFunc(s, func(a, b Skipped) int { return strings.Compare(a.Path, b.Path) })
}

// number gives the steps, in the tool's order, waymark's versions and
// files.
func (r *reader) number(steps []*step) {
	keep := true
	var prev int64
	for _, st := range steps {
		v, err := strconv.ParseInt(st.version, 10, 64)
		if err != nil || v <= prev {
			keep = false
			break
		}
		prev = v
	}
	r.res.Renumbered = !keep
	width := max(4, len(strconv.Itoa(len(steps))))
	for i, st := range steps {
		m := Migration{SourceVersion: st.version, Name: words(st.name), Notes: st.notes, FlywayChecksum: st.checksum}
		if keep {
			m.Version, _ = strconv.ParseInt(st.version, 10, 64)
			m.Stem = "v" + st.digits
		} else {
			m.Version = int64(i + 1)
			m.Stem = fmt.Sprintf("v%0*d", width, i+1)
		}
		if !keep && m.Name == "" {
			m.Name = st.digits
		} else if !keep {
			m.Name = st.digits + "_" + m.Name
		}
		if m.Name != "" {
			m.Stem += "_" + m.Name
		}
		if st.why != "" {
			for _, p := range st.paths {
				r.res.Unconverted = append(r.res.Unconverted, Skipped{Path: p, Reason: st.why, Version: m.Version})
			}
			m.Notes = append(m.Notes, "not converted: "+st.why+"; write "+m.Stem+".up.sql by hand")
			r.res.Migrations = append(r.res.Migrations, m)
			continue
		}
		var upNoTx, downNoTx string
		m.Up, upNoTx = r.file(m.Version, m.Stem+".up.sql", st.up, source.Up)
		if st.down != nil {
			m.Down, downNoTx = r.file(m.Version, m.Stem+".down.sql", st.down, source.Down)
		}
		for _, f := range []*File{m.Up, m.Down} {
			if f != nil && f.Unwrapped {
				m.Notes = append(m.Notes, f.Name+": unwrapped: its BEGIN and COMMIT are comments, and it runs in waymark's transaction")
			}
		}
		switch {
		case upNoTx != "" && upNoTx == downNoTx:
			m.Notes = append(m.Notes, "no-transaction: "+upNoTx)
		default:
			if upNoTx != "" {
				m.Notes = append(m.Notes, "up: no-transaction: "+upNoTx)
			}
			if downNoTx != "" {
				m.Notes = append(m.Notes, "down: no-transaction: "+downNoTx)
			}
		}
		if m.Up.Empty {
			m.Notes = append(m.Notes, "an empty up step: marked -- waymark:empty")
		}
		r.res.Migrations = append(r.res.Migrations, m)
	}
}

// The directive lines a conversion may add at the top of a script.
const (
	noTxLine = "-- waymark:no-transaction\n"
	// emptyLine is completed with the tool's name and a newline.
	emptyLine = `-- waymark:empty "an empty step in the %s migrations this set was converted from"` + "\n"
)

// file converts one direction of version v's step into a waymark script
// named name. It returns why the script runs outside a transaction, or "".
func (r *reader) file(v int64, name string, p *part, dir source.Direction) (*File, string) {
	f := &File{Name: name, From: p.path}
	r.touchesHistory(v, p)
	noTx := p.noTx
	text := p.text
	sc, err := source.ParseScript(name, []byte(text), dir)
	if errors.Is(err, source.ErrTransactionControl) && p.noTx == "" {
		if inner, ok := unwrap(name, text, dir); ok {
			f.Wrapped = true
			if r.opts.Unwrap {
				text, f.Unwrapped = inner, true
				sc, err = source.ParseScript(name, []byte(text), dir)
			}
		}
	}
	switch {
	case errors.Is(err, source.ErrTransactionControl) && f.Wrapped:
		noTx = "it wraps its SQL in BEGIN; ... COMMIT;"
	case errors.Is(err, source.ErrTransactionControl):
		noTx = cmp.Or(noTx, "it has transaction control of its own (BEGIN, COMMIT)")
	case errors.Is(err, source.ErrNeedsNoTransaction):
		noTx = cmp.Or(noTx, "a statement cannot run in a transaction block")
	case err == nil && r.res.Tool == GolangMigrate && r.opts.MultiStatement && len(sc.Statements) > 1:
		noTx = "golang-migrate ran its statements one by one (x-multi-statement)"
	}
	f.Empty = errors.Is(err, source.ErrEmpty)
	var header string
	if noTx != "" {
		f.NoTransaction = true
		header = noTxLine
	}
	if f.Empty {
		header += fmt.Sprintf(emptyLine, r.res.Tool)
	}
	f.SQL = header + text
	if _, err := source.ParseScript(name, []byte(f.SQL), dir); err != nil {
		var list source.ErrorList
		errors.As(err, &list)
		for _, se := range list {
			r.errs = append(r.errs, &source.Error{Pos: p.position(se.Pos, strings.Count(header, "\n")), Err: ErrInvalid, Cause: se})
		}
	}
	return f, noTx
}

// position maps a position in the converted script, whose first header
// lines the conversion added, to the tool's file.
func (p *part) position(pos source.Position, header int) source.Position {
	if pos.Line <= header {
		return source.Position{Path: p.path}
	}
	return source.Position{Path: p.path, Line: pos.Line - header + p.line - 1, Column: pos.Column}
}

// check loads the converted set as waymark would.
func (r *reader) check() error {
	fsys := fstest.MapFS{}
	for _, f := range r.res.Files() {
		fsys[f.Name] = &fstest.MapFile{Data: []byte(f.SQL)}
	}
	if len(fsys) == 0 {
		return nil // every migration is unconverted; the report says so
	}
	if _, err := source.FromFS(fsys, "."); err != nil {
		return source.ErrorList{{Pos: source.Position{Path: r.show(".")}, Err: ErrInvalid, Detail: "the converted set", Cause: err}}
	}
	return nil
}

// words returns s with every character that waymark's file names do not
// take in a name replaced by "_".
func words(s string) string {
	var b strings.Builder
	for _, c := range s {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// isSQL reports whether a file name ends in ".sql", in any case.
func isSQL(name string) bool { return strings.EqualFold(path.Ext(name), ".sql") }

// fail records a problem with the tool's layout.
func (r *reader) fail(rel string, line int, format string, args ...any) {
	pos := source.Position{Path: r.show(rel)}
	if line > 0 {
		pos.Line, pos.Column = line, 1
	}
	r.errs = append(r.errs, &source.Error{Pos: pos, Err: ErrLayout, Detail: fmt.Sprintf(format, args...)})
}

// unconverted records a file that is not one of the set's migrations but
// that the tool would have read as one, were its name right.
func (r *reader) unconverted(rel, reason string) {
	r.res.Unconverted = append(r.res.Unconverted, Skipped{Path: r.show(rel), Reason: reason})
}

// ignored records a file the tool never runs against PostgreSQL.
func (r *reader) ignored(rel, reason string) {
	r.res.Ignored = append(r.res.Ignored, Skipped{Path: r.show(rel), Reason: reason})
}

// readDir lists directory rel of the tool's directory.
func (r *reader) readDir(rel string) []fs.DirEntry {
	entries, err := fs.ReadDir(r.fsys, path.Join(r.dir, rel))
	if err != nil {
		r.errs = append(r.errs, &source.Error{Pos: source.Position{Path: r.show(rel)}, Err: source.ErrRead, Cause: fsCause(err)})
	}
	return entries
}

// read returns the text of file rel.
func (r *reader) read(rel string) (string, bool) {
	data, err := fs.ReadFile(r.fsys, path.Join(r.dir, rel))
	if err != nil {
		r.errs = append(r.errs, &source.Error{Pos: source.Position{Path: r.show(rel)}, Err: source.ErrRead, Cause: fsCause(err)})
		return "", false
	}
	return string(data), true
}

// fsCause returns what the file system said, without the path that a
// *fs.PathError repeats.
func fsCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// unwrap returns the text of a script whose statements are BEGIN (or
// START TRANSACTION), then statements without transaction control, then
// COMMIT (or END), with the first and the last made comments on their
// own lines, so that every other line keeps its number.
func unwrap(name, text string, dir source.Direction) (string, bool) {
	sc, err := source.ParseScript(name, []byte(noTxLine+text), dir)
	if err != nil || len(sc.Statements) < 2 {
		return "", false
	}
	first, last := sc.Statements[0], sc.Statements[len(sc.Statements)-1]
	if w := controlWord(first.SQL); w != "BEGIN" && w != "START" {
		return "", false
	}
	if w := controlWord(last.SQL); w != "COMMIT" && w != "END" {
		return "", false
	}
	for _, st := range sc.Statements[1 : len(sc.Statements)-1] {
		switch controlWord(st.SQL) {
		case "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "PREPARE":
			return "", false // more than a wrapper: left as the tool ran it
		}
	}
	comment := func(stmt string) string {
		return "/* " + strings.ReplaceAll(stmt, "*/", "* /") + " (unwrapped: waymark runs the step in its transaction) */"
	}
	a, b := first.Pos.Offset-len(noTxLine), last.Pos.Offset-len(noTxLine)
	return text[:a] + comment(first.SQL) + text[a+len(first.SQL):b] + comment(last.SQL) + text[b+len(last.SQL):], true
}

// controlWord returns a statement's first word, upper-cased.
func controlWord(stmt string) string {
	f := strings.FieldsFunc(stmt, func(c rune) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';' })
	if len(f) == 0 {
		return ""
	}
	return strings.ToUpper(f[0])
}

// HistoryTable returns the table tool keeps its history in unless told
// otherwise: schema_migrations (golang-migrate), goose_db_version (goose),
// schema_version (tern), schema_migration (pop), flyway_schema_history
// (Flyway).
func HistoryTable(tool Tool) string {
	switch tool {
	case GolangMigrate:
		return "schema_migrations"
	case Goose:
		return "goose_db_version"
	case Tern:
		return "schema_version"
	case Pop:
		return "schema_migration"
	case Flyway:
		return "flyway_schema_history"
	}
	return ""
}

// touchesHistory warns about each statement of p that names the tool's
// history table as an identifier (not in a comment or a string): waymark
// does not keep that table, so on a new database the statement fails.
func (r *reader) touchesHistory(v int64, p *part) {
	table := HistoryTable(r.res.Tool)
	if table == "" {
		return
	}
	sc := sqlsplit.NewScanner(p.text)
	line := -1 // one warning a line
	for {
		t, ok := sc.Next()
		if !ok {
			return
		}
		if name, ok := t.Ident(); !ok || name != table {
			continue
		}
		pos := sqlsplit.Locate(p.text, t.Offset)
		if pos.Line == line {
			continue
		}
		line = pos.Line
		r.res.Warnings = append(r.res.Warnings, Warning{
			Pos:     p.position(source.Position{Line: pos.Line, Column: pos.Column}, 0),
			Version: v,
			Message: fmt.Sprintf("it uses %s's own history table %s, which waymark does not create: on a new database the statement fails; delete it from the converted file (or guard it with IF EXISTS) before the set runs on a new database", r.res.Tool, table),
		})
	}
}
