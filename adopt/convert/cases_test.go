package convert_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/source"
)

// conv converts files (name -> text) laid out in directory "m".
func conv(t *testing.T, tool convert.Tool, files map[string]string, opts *convert.Options) (*convert.Result, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys["m/"+name] = &fstest.MapFile{Data: []byte(text)}
	}
	return convert.Convert(fsys, "m", tool, opts)
}

func mustConv(t *testing.T, tool convert.Tool, files map[string]string, opts *convert.Options) *convert.Result {
	t.Helper()
	res, err := conv(t, tool, files, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// summary describes a migration: "stem up[flags] down[flags]", the flags
// n (no-transaction) and e (empty), "-" for a missing file.
func summary(m convert.Migration) string {
	file := func(f *convert.File) string {
		if f == nil {
			return "-"
		}
		s := strings.TrimPrefix(f.Name, m.Stem+".")
		s = strings.TrimSuffix(s, ".sql")
		if f.NoTransaction {
			s += "/n"
		}
		if f.Empty {
			s += "/e"
		}
		return s
	}
	return m.Stem + " " + file(m.Up) + " " + file(m.Down)
}

func summaries(res *convert.Result) []string {
	var out []string
	for _, m := range res.Migrations {
		out = append(out, summary(m))
	}
	return out
}

func skipped(list []convert.Skipped) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Path+": "+s.Reason)
	}
	return out
}

func TestVersions(t *testing.T) {
	tests := []struct {
		name       string
		tool       convert.Tool
		files      map[string]string
		want       []string
		renumbered bool
		lookup     map[string]int64 // the tool's version -> waymark's
	}{
		{"kept, with their digits", convert.GolangMigrate, map[string]string{
			"000001_init.up.sql": "SELECT 1;", "20240101120000_later.up.sql": "SELECT 2;"},
			[]string{"v000001_init up -", "v20240101120000_later up -"}, false,
			map[string]int64{"1": 1, "20240101120000": 20240101120000}},
		{"version 0 cannot be waymark's", convert.GolangMigrate, map[string]string{
			"0_init.up.sql": "SELECT 1;", "1_next.up.sql": "SELECT 2;"},
			[]string{"v0001_0_init up -", "v0002_1_next up -"}, true,
			map[string]int64{"0": 1, "1": 2}},
		{"too big for int64", convert.GolangMigrate, map[string]string{
			"18446744073709551615_max.up.sql": "SELECT 1;", "5_five.up.sql": "SELECT 2;"},
			[]string{"v0001_5_five up -", "v0002_18446744073709551615_max up -"}, true,
			map[string]int64{"5": 1, "18446744073709551615": 2}},
		{"pop orders as text", convert.Pop, map[string]string{
			"9_nine.up.sql": "SELECT 9;", "10_ten.up.sql": "SELECT 10;", "11_eleven.up.sql": "SELECT 11;"},
			[]string{"v0001_10_ten up -", "v0002_11_eleven up -", "v0003_9_nine up -"}, true,
			map[string]int64{"10": 1, "9": 3}},
		{"pop: the same number written twice", convert.Pop, map[string]string{
			"1_a.up.sql": "SELECT 1;", "01_b.up.sql": "SELECT 2;"},
			[]string{"v0001_01_b up -", "v0002_1_a up -"}, true,
			map[string]int64{"01": 1, "1": 2}},
		{"pop: 20 digits", convert.Pop, map[string]string{
			"20150100000001000000_networks.up.sql": "SELECT 1;", "20150100000002000000_more.up.sql": "SELECT 2;"},
			[]string{"v0001_20150100000001000000_networks up -", "v0002_20150100000002000000_more up -"}, true,
			map[string]int64{"20150100000002000000": 2}},
		{"goose timestamps and small numbers", convert.Goose, map[string]string{
			"00002_b.sql": "-- +goose Up\nSELECT 2;\n", "20230101000000_c.sql": "-- +goose Up\nSELECT 3;\n", "1_a.sql": "-- +goose Up\nSELECT 1;\n"},
			[]string{"v1_a up -", "v00002_b up -", "v20230101000000_c up -"}, false,
			map[string]int64{"2": 2, "20230101000000": 20230101000000}},
		{"names waymark does not take", convert.GolangMigrate, map[string]string{
			"1_add users.table.up.sql": "SELECT 1;", "2_.up.sql": "SELECT 2;", "3_ünïcode.up.sql": "SELECT 3;"},
			[]string{"v1_add_users_table up -", "v2 up -", "v3__n_code up -"}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustConv(t, tt.tool, tt.files, nil)
			if diff := cmp.Diff(tt.want, summaries(res)); diff != "" {
				t.Errorf("migrations (-want +got):\n%s", diff)
			}
			if res.Renumbered != tt.renumbered {
				t.Errorf("Renumbered = %v, want %v", res.Renumbered, tt.renumbered)
			}
			for v, want := range tt.lookup {
				if m, ok := res.Lookup(v); !ok || m.Version != want {
					t.Errorf("Lookup(%q) = %+v, %v; want version %d", v, m, ok, want)
				}
			}
		})
	}
}

func TestTransactionsAndSteps(t *testing.T) {
	tests := []struct {
		name  string
		tool  convert.Tool
		opts  *convert.Options
		files map[string]string
		want  []string
		notes []string
	}{
		{"golang-migrate: one query is one transaction", convert.GolangMigrate, nil, map[string]string{
			"1_a.up.sql": "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n", "1_a.down.sql": "DROP TABLE b;\nDROP TABLE a;\n"},
			[]string{"v1_a up down"}, nil},
		{"golang-migrate with x-multi-statement", convert.GolangMigrate, &convert.Options{MultiStatement: true}, map[string]string{
			"1_a.up.sql": "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n", "1_a.down.sql": "DROP TABLE a;\n"},
			[]string{"v1_a up/n down"}, []string{"up: no-transaction: golang-migrate ran its statements one by one (x-multi-statement)"}},
		{"golang-migrate: BEGIN and COMMIT of its own", convert.GolangMigrate, nil, map[string]string{
			"1_a.up.sql": "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n"},
			[]string{"v1_a up/n -"}, []string{"irreversible: golang-migrate has no down file for it (and went down through it doing nothing)",
				"up: no-transaction: it wraps its SQL in BEGIN; ... COMMIT;"}},
		{"golang-migrate: BEGIN and COMMIT, unwrapped", convert.GolangMigrate, &convert.Options{Unwrap: true}, map[string]string{
			"1_a.up.sql": "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n"},
			[]string{"v1_a up -"}, []string{"irreversible: golang-migrate has no down file for it (and went down through it doing nothing)",
				"v1_a.up.sql: unwrapped: its BEGIN and COMMIT are comments, and it runs in waymark's transaction"}},
		{"golang-migrate: two transactions are not a wrapper", convert.GolangMigrate, &convert.Options{Unwrap: true}, map[string]string{
			"1_a.up.sql": "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n"},
			[]string{"v1_a up/n -"}, []string{"irreversible: golang-migrate has no down file for it (and went down through it doing nothing)",
				"up: no-transaction: it has transaction control of its own (BEGIN, COMMIT)"}},
		{"golang-migrate: only a down file", convert.GolangMigrate, nil, map[string]string{
			"1_a.up.sql": "SELECT 1;", "2_gone.down.sql": "DROP TABLE IF EXISTS gone;\n"},
			[]string{"v1_a up -", "v2_gone up/e down"}, []string{
				"irreversible: golang-migrate has no down file for it (and went down through it doing nothing)",
				"golang-migrate has no up file for it: an empty up step"}},
		{"golang-migrate: the down file named otherwise", convert.GolangMigrate, nil, map[string]string{
			"1_a.up.sql": "SELECT 1;", "1_b.down.sql": "SELECT 2;"},
			[]string{"v1_a up down"}, []string{`the down file is named "b": named after the up file`}},
		{"goose: no Down section, and an empty Down section", convert.Goose, nil, map[string]string{
			"1_a.sql": "-- +goose Up\nCREATE TABLE a (id int);\n", "2_b.sql": "-- +goose Up\nCREATE TABLE b (id int);\n-- +goose Down\n"},
			[]string{"v1_a up -", "v2_b up down"}, []string{"irreversible: no -- +goose Down section (goose went down through it doing nothing); add an empty down file if that is what you want"}},
		{"goose: annotations in any case", convert.Goose, nil, map[string]string{
			"1_a.sql": "-- +goose no transaction\n--+goose up\nCREATE INDEX CONCURRENTLY i ON t (x);\n-- +goose DOWN\nDROP INDEX CONCURRENTLY i;\n"},
			[]string{"v1_a up/n down/n"}, []string{"no-transaction: -- +goose NO TRANSACTION"}},
		{"goose: a statement block with a lone semicolon line inside", convert.Goose, nil, map[string]string{
			"1_a.sql": "-- +goose Up\n-- +goose StatementBegin\nDO $$ BEGIN\n;\nEND $$;\n-- +goose StatementEnd\n-- +goose Down\nSELECT 1;\n"},
			[]string{"v1_a up down"}, nil},
		{"tern: down SQL of only whitespace is irreversible", convert.Tern, nil, map[string]string{
			"1_a.sql": "CREATE TABLE a (id int);\n---- create above / drop below ----\n\n  \n", "2_b.sql": "CREATE TABLE b (id int);\n"},
			[]string{"v1_a up -", "v2_b up -"}, []string{"irreversible: no down SQL (tern refuses to go down through it too)",
				"irreversible: no down SQL (tern refuses to go down through it too)"}},
		{"tern: disable-tx in the up SQL only", convert.Tern, nil, map[string]string{
			"1_a.sql": "---- tern: disable-tx ----\nCREATE INDEX CONCURRENTLY i ON t (x);\n---- create above / drop below ----\nDROP INDEX i;\n"},
			[]string{"v1_a up/n down"}, []string{"up: no-transaction: ---- tern: disable-tx ----"}},
		{"tern: a block comment is SQL to tern, and empty to waymark", convert.Tern, nil, map[string]string{
			"1_a.sql": "/* nothing yet */\n"},
			[]string{"v1_a up/e -"}, []string{"irreversible: no down SQL (tern refuses to go down through it too)"}},
		{"pop: autocommit, generic and for postgres", convert.Pop, nil, map[string]string{
			"1_a.autocommit.up.sql": "CREATE INDEX CONCURRENTLY i ON t (x);", "1_a.autocommit.down.sql": "DROP INDEX CONCURRENTLY i;",
			"2_b.postgresql.autocommit.up.sql": "SELECT 2;", "2_b.pg.down.sql": "SELECT 2;", "2_b.up.sql": "SELECT 'generic';"},
			[]string{"v1_a up/n down/n", "v2_b up/n down"}, []string{"no-transaction: .autocommit. file", "up: no-transaction: .autocommit. file"}},
		{"pop: an empty file for postgres, the generic one is not empty", convert.Pop, nil, map[string]string{
			"1_a.postgres.up.sql": "", "1_a.up.sql": "CREATE TABLE a (id int);", "1_a.down.sql": ""},
			[]string{"v1_a up/e down"}, nil},
		{"pop: no down file", convert.Pop, nil, map[string]string{"1_a.up.sql": "SELECT 1;"},
			[]string{"v1_a up -"}, []string{"irreversible: pop has no down file for it on PostgreSQL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustConv(t, tt.tool, tt.files, tt.opts)
			if diff := cmp.Diff(tt.want, summaries(res)); diff != "" {
				t.Errorf("migrations (-want +got):\n%s", diff)
			}
			var notes []string
			for _, m := range res.Migrations {
				for _, n := range m.Notes {
					if !strings.HasPrefix(n, "an empty up step") {
						notes = append(notes, n)
					}
				}
			}
			if diff := cmp.Diff(tt.notes, notes); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotConverted(t *testing.T) {
	tests := []struct {
		name        string
		tool        convert.Tool
		files       map[string]string
		want        []string
		unconverted []string
		ignored     []string
	}{
		{"goose: a Go migration keeps its number", convert.Goose, map[string]string{
			"1_a.sql": "-- +goose Up\nSELECT 1;\n", "2_backfill.go": "package m", "3_c.sql": "-- +goose Up\nSELECT 3;\n",
			"2_backfill_test.go": "package m", "util.go": "package m", "notes.txt": "x"},
			[]string{"v1_a up -", "v2_backfill - -", "v3_c up -"},
			[]string{"m/2_backfill.go: a Go migration: waymark runs SQL files only"},
			[]string{"m/2_backfill_test.go: a Go test file", "m/notes.txt: not a migration file", "m/util.go: a Go file without a version, not a migration"}},
		{"goose: environment substitution", convert.Goose, map[string]string{
			"1_a.sql": "-- +goose ENVSUB ON\n-- +goose Up\nCREATE ROLE ${APP_ROLE};\n"},
			[]string{"v1_a - -"},
			[]string{"m/1_a.sql: -- +goose ENVSUB ON: its SQL depends on the environment it ran in"}, nil},
		{"goose: names goose skips", convert.Goose, map[string]string{
			"1_a.sql": "-- +goose Up\nSELECT 1;\n", "2b.sql": "x", "0_zero.sql": "x", "3_c.SQL": "x", "sub/4_d.sql": "x"},
			[]string{"v1_a up -"},
			[]string{"m/0_zero.sql: goose skips it: not named NNN_name.sql with a version of 1 or more",
				"m/2b.sql: goose skips it: not named NNN_name.sql with a version of 1 or more",
				"m/3_c.SQL: goose skips it: its name does not end in lower-case .sql"},
			[]string{"m/sub: a sub-directory: goose does not read sub-directories"}},
		{"golang-migrate: a typo", convert.GolangMigrate, map[string]string{
			"1_a.up.sql": "SELECT 1;", "2_b.sql": "SELECT 2;", "3_c.UP.sql": "x"},
			[]string{"v1_a up -"},
			[]string{"m/2_b.sql: golang-migrate skips it: not named NNN_name.up.sql or NNN_name.down.sql",
				"m/3_c.UP.sql: golang-migrate skips it: not named NNN_name.up.sql or NNN_name.down.sql"}, nil},
		{"tern: a template and shared templates", convert.Tern, map[string]string{
			"1_a.sql": "CREATE TABLE a (id int);", "2_b.sql": "CREATE TABLE b ({{ template \"shared/cols.sql\" }});",
			"shared/cols.sql": "id int", "readme.sql": "x"},
			[]string{"v1_a up -", "v2_b - -"},
			[]string{"m/2_b.sql: a template: tern renders every migration with text/template; render it and write the SQL by hand",
				"m/readme.sql: tern skips it: not named NNN_name.sql"},
			[]string{"m/shared: a sub-directory: tern reads its .sql files as templates for {{ template }}, never as migrations"}},
		{"pop: fizz, a template, other dialects, a bad dialect", convert.Pop, map[string]string{
			"1_a.up.fizz": `create_table("a") {}`, "1_a.down.fizz": `drop_table("a")`,
			"2_b.up.sql":          "SELECT '{{ .Database }}';",
			"3_c.postgres.up.sql": "SELECT 3;", "3_c.up.fizz": `create_table("c") {}`, "3_c.mysql.up.sql": "SELECT 3;",
			"4_d.oracle.up.sql": "SELECT 4;", "5_e.mysql.up.sql": "SELECT 5;", "5_e.down.sql": "SELECT 5;",
			"nested/dir/6_f.up.sql": "SELECT 6;", "schema.sql": "-- dump", "nested/schema.sql": "x"},
			[]string{"v1_a - -", "v2_b - -", "v3_c up -", "v6_f up -"},
			[]string{"m/1_a.down.fizz: fizz: pop translates it to SQL as it runs; write the SQL by hand",
				"m/1_a.up.fizz: fizz: pop translates it to SQL as it runs; write the SQL by hand",
				"m/2_b.up.sql: a template: pop renders every migration with text/template; render it and write the SQL by hand",
				"m/4_d.oracle.up.sql: pop skips it: unknown dialect oracle",
				"m/nested/schema.sql: pop skips it: not named VERSION_name[.dialect][.autocommit].up.sql or .down.sql"},
			[]string{"m/3_c.mysql.up.sql: for mysql, not PostgreSQL", "m/3_c.up.fizz: the generic file of a version that has one for PostgreSQL",
				"m/5_e.down.sql: a down file without an up file for PostgreSQL: pop never applies the version there",
				"m/5_e.mysql.up.sql: for mysql, not PostgreSQL", "m/schema.sql: pop's dump of the schema, not a migration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustConv(t, tt.tool, tt.files, nil)
			if diff := cmp.Diff(tt.want, summaries(res)); diff != "" {
				t.Errorf("migrations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.unconverted, skipped(res.Unconverted)); diff != "" {
				t.Errorf("unconverted (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ignored, skipped(res.Ignored)); diff != "" {
				t.Errorf("ignored (-want +got):\n%s", diff)
			}
		})
	}

	// A migration that is not converted keeps its number, and the report
	// says which file to write.
	res := mustConv(t, convert.Goose, map[string]string{"1_a.sql": "-- +goose Up\nSELECT 1;\n", "2_backfill.go": "package m"}, nil)
	if res.Unconverted[0].Version != 2 {
		t.Errorf("Unconverted[0].Version = %d, want 2", res.Unconverted[0].Version)
	}
	for _, want := range []string{"goose: 1 of 2 migrations converted, from 1 file\n",
		"  v2_backfill: not converted: a Go migration: waymark runs SQL files only; write v2_backfill.up.sql by hand\n",
		"not converted (1 file):\n  m/2_backfill.go: a Go migration: waymark runs SQL files only\n"} {
		if !strings.Contains(res.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, res)
		}
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name     string
		tool     convert.Tool
		files    map[string]string
		sentinel error
		want     string // the whole message
	}{
		{"golang-migrate: two up files", convert.GolangMigrate, map[string]string{"1_a.up.sql": "SELECT 1;", "01_b.up.sql": "SELECT 1;"},
			convert.ErrLayout, "m/1_a.up.sql: invalid migration: golang-migrate refuses it: version 1 has another up file, m/01_b.up.sql"},
		{"golang-migrate: too big", convert.GolangMigrate, map[string]string{"99999999999999999999_a.up.sql": "SELECT 1;"},
			convert.ErrLayout, "m/99999999999999999999_a.up.sql: invalid migration: golang-migrate refuses it: version 99999999999999999999 does not fit a 64-bit unsigned integer"},
		{"goose: two files of a version", convert.Goose, map[string]string{"1_a.sql": "-- +goose Up\nSELECT 1;\n", "01_b.sql": "-- +goose Up\nSELECT 1;\n"},
			convert.ErrLayout, "m/1_a.sql: invalid migration: goose refuses it: version 1 is also m/01_b.sql"},
		{"goose: no Up", convert.Goose, map[string]string{"1_a.sql": "-- nothing\n"},
			convert.ErrLayout, "m/1_a.sql:1:1: invalid migration: goose refuses it: no -- +goose Up annotation"},
		{"goose: SQL before Up", convert.Goose, map[string]string{"1_a.sql": "-- header\nSELECT 1;\n-- +goose Up\n"},
			convert.ErrLayout, "m/1_a.sql:2:1: invalid migration: goose refuses it: SQL before -- +goose Up"},
		{"goose: unknown annotation", convert.Goose, map[string]string{"1_a.sql": "-- +goose Up\n-- +goose Upp\n"},
			convert.ErrLayout, `m/1_a.sql:2:1: invalid migration: goose refuses it: unknown annotation "Upp"`},
		{"goose: indented annotation", convert.Goose, map[string]string{"1_a.sql": "-- +goose Up\n  -- +goose Down\n"},
			convert.ErrLayout, `m/1_a.sql:2:1: invalid migration: goose refuses it: an annotation indented`},
		{"goose: Down twice", convert.Goose, map[string]string{"1_a.sql": "-- +goose Up\n-- +goose Down\n-- +goose Down\n"},
			convert.ErrLayout, "m/1_a.sql:3:1: invalid migration: goose refuses it: -- +goose Down before -- +goose Up, twice, or inside a statement block"},
		{"goose: an open statement block", convert.Goose, map[string]string{"1_a.sql": "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n"},
			convert.ErrLayout, "m/1_a.sql:4:1: invalid migration: goose refuses it: -- +goose StatementBegin without StatementEnd"},
		{"goose: StatementEnd alone", convert.Goose, map[string]string{"1_a.sql": "-- +goose Up\n-- +goose StatementEnd\n"},
			convert.ErrLayout, "m/1_a.sql:2:1: invalid migration: goose refuses it: -- +goose StatementEnd without StatementBegin"},
		{"tern: a gap", convert.Tern, map[string]string{"1_a.sql": "SELECT 1;", "3_c.sql": "SELECT 3;"},
			convert.ErrLayout, "m: invalid migration: tern refuses it: migration 2 is missing (tern numbers its migrations 1, 2, 3... without gaps)"},
		{"tern: twice", convert.Tern, map[string]string{"1_a.sql": "SELECT 1;", "01_b.sql": "SELECT 1;"},
			convert.ErrLayout, "m/1_a.sql: invalid migration: tern refuses it: migration 1 is also m/01_b.sql"},
		{"tern: zero", convert.Tern, map[string]string{"0_a.sql": "SELECT 1;"},
			convert.ErrLayout, "m/0_a.sql: invalid migration: tern refuses it: version 0 is not a number from 1 to 2147483647"},
		{"tern: comments only", convert.Tern, map[string]string{"1_a.sql": "-- later\n---- create above / drop below ----\nSELECT 1;"},
			convert.ErrLayout, "m/1_a.sql: invalid migration: tern refuses it: its up SQL has only comments"},
		{"pop: two files for postgres", convert.Pop, map[string]string{"1_a.postgres.up.sql": "SELECT 1;", "1_b.pg.up.sql": "SELECT 1;"},
			convert.ErrLayout, "m/1_b.pg.up.sql: invalid migration: pop refuses it: version 1 has another up file for postgres, m/1_a.postgres.up.sql"},
		{"pop: fizz for a dialect", convert.Pop, map[string]string{"1_a.postgres.up.fizz": "x", "2_b.up.sql": "SELECT 1;"},
			convert.ErrLayout, "m/1_a.postgres.up.fizz: invalid migration: pop refuses it: a fizz migration is for every dialect, in a transaction"},
		{"an empty directory", convert.Goose, map[string]string{"README": "x"},
			source.ErrNoMigrations, "m: no migration files: none named as goose names them"},
		{"a missing directory", convert.Tern, nil,
			source.ErrRead, "m: cannot read: file does not exist"},
		{"an unterminated string, at its line in the file", convert.GolangMigrate, map[string]string{"1_a.up.sql": "SELECT 1;\nSELECT 'x;\n"},
			convert.ErrInvalid, "m/1_a.up.sql:2:8: not a valid waymark script once converted: v1_a.up.sql:2:8: cannot split script: unterminated quoted string"},
		{"in goose's down section, behind a directive line", convert.Goose, map[string]string{
			"1_a.sql": "-- +goose NO TRANSACTION\n-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\nSELECT $$x;\n"},
			convert.ErrInvalid, "m/1_a.sql:6:8: not a valid waymark script once converted: v1_a.down.sql:4:8: cannot split script: unterminated dollar-quoted string"},
		{"a transaction left open", convert.GolangMigrate, map[string]string{"1_a.up.sql": "BEGIN;\nCREATE TABLE a (id int);\n"},
			convert.ErrInvalid, "m/1_a.up.sql:1:1: not a valid waymark script once converted: v1_a.up.sql:2:1: transaction left open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := conv(t, tt.tool, tt.files, nil)
			var list source.ErrorList
			if !errors.Is(err, tt.sentinel) || !errors.As(err, &list) || res != nil {
				t.Fatalf("Convert = %v, %v; want a source.ErrorList with %v", res, err, tt.sentinel)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error\n%v\nwant it to start\n%s", err, tt.want)
			}
		})
	}
	// Every problem at once.
	_, err := conv(t, convert.Goose, map[string]string{"1_a.sql": "SELECT 1;\n", "2_b.sql": "-- +goose Up\nSELECT 'x;\n"}, nil)
	if n := strings.Count(err.Error(), "\n") + 1; n != 2 {
		t.Errorf("want 2 problems, got %d:\n%v", n, err)
	}
	if !errors.Is(err, source.ErrSyntax) {
		t.Errorf("errors.Is(%v, source.ErrSyntax) = false: the cause is the source package's problem", err)
	}
}

func TestWrite(t *testing.T) {
	res := mustConv(t, convert.Pop, map[string]string{"1_a.up.sql": "SELECT 1;", "1_a.down.sql": "", "2_b.up.sql": "-- later\n"}, nil)
	dir := filepath.Join(t.TempDir(), "migrations")
	if err := res.Write(dir); err != nil {
		t.Fatal(err)
	}
	set, err := source.FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := set.Lookup(2); set.Len() != 2 || m.Up.SQL != res.Migrations[1].Up.SQL {
		t.Errorf("the written set has %d versions; v2 is %+v", set.Len(), m)
	}
	err = res.Write(dir)
	if !errors.Is(err, convert.ErrExists) || !strings.Contains(err.Error(), "it already holds v1_a.down.sql: write the converted set into a directory of its own") {
		t.Errorf("Write into a directory with the files = %v, want ErrExists", err)
	}
	// A directory holding other files (not .sql) is fine.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "README.md"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := res.Write(other); err != nil {
		t.Errorf("Write beside a README = %v", err)
	}
}

// TestUnwrap: a script wrapped in BEGIN; ... COMMIT; becomes, with
// Options.Unwrap, a transactional script whose every line keeps its
// number; the report says how many were wrapped and what to do.
func TestUnwrap(t *testing.T) {
	files := map[string]string{
		"1_a.up.sql":   "-- the tool's comment\nbegin transaction;\nCREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nEND;\n",
		"1_a.down.sql": "BEGIN; DROP TABLE a; COMMIT;\n",
	}
	res := mustConv(t, convert.GolangMigrate, files, nil)
	if !res.Migrations[0].Up.Wrapped || res.Migrations[0].Up.Unwrapped || !res.Migrations[0].Up.NoTransaction {
		t.Errorf("without Unwrap: up %+v", res.Migrations[0].Up)
	}
	if report := res.String(); !strings.Contains(report, "2 scripts wrap their SQL in BEGIN; ... COMMIT; and run as no-transaction steps, which a failure part-way leaves dirty: Options.Unwrap makes them ordinary transactional steps") {
		t.Errorf("report without Unwrap:\n%s", report)
	}
	res = mustConv(t, convert.GolangMigrate, files, &convert.Options{Unwrap: true})
	up, down := res.Migrations[0].Up, res.Migrations[0].Down
	want := "-- the tool's comment\n/* begin transaction; (unwrapped: waymark runs the step in its transaction) */\nCREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n/* END; (unwrapped: waymark runs the step in its transaction) */\n"
	if diff := cmp.Diff(want, up.SQL); diff != "" || up.NoTransaction || !up.Unwrapped {
		t.Errorf("unwrapped up (-want +got):\n%s\n%+v", diff, up)
	}
	want = "/* BEGIN; (unwrapped: waymark runs the step in its transaction) */ DROP TABLE a; /* COMMIT; (unwrapped: waymark runs the step in its transaction) */\n"
	if diff := cmp.Diff(want, down.SQL); diff != "" || down.NoTransaction {
		t.Errorf("unwrapped down (-want +got):\n%s", diff)
	}
	if report := res.String(); !strings.Contains(report, "2 scripts wrapped in BEGIN; ... COMMIT; unwrapped: they run in waymark's transaction") {
		t.Errorf("report with Unwrap:\n%s", report)
	}
}

// TestHistoryTableWarnings: a script that uses the tool's own history
// table converts, with a warning naming the file and line.
func TestHistoryTableWarnings(t *testing.T) {
	res := mustConv(t, convert.GolangMigrate, map[string]string{
		"1_a.up.sql": "CREATE TABLE a (id int);\n-- schema_migrations in a comment is fine\n  ALTER TABLE IF EXISTS schema_migrations ADD COLUMN data_version int;\n/* and schema_migrations here */ SELECT 'schema_migrations';\n",
		"2_b.up.sql": "CREATE TABLE my_schema_migrations (id int);\nUPDATE \"schema_migrations\" SET dirty = false;\n",
	}, nil)
	var got []string
	for _, w := range res.Warnings {
		got = append(got, fmt.Sprintf("%d %s", w.Version, w.Pos))
	}
	if diff := cmp.Diff([]string{"1 m/1_a.up.sql:3:25", "2 m/2_b.up.sql:2:8"}, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	report := res.String()
	if !strings.Contains(report, "warnings (2):\n  m/1_a.up.sql:3:25: it uses golang-migrate's own history table schema_migrations, which waymark does not create: on a new database the statement fails; delete it from the converted file") {
		t.Errorf("report:\n%s", report)
	}
}

// TestManyIrreversibleOnOneLine: the versions that share a note share a
// line of the report.
func TestManyIrreversibleOnOneLine(t *testing.T) {
	files := map[string]string{}
	for v := 1; v <= 39; v++ {
		files[fmt.Sprintf("%d_t%d.up.sql", v, v)] = "SELECT 1;\n"
	}
	report := mustConv(t, convert.GolangMigrate, files, nil).String()
	if n := strings.Count(report, "irreversible: golang-migrate has no down file"); n != 1 {
		t.Errorf("the irreversible note is written %d times, want once:\n%s", n, report)
	}
	if !strings.Contains(report, "  39 versions (1-39): irreversible: golang-migrate has no down file for it") {
		t.Errorf("report:\n%s", report)
	}
}
