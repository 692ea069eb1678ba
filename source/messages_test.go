package source_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/waymarkdb/waymark/source"
)

// TestMessages pins the exact text of problems whose wording matters: each
// says what is wrong in the terms of the file the user wrote.
func TestMessages(t *testing.T) {
	const ok = "SELECT 1;"
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a dash after the version", map[string]string{"v6-bad.up.sql": ok},
			`m/v6-bad.up.sql: invalid migration file name: want v<version>[_<name>].up.sql or .down.sql ("_" between the version and the name, not "-")`},
		{"a dot after the version", map[string]string{"v6.1_x.up.sql": ok},
			`m/v6.1_x.up.sql: invalid migration file name: want v<version>[_<name>].up.sql or .down.sql ("_" between the version and the name, not ".")`},
		{"no digits", map[string]string{"vx_1.up.sql": ok},
			`m/vx_1.up.sql: invalid migration file name: want v<version>[_<name>].up.sql or .down.sql (digits after "v")`},
		{"a transaction left open", map[string]string{"v1.up.sql": "-- waymark:no-transaction\nBEGIN;\nSELECT 1;\n"},
			"m/v1.up.sql:2:1: transaction left open: this transaction is never committed; end it with COMMIT, because waymark records the step after the script's last statement, outside any transaction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := source.FromFS(files("m", tt.files), "m")
			if err == nil || err.Error() != tt.want {
				t.Errorf("FromFS error =\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "migrations")
	_, err := source.FromDir(dir)
	want := dir + ": cannot read: the migration directory: "
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "open .") {
		t.Errorf("FromDir of a missing directory = %v, want it to start %q and not mention \"open .\"", err, want)
	}
	if !errors.Is(err, source.ErrRead) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, ErrRead / fs.ErrNotExist) = %v / %v, want both", err, errors.Is(err, source.ErrRead), errors.Is(err, fs.ErrNotExist))
	}
	_, err = source.FromFS(fstest.MapFS{}, "db/migrations")
	if err == nil || !strings.HasPrefix(err.Error(), "db/migrations: cannot read: the migration directory: ") {
		t.Errorf("FromFS of a missing directory = %v", err)
	}
}

func TestErrorList(t *testing.T) {
	_, err := source.FromFS(fstest.MapFS{
		"m/v3.up.sql":   {Data: []byte("SELECT 1;\nSELECT 'x")},
		"m/V2.up.sql":   {Data: []byte("SELECT 1;")},
		"m/v1.up.sql":   {Data: []byte("-- waymark:nope\n")},
		"m/v4.down.sql": {Data: []byte("SELECT 1;")},
	}, "m")
	var list source.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("FromFS error is a %T, want a source.ErrorList", err)
	}
	want := []string{
		"m/V2.up.sql: invalid migration file name",
		"m/v1.up.sql: up script has no statements",
		"m/v1.up.sql:1:1: invalid directive",
		"m/v3.up.sql:2:8: cannot split script",
		"m/v4.down.sql: down script without an up script",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("error has %d lines, want %d:\n%v", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %q, want it to start %q", i+1, lines[i], want[i])
		}
	}
	var first *source.Error
	if !errors.As(err, &first) || first != list[0] {
		t.Errorf("errors.As(*source.Error) = %v, want the first problem", first)
	}
	for _, sentinel := range []error{source.ErrBadName, source.ErrEmpty, source.ErrDirective, source.ErrSyntax, source.ErrMissingUp} {
		if !errors.Is(err, sentinel) {
			t.Errorf("errors.Is(err, %v) = false", sentinel)
		}
	}
	if errors.Is(err, source.ErrDuplicateVersion) {
		t.Error("errors.Is(err, ErrDuplicateVersion) = true for a list without one")
	}
	if (source.ErrorList{}).Err() != nil {
		t.Error("an empty list's Err() is not nil")
	}
}

func TestPositionString(t *testing.T) {
	for _, tt := range []struct {
		pos  source.Position
		want string
	}{
		{source.Position{Path: "m/v1.up.sql", Line: 4, Column: 26, Offset: 90, Statement: 3}, "m/v1.up.sql:4:26"},
		{source.Position{Path: "m/v1.up.sql"}, "m/v1.up.sql"},
		{source.Position{Line: 2, Column: 1}, "2:1"},
		{source.Position{}, "-"},
	} {
		if got := tt.pos.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.pos, got, tt.want)
		}
		if tt.pos.IsValid() != (tt.pos.Line > 0) {
			t.Errorf("%+v.IsValid() = %v", tt.pos, tt.pos.IsValid())
		}
	}
}

func TestAllowDirectives(t *testing.T) {
	up := "-- waymark:no-transaction\n" +
		"-- waymark:allow create-index-blocking \"the table is empty\"\n" +
		"CREATE INDEX i ON t (x);\n" +
		"-- a comment\n" +
		"  -- waymark:allow rename \"nobody reads it yet\"\n" +
		"ALTER TABLE t RENAME TO u;\n"
	sc, err := source.ParseScript("v1.up.sql", []byte(up), source.Up)
	if err != nil {
		t.Fatal(err)
	}
	want := []source.Allow{
		{Rule: "create-index-blocking", Reason: "the table is empty", Pos: source.Position{Path: "v1.up.sql", Line: 2, Column: 1, Offset: 26, Statement: 1}},
		{Rule: "rename", Reason: "nobody reads it yet", Pos: source.Position{Path: "v1.up.sql", Line: 5, Column: 3, Offset: 126, Statement: 2}},
	}
	if len(sc.Allows) != 2 || sc.Allows[0] != want[0] || sc.Allows[1] != want[1] {
		t.Errorf("Allows = %+v\nwant %+v", sc.Allows, want)
	}
	if len(sc.Directives) != 3 || sc.Directives[2].Name != "allow" || sc.Directives[2].Args != `rename "nobody reads it yet"` {
		t.Errorf("Directives = %+v", sc.Directives)
	}

	for _, bad := range []struct{ sql, want string }{
		{"-- waymark:allow\nSELECT 1;", `v1.up.sql:1:1: invalid directive: waymark:allow: want waymark:allow <rule> "<reason>" (a rule name of a-z 0-9 -)`},
		{"-- waymark:allow Rename \"x\"\nSELECT 1;", `(a rule name of a-z 0-9 -)`},
		{"-- waymark:allow rename because\nSELECT 1;", `(the reason in double quotes)`},
		{"-- waymark:allow rename \"  \"\nSELECT 1;", `(a reason that says why the hazard is acceptable)`},
		{"-- waymark:no-transaction now\nSELECT 1;", `waymark:no-transaction: takes no arguments`},
		{"-- waymark:alow rename \"x\"\nSELECT 1;", `unknown directive "waymark:alow" (known: waymark:no-transaction, waymark:allow, waymark:empty, waymark:batch)`},
		{"-- waymark no-transaction\nSELECT 1;", `unknown directive "waymark no-transaction"`},
	} {
		_, err := source.ParseScript("v1.up.sql", []byte(bad.sql), source.Up)
		if !errors.Is(err, source.ErrDirective) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseScript(%q) = %v, want ErrDirective saying %q", bad.sql, err, bad.want)
		}
	}
}

// TestEmptyDirective: an up script without statements is refused (a file
// forgotten half-written), unless it says it is empty on purpose, with a
// reason; the directive is refused where it cannot mean that.
func TestEmptyDirective(t *testing.T) {
	for _, ok := range []struct{ name, sql string }{
		{"alone", `-- waymark:empty "the down script drops what v2 made"` + "\n"},
		{"after a header, with other comments", "-- Imported from goose.\n--waymark:empty   \"kept for its down script\"\r\n/* nothing */\n;\n"},
		{"with no-transaction", "-- waymark:no-transaction\n-- waymark:empty \"x\"\n"},
	} {
		sc, err := source.ParseScript("v1.up.sql", []byte(ok.sql), source.Up)
		if err != nil {
			t.Errorf("%s: ParseScript = %v", ok.name, err)
			continue
		}
		if len(sc.Statements) != 0 || !slices.ContainsFunc(sc.Directives, func(d source.Directive) bool { return d.Name == "empty" }) {
			t.Errorf("%s: Statements %d, Directives %+v; want none and the empty directive", ok.name, len(sc.Statements), sc.Directives)
		}
	}
	set, err := source.FromFS(files("m", map[string]string{"v1_x.up.sql": "-- waymark:empty \"placeholder\"\n", "v1_x.down.sql": "DROP TABLE IF EXISTS t;\n"}), "m")
	if err != nil || set.Len() != 1 {
		t.Errorf("a set with an empty step on purpose: %v", err)
	}

	for _, bad := range []struct {
		name, sql string
		dir       source.Direction
		sentinel  error
		want      string
	}{
		{"no file at all", "", source.Up, source.ErrEmpty,
			`v1.up.sql: up script has no statements: the file holds only whitespace and comments (if the step is empty on purpose, say so: -- waymark:empty "<reason>")`},
		{"only comments", "-- TODO\n", source.Up, source.ErrEmpty, "up script has no statements"},
		{"no reason", "-- waymark:empty\n", source.Up, source.ErrDirective,
			`v1.up.sql:1:1: invalid directive: waymark:empty: want waymark:empty "<reason>" (the reason in double quotes)`},
		{"a blank reason", "-- waymark:empty \" \"\n", source.Up, source.ErrDirective, `(a reason that says why the step has nothing to do)`},
		{"an unquoted reason", "-- waymark:empty on purpose\n", source.Up, source.ErrDirective, `(the reason in double quotes)`},
		{"in a down script", "-- waymark:empty \"x\"\n", source.Down, source.ErrDirective,
			`v1.up.sql:1:1: invalid directive: waymark:empty is for up scripts: a down script may be empty without it`},
		{"with statements", "-- waymark:empty \"x\"\nSELECT 1;\n", source.Up, source.ErrDirective,
			`v1.up.sql:1:1: invalid directive: waymark:empty, but the script has statements: remove the directive`},
		{"after a statement", "SELECT 1;\n-- waymark:empty \"x\"\n", source.Up, source.ErrDirective, `waymark:empty must come before the first statement`},
		{"misspelt", "-- waymark:empyt \"x\"\n", source.Up, source.ErrDirective, `unknown directive "waymark:empyt"`},
		{"in other case", "-- waymark:Empty \"x\"\n", source.Up, source.ErrDirective, `unknown directive "waymark:Empty"`},
	} {
		_, err := source.ParseScript("v1.up.sql", []byte(bad.sql), bad.dir)
		if !errors.Is(err, bad.sentinel) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: ParseScript(%q) = %v, want %v saying %q", bad.name, bad.sql, err, bad.sentinel, bad.want)
		}
	}
}

func TestDigest(t *testing.T) {
	set, err := source.FromFS(fstest.MapFS{
		"v1_a.up.sql": {Data: []byte("SELECT 1;")},
		"v5_b.up.sql": {Data: []byte("SELECT 5;")},
	}, ".")
	if err != nil {
		t.Fatal(err)
	}
	d0, ok0 := set.Digest(0)
	d1, ok1 := set.Digest(1)
	d5, ok5 := set.Digest(5)
	if _, ok := set.Digest(3); ok || !ok0 || !ok1 || !ok5 || !d0.IsZero() {
		t.Fatal("Digest: wrong versions found")
	}
	m1, _ := set.Lookup(1)
	m5, _ := set.Lookup(5)
	if d1 != source.Chain(source.Digest{}, 1, m1.Up.Checksum) || d5 != source.Chain(d1, 5, m5.Up.Checksum) {
		t.Error("Digest is not the chain of the versions")
	}
	// The chain is SHA-256(prev || version big-endian || checksum); the
	// value below was computed with sha256sum over those 72 bytes.
	if got, want := source.Chain(source.Digest{}, 1, source.ChecksumOf("")).String(), "bc9dacddd805947e27e68d3cf4649fdbb4a7901685282b117b4c10581cc03f2b"; got != want {
		t.Errorf("Chain(zero, 1, sha256(\"\")) = %s, want %s", got, want)
	}
	if p, err := source.ParseDigest(d5.String()); err != nil || p != d5 {
		t.Errorf("ParseDigest(String()) = %v, %v", p, err)
	}
	if _, err := source.ParseDigest("xyz"); err == nil {
		t.Error("ParseDigest(xyz) succeeded")
	}
}
