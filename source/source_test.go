package source_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/source"
)

// files builds a MapFS under dir from name → content.
func files(dir string, m map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, content := range m {
		fsys[filepath.ToSlash(filepath.Join(dir, name))] = &fstest.MapFile{Data: []byte(content)}
	}
	return fsys
}

// problem is one expected error: the file it names, where, and its kind.
type problem struct {
	Path         string
	Line, Column int
	Err          error
}

// problems unpacks the ErrorList that FromFS returned.
func problems(t *testing.T, err error) []problem {
	t.Helper()
	if err == nil {
		return nil
	}
	var list source.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %q (%T) is not a source.ErrorList", err, err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(list) {
		t.Errorf("the list of %d problems prints as %d lines", len(list), len(lines))
	}
	var out []problem
	for i, se := range list {
		if !strings.HasPrefix(se.Error(), se.Pos.Path+":") {
			t.Errorf("message %q does not start with the file's path %q", se, se.Pos.Path)
		}
		if i < len(lines) && lines[i] != se.Error() {
			t.Errorf("line %d of the list is %q, want %q", i+1, lines[i], se)
		}
		out = append(out, problem{se.Pos.Path, se.Pos.Line, se.Pos.Column, se.Err})
	}
	return out
}

var errCmp = cmp.Comparer(func(a, b error) bool { return a == b })

func TestFromFSProblems(t *testing.T) {
	const ok = "CREATE TABLE t (id int);\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []problem
	}{
		{"v1 and v001 are one version", map[string]string{"v1_a.up.sql": ok, "v001_b.up.sql": ok},
			[]problem{{"m/v1_a.up.sql", 0, 0, source.ErrDuplicateVersion}}},
		{"two downs of one version", map[string]string{"v1_a.up.sql": ok, "v1_a.down.sql": ok, "v01_a.down.sql": ok},
			[]problem{{"m/v01_a.down.sql", 0, 0, source.ErrDuplicateVersion}}},
		{"down without up", map[string]string{"v1_a.up.sql": ok, "v2_b.down.sql": ok},
			[]problem{{"m/v2_b.down.sql", 0, 0, source.ErrMissingUp}}},
		{"up and down names differ", map[string]string{"v1_users.up.sql": ok, "v1_user.down.sql": ok},
			[]problem{{"m/v1_user.down.sql", 0, 0, source.ErrNameMismatch}}},
		{"version 0", map[string]string{"v0_init.up.sql": ok, "v000.up.sql": ok, "v1.up.sql": ok},
			[]problem{{"m/v000.up.sql", 0, 0, source.ErrBadVersion}, {"m/v0_init.up.sql", 0, 0, source.ErrBadVersion}}},
		{"version overflows int64", map[string]string{"v9223372036854775808.up.sql": ok, "v9223372036854775807.up.sql": ok},
			[]problem{{"m/v9223372036854775808.up.sql", 0, 0, source.ErrBadVersion}}},
		{"names that do not match", map[string]string{
			"V1.up.sql": ok, "v1.UP.sql": ok, "1.up.sql": ok, "v1.sql": ok, "v1.up.sql.sql": ok, "v1.up.SQL": ok,
			"v1_.up.sql": ok, "v1_a.b.up.sql": ok, "v_x.up.sql": ok, "vx1.up.sql": ok, "v1 a.up.sql": ok, "v1_é.up.sql": ok,
			"v2.up.sql": ok},
			[]problem{
				{"m/1.up.sql", 0, 0, source.ErrBadName}, {"m/V1.up.sql", 0, 0, source.ErrBadName},
				{"m/v1 a.up.sql", 0, 0, source.ErrBadName}, {"m/v1.UP.sql", 0, 0, source.ErrBadName},
				{"m/v1.sql", 0, 0, source.ErrBadName}, {"m/v1.up.SQL", 0, 0, source.ErrBadName},
				{"m/v1.up.sql.sql", 0, 0, source.ErrBadName}, {"m/v1_.up.sql", 0, 0, source.ErrBadName},
				{"m/v1_a.b.up.sql", 0, 0, source.ErrBadName}, {"m/v1_é.up.sql", 0, 0, source.ErrBadName},
				{"m/v_x.up.sql", 0, 0, source.ErrBadName}, {"m/vx1.up.sql", 0, 0, source.ErrBadName},
			}},
		{"invalid UTF-8, located", map[string]string{"v1.up.sql": "SELECT 1;\nSELECT 'caf\xe9';\n"},
			[]problem{{"m/v1.up.sql", 2, 12, source.ErrEncoding}}},
		{"byte order mark", map[string]string{"v1.up.sql": "\uFEFFSELECT 1;"},
			[]problem{{"m/v1.up.sql", 1, 1, source.ErrEncoding}}},
		{"NUL byte", map[string]string{"v1.up.sql": "SELECT 1;\x00"},
			[]problem{{"m/v1.up.sql", 1, 10, source.ErrEncoding}}},
		{"empty up script", map[string]string{"v1.up.sql": ""},
			[]problem{{"m/v1.up.sql", 0, 0, source.ErrEmpty}}},
		{"whitespace and comments only", map[string]string{"v1.up.sql": "  \n-- nothing\n/* yet */ ;\n", "v1.down.sql": ""},
			[]problem{{"m/v1.up.sql", 0, 0, source.ErrEmpty}}},
		{"misspelt directive", map[string]string{"v1.up.sql": "-- waymark:no-transactoin\nCREATE INDEX CONCURRENTLY i ON t (x);\n"},
			[]problem{{"m/v1.up.sql", 1, 1, source.ErrDirective}}},
		{"directive in other case", map[string]string{"v1.up.sql": "  --WAYMARK:no-transaction\nSELECT 1;"},
			[]problem{{"m/v1.up.sql", 1, 3, source.ErrDirective}}},
		{"directive below the first statement", map[string]string{"v1.up.sql": "SELECT 1;\n-- waymark:no-transaction\nSELECT 2;"},
			[]problem{{"m/v1.up.sql", 2, 1, source.ErrDirective}}},
		{"directive after the first statement on its line", map[string]string{"v1.up.sql": "SELECT 1; -- waymark:no-transaction\nSELECT 2;"},
			[]problem{{"m/v1.up.sql", 1, 11, source.ErrDirective}}},
		{"a no-transaction script that never commits", map[string]string{"v1.up.sql": "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\nBEGIN;\nUPDATE t SET x = 1;\n"},
			[]problem{{"m/v1.up.sql", 3, 1, source.ErrOpenTransaction}}},
		{"unterminated dollar quote", map[string]string{"v1.up.sql": "SELECT 1;\nDO $body$ BEGIN NULL; END $bdoy$;\n"},
			[]problem{{"m/v1.up.sql", 2, 4, source.ErrSyntax}}},
		{"unterminated string in a down script", map[string]string{"v1.up.sql": ok, "v1.down.sql": "SELECT 'oops;\n"},
			[]problem{{"m/v1.down.sql", 1, 8, source.ErrSyntax}}},
		{"transaction control", map[string]string{"v1.up.sql": "BEGIN;\nCREATE TABLE t (x int);\n  commit;\n"},
			[]problem{{"m/v1.up.sql", 1, 1, source.ErrTransactionControl}, {"m/v1.up.sql", 3, 3, source.ErrTransactionControl}}},
		{"rollback and start transaction", map[string]string{"v1.up.sql": "START TRANSACTION;\nSAVEPOINT a;\nROLLBACK TO SAVEPOINT a;\nROLLBACK WORK TO a;\nROLLBACK;\n"},
			[]problem{{"m/v1.up.sql", 1, 1, source.ErrTransactionControl}, {"m/v1.up.sql", 5, 1, source.ErrTransactionControl}}},
		{"CREATE INDEX CONCURRENTLY without the directive", map[string]string{"v1.up.sql": "CREATE TABLE t (x int);\n  CREATE INDEX CONCURRENTLY i ON t (x);\n"},
			[]problem{{"m/v1.up.sql", 2, 3, source.ErrNeedsNoTransaction}}},
		{"VACUUM and ALTER SYSTEM without the directive", map[string]string{"v1.up.sql": "VACUUM t;\nALTER SYSTEM SET work_mem = '8MB';\n"},
			[]problem{{"m/v1.up.sql", 1, 1, source.ErrNeedsNoTransaction}, {"m/v1.up.sql", 2, 1, source.ErrNeedsNoTransaction}}},
		{"a misspelt directive is the one problem reported", map[string]string{"v1.up.sql": "-- waymark:no-transacton\nCREATE INDEX CONCURRENTLY i ON t (x);\n"},
			[]problem{{"m/v1.up.sql", 1, 1, source.ErrDirective}}},
		{"every problem at once", map[string]string{"V1.up.sql": ok, "v2.up.sql": "", "v3.down.sql": ok, "v4.up.sql": "SELECT $$"},
			[]problem{{"m/V1.up.sql", 0, 0, source.ErrBadName}, {"m/v2.up.sql", 0, 0, source.ErrEmpty},
				{"m/v3.down.sql", 0, 0, source.ErrMissingUp}, {"m/v4.up.sql", 1, 8, source.ErrSyntax}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := source.FromFS(files("m", tt.files), "m")
			if err == nil {
				t.Fatalf("FromFS succeeded with %d migrations, want errors", set.Len())
			}
			if set != nil {
				t.Errorf("FromFS returned a set along with errors")
			}
			if diff := cmp.Diff(tt.want, problems(t, err), errCmp); diff != "" {
				t.Errorf("problems (-want +got):\n%s\nerror:\n%v", diff, err)
			}
			for _, p := range tt.want {
				if !errors.Is(err, p.Err) {
					t.Errorf("errors.Is(err, %v) = false", p.Err)
				}
			}
		})
	}
}

func TestFromFSAccepts(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		noTx  bool // v1's up script runs outside a transaction
	}{
		{"transaction control inside a no-transaction script", map[string]string{"v1.up.sql": "-- waymark:no-transaction\nBEGIN;\nSELECT 1;\nCOMMIT;\n"}, true},
		{"savepoints", map[string]string{"v1.up.sql": "SAVEPOINT a;\nSELECT 1;\nROLLBACK TO SAVEPOINT a;\nROLLBACK /* undo */ -- all of it\n TO a;\nRELEASE a;"}, false},
		{"directive after a header block comment", map[string]string{"v1.up.sql": "/* Index\n   the skus. */\n-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);"}, true},
		{"BEGIN inside a function body", map[string]string{"v1.up.sql": "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n  COMMIT;\nEND\n$$;"}, false},
		{"empty down script", map[string]string{"v1.up.sql": "SELECT 1;", "v1.down.sql": "-- nothing to undo\n"}, false},
		{"directive after a comment header, any spacing", map[string]string{"v1.up.sql": "-- Add an index.\n\n--waymark:no-transaction   \r\nCREATE INDEX CONCURRENTLY i ON t (x);"}, true},
		{"a comment mentioning waymark mid-line is not a directive", map[string]string{"v1.up.sql": "SELECT 1; -- see waymark docs? no: this line starts with SELECT\n"}, false},
		{"other files are ignored", map[string]string{"v1.up.sql": "SELECT 1;", "README.md": "x", "v2.up.sql~": "x", ".v3.up.sql.swp": "x", ".#v4.up.sql": "x", "sub/v5.up.sql": "not read"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := source.FromFS(files("m", tt.files), "m")
			if err != nil {
				t.Fatalf("FromFS: %v", err)
			}
			if set.Len() != 1 {
				t.Fatalf("Len = %d, want 1", set.Len())
			}
			if m, _ := set.Lookup(1); m.Up.NoTransaction != tt.noTx {
				t.Errorf("NoTransaction = %v, want %v", m.Up.NoTransaction, tt.noTx)
			}
		})
	}
}

// dump is the comparable gist of a set.
type dump struct {
	Version       int64
	Name          string
	Up, Down      string // paths
	NoTransaction bool
	Statements    int
}

func dumpSet(set *source.Set) []dump {
	var out []dump
	for _, m := range set.Migrations() {
		d := dump{Version: m.Version, Name: m.Name, Up: m.Up.Path, NoTransaction: m.Up.NoTransaction, Statements: len(m.Up.Statements)}
		if m.Down != nil {
			d.Down = m.Down.Path
		}
		out = append(out, d)
	}
	return out
}

func TestTestdataSets(t *testing.T) {
	tests := []struct {
		dir  string
		want []dump
	}{
		{"unsorted", func() []dump {
			var d []dump
			for i := int64(1); i <= 10; i++ {
				n := "t" + itoa(i)
				d = append(d, dump{i, n, "../testdata/unsorted/v" + itoa(i) + "_" + n + ".up.sql", "../testdata/unsorted/v" + itoa(i) + "_" + n + ".down.sql", false, 1})
			}
			return d
		}()},
		{"gaps", []dump{
			{1, "a", "../testdata/gaps/v1_a.up.sql", "../testdata/gaps/v1_a.down.sql", false, 1},
			{5, "b", "../testdata/gaps/v5_b.up.sql", "../testdata/gaps/v5_b.down.sql", false, 1},
			{20230101120000, "c", "../testdata/gaps/v20230101120000_c.up.sql", "../testdata/gaps/v20230101120000_c.down.sql", false, 1},
		}},
		{"irreversible", []dump{
			{1, "a", "../testdata/irreversible/v1_a.up.sql", "../testdata/irreversible/v1_a.down.sql", false, 1},
			{2, "backfill", "../testdata/irreversible/v2_backfill.up.sql", "", false, 1},
			{3, "c", "../testdata/irreversible/v3_c.up.sql", "../testdata/irreversible/v3_c.down.sql", false, 1},
		}},
		{"notx", []dump{
			{1, "items", "../testdata/notx/v1_items.up.sql", "../testdata/notx/v1_items.down.sql", false, 1},
			{2, "items_sku_index", "../testdata/notx/v2_items_sku_index.up.sql", "../testdata/notx/v2_items_sku_index.down.sql", true, 2},
		}},
		{"sample", []dump{
			{1, "create_users", "../testdata/sample/v001_create_users.up.sql", "../testdata/sample/v001_create_users.down.sql", false, 1},
			{2, "add_email", "../testdata/sample/v002_add_email.up.sql", "../testdata/sample/v002_add_email.down.sql", false, 3},
			{3, "users_email_index", "../testdata/sample/v003_users_email_index.up.sql", "../testdata/sample/v003_users_email_index.down.sql", true, 1},
			{4, "orders", "../testdata/sample/v004_orders.up.sql", "../testdata/sample/v004_orders.down.sql", false, 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			set, err := source.FromDir(filepath.Join("..", "testdata", tt.dir))
			if err != nil {
				t.Fatalf("FromDir: %v", err)
			}
			if diff := cmp.Diff(tt.want, dumpSet(set)); diff != "" {
				t.Errorf("set (-want +got):\n%s", diff)
			}
		})
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestTestdataBadSets(t *testing.T) {
	tests := []struct {
		dir  string
		want []problem
	}{
		{"bad_names", []problem{
			{"4.up.sql", 0, 0, source.ErrBadName}, {"V2.up.sql", 0, 0, source.ErrBadName},
			{"v3.UP.sql", 0, 0, source.ErrBadName}, {"v5.sql", 0, 0, source.ErrBadName},
			{"v6.up.sql.sql", 0, 0, source.ErrBadName}, {"v7_bad name.up.sql", 0, 0, source.ErrBadName},
			{"v8_.up.sql", 0, 0, source.ErrBadName}}},
		{"bad_duplicate", []problem{{"v1_first.up.sql", 0, 0, source.ErrDuplicateVersion}}},
		{"bad_down_only", []problem{{"v2_lonely.down.sql", 0, 0, source.ErrMissingUp}}},
		{"bad_version", []problem{{"v0_zero.up.sql", 0, 0, source.ErrBadVersion}, {"v99999999999999999999_huge.up.sql", 0, 0, source.ErrBadVersion}}},
		{"bad_encoding", []problem{{"v2_latin1.up.sql", 1, 17, source.ErrEncoding}, {"v3_bom.up.sql", 1, 1, source.ErrEncoding}}},
		{"bad_empty", []problem{{"v1_todo.up.sql", 0, 0, source.ErrEmpty}}},
		{"bad_directive", []problem{{"v1_typo.up.sql", 1, 1, source.ErrDirective}, {"v2_late.up.sql", 2, 1, source.ErrDirective}}},
		{"bad_unterminated", []problem{{"v1_fn.up.sql", 1, 49, source.ErrSyntax}, {"v2_quote.up.sql", 1, 23, source.ErrSyntax}}},
		{"bad_txcontrol", []problem{{"v1_wrapped.up.sql", 1, 1, source.ErrTransactionControl}, {"v1_wrapped.up.sql", 3, 1, source.ErrTransactionControl}}},
		{"bad_mismatch", []problem{{"v1_create_user.down.sql", 0, 0, source.ErrNameMismatch}}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", tt.dir)
			_, err := source.FromDir(dir)
			for i := range tt.want {
				tt.want[i].Path = filepath.Join(dir, tt.want[i].Path)
			}
			if diff := cmp.Diff(tt.want, problems(t, err), errCmp); diff != "" {
				t.Errorf("problems (-want +got):\n%s\nerror:\n%v", diff, err)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := source.FromFS(files("db/migrations", map[string]string{
		"v1_a.up.sql": "SELECT 1;", "v001_b.up.sql": "SELECT 1;", "v2.up.sql": "SELECT 'x",
	}), "db/migrations")
	want := "db/migrations/v1_a.up.sql: duplicate version: version 1 is also defined by db/migrations/v001_b.up.sql\n" +
		"db/migrations/v2.up.sql:1:8: cannot split script: unterminated quoted string"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestDirectories(t *testing.T) {
	fsys := fstest.MapFS{
		"v1.up.sql":            {Data: []byte("SELECT 1;")},
		"a/b/v2_x.up.sql":      {Data: []byte("SELECT 2;")},
		"a/b/c/v3_deep.up.sql": {Data: []byte("SELECT 3;")},
	}
	root, err := source.FromFS(fsys, ".")
	if err != nil {
		t.Fatalf(`FromFS(".") = %v`, err)
	}
	if m, ok := root.Lookup(1); !ok || m.Up.Path != "v1.up.sql" || root.Len() != 1 {
		t.Errorf(`FromFS(".") = %+v, want only v1.up.sql`, dumpSet(root))
	}
	nested, err := source.FromFS(fsys, "a/b")
	if err != nil {
		t.Fatalf(`FromFS("a/b") = %v`, err)
	}
	if m, ok := nested.Lookup(2); !ok || m.Up.Path != "a/b/v2_x.up.sql" || nested.Len() != 1 {
		t.Errorf(`FromFS("a/b") = %+v, want only a/b/v2_x.up.sql (no recursion)`, dumpSet(nested))
	}

	_, err = source.FromFS(fsys, "missing")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Errorf(`FromFS("missing") = %v, want an error naming it that wraps fs.ErrNotExist`, err)
	}
	_, err = source.FromFS(fstest.MapFS{"empty/README": {}}, "empty")
	if !errors.Is(err, source.ErrNoMigrations) {
		t.Errorf("FromFS of a directory without migrations = %v, want ErrNoMigrations", err)
	}
}

func TestFromDirOS(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "v7_seven.up.sql"), []byte("SELECT 7;"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := source.FromDir(dir)
	if err != nil {
		t.Fatalf("FromDir: %v", err)
	}
	m, ok := set.Lookup(7)
	if !ok || m.Up.Path != filepath.Join(dir, "v7_seven.up.sql") {
		t.Fatalf("Lookup(7) = %+v, %v; want the file with its full path", m, ok)
	}
	if _, ok := set.Lookup(6); ok {
		t.Error("Lookup(6) found a version that does not exist")
	}
}

func TestScripts(t *testing.T) {
	up := "-- waymark:no-transaction\n-- Index without blocking writes.\nCREATE INDEX CONCURRENTLY a ON t (x);\n\n  /* é */ CREATE INDEX CONCURRENTLY b ON t (y)"
	set, err := source.FromFS(fstest.MapFS{"v3_idx.up.sql": {Data: []byte(up)}, "v3_idx.down.sql": {Data: []byte("DROP INDEX a;\nDROP INDEX b;\n")}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := set.Lookup(3)
	wantUp := &source.Script{
		Path: "v3_idx.up.sql", Direction: source.Up, SQL: up, Checksum: source.ChecksumOf(up), NoTransaction: true,
		Directives: []source.Directive{{Name: "no-transaction", Pos: source.Position{Path: "v3_idx.up.sql", Line: 1, Column: 1, Statement: 1}}},
		Statements: []source.Statement{
			{SQL: "CREATE INDEX CONCURRENTLY a ON t (x);", Pos: source.Position{Path: "v3_idx.up.sql", Line: 3, Column: 1, Offset: 60, Statement: 1}},
			{SQL: "CREATE INDEX CONCURRENTLY b ON t (y)", Pos: source.Position{Path: "v3_idx.up.sql", Line: 5, Column: 11, Offset: 110, Statement: 2}},
		},
	}
	if diff := cmp.Diff(wantUp, m.Up); diff != "" {
		t.Errorf("up script (-want +got):\n%s", diff)
	}
	if m.Down.NoTransaction || m.Down.Direction != source.Down || len(m.Down.Statements) != 2 {
		t.Errorf("down script = %+v, want a transactional down script of 2 statements", m.Down)
	}
	if got := up[wantUp.Statements[1].Pos.Offset:]; !strings.HasPrefix(got, "CREATE INDEX CONCURRENTLY b") {
		t.Errorf("Offset of statement 2 points at %q", got)
	}
	if set.Latest() != 3 {
		t.Errorf("Latest = %d, want 3", set.Latest())
	}
}

func TestChecksum(t *testing.T) {
	// The SHA-256 of no bytes is well known.
	if got, want := source.ChecksumOf("").String(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("ChecksumOf(\"\") = %s, want %s", got, want)
	}
	c := source.ChecksumOf("SELECT 1;")
	parsed, err := source.ParseChecksum(c.String())
	if err != nil || parsed != c {
		t.Errorf("ParseChecksum(String()) = %v, %v; want %v", parsed, err, c)
	}
	if c.Short() != c.String()[:8] {
		t.Errorf("Short = %q, want the first 8 digits of %q", c.Short(), c)
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("g", 64), c.String()[:63]} {
		if _, err := source.ParseChecksum(bad); err == nil {
			t.Errorf("ParseChecksum(%q) succeeded", bad)
		}
	}
	if !(source.Checksum{}).IsZero() || c.IsZero() {
		t.Error("IsZero is wrong")
	}
}

func TestDirectionText(t *testing.T) {
	for _, d := range []source.Direction{0, source.Up, source.Down} {
		b, err := d.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%v): %v", d, err)
		}
		var got source.Direction
		if err := got.UnmarshalText(b); err != nil || got != d {
			t.Errorf("round trip of %v = %v, %v", d, got, err)
		}
	}
	if _, err := source.Direction(7).MarshalText(); err == nil {
		t.Error("MarshalText of an invalid direction succeeded")
	}
	var d source.Direction
	if err := d.UnmarshalText([]byte("sideways")); err == nil {
		t.Error(`UnmarshalText("sideways") succeeded`)
	}
}

func TestParseScript(t *testing.T) {
	sc, err := source.ParseScript("x.up.sql", []byte("-- waymark:no-transaction\nVACUUM a;\nVACUUM b;"), source.Up)
	if err != nil {
		t.Fatal(err)
	}
	if !sc.NoTransaction || len(sc.Statements) != 2 || sc.Checksum != source.ChecksumOf(sc.SQL) {
		t.Errorf("ParseScript = %+v", sc)
	}
	_, err = source.ParseScript("x.up.sql", []byte("COMMIT;\nSELECT 'x"), source.Up)
	if !errors.Is(err, source.ErrSyntax) || !strings.HasPrefix(err.Error(), "x.up.sql:2:8: ") {
		t.Errorf("ParseScript of a broken script = %v, want ErrSyntax at x.up.sql:2:8", err)
	}
}
