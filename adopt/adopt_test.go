package adopt_test

// These tests build each tool's history table with the tool's own DDL and
// rows as the tool writes them; internal/adopttest has the tools write
// them themselves.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/adopt"
	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The tools' history tables, as each creates them.
const (
	migrateTable = `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)`
	gooseTable   = `CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NULL DEFAULT now(), PRIMARY KEY (id));
INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true)`
	ternTable = `CREATE TABLE schema_version (version int4 NOT NULL); INSERT INTO schema_version (version) VALUES (0)`
	popTable  = `CREATE TABLE schema_migration (version varchar(14) NOT NULL PRIMARY KEY)`
	popxTable = `CREATE TABLE schema_migration (version VARCHAR (48) NOT NULL, version_self INT NOT NULL DEFAULT 0)`
)

// converted converts testdata set dir of package convert and writes it;
// it returns the conversion and the written set.
func converted(t *testing.T, dir string, tool convert.Tool) (*convert.Result, *source.Set) {
	t.Helper()
	conv, err := convert.ConvertDir(filepath.Join("convert", "testdata", dir), tool, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "migrations")
	if err := conv.Write(out); err != nil {
		t.Fatal(err)
	}
	set, err := source.FromDir(out)
	if err != nil {
		t.Fatal(err)
	}
	return conv, set
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// recorded returns waymark's history: the versions recorded.
func recorded(t *testing.T, pool *pgxpool.Pool) []int64 {
	t.Helper()
	records, err := pgxbackend.New(pool, nil).ReadState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var vs []int64
	for _, r := range records {
		vs = append(vs, r.Version)
	}
	return vs
}

func TestImport(t *testing.T) {
	tests := []struct {
		name       string
		set        string
		tool       convert.Tool
		setup      string
		want       []int64
		mapped     []adopt.Mapping
		notApplied []int64
	}{
		{"golang-migrate at version 4", "golang-migrate", convert.GolangMigrate,
			migrateTable + "; INSERT INTO schema_migrations VALUES (4, false)",
			[]int64{1, 2, 3, 4}, []adopt.Mapping{{"1", 1}, {"2", 2}, {"3", 3}, {"4", 4}}, nil},
		{"golang-migrate, nothing applied", "golang-migrate", convert.GolangMigrate, migrateTable, nil, nil, nil},
		{"goose: rolled back by an old goose, and a gap", "goose", convert.Goose,
			gooseTable + `; INSERT INTO goose_db_version (version_id, is_applied) VALUES
				(1, true), (2, true), (3, true), (3, false), (4, true), (20240311093000, true), (2, false), (2, true)`,
			[]int64{1, 2, 4, 20240311093000}, []adopt.Mapping{{"1", 1}, {"2", 2}, {"4", 4}, {"20240311093000", 20240311093000}}, []int64{3, 5}},
		{"tern at 3", "tern", convert.Tern,
			ternTable + "; UPDATE schema_version SET version = 3",
			[]int64{1, 2, 3}, []adopt.Mapping{{"1", 1}, {"2", 2}, {"3", 3}}, nil},
		{"tern, nothing applied", "tern", convert.Tern, ternTable, nil, nil, nil},
		{"pop", "pop", convert.Pop,
			popTable + "; INSERT INTO schema_migration VALUES ('20230101120000'), ('20230102120000'), ('20230104120000')",
			[]int64{20230101120000, 20230102120000, 20230104120000},
			[]adopt.Mapping{{"20230101120000", 20230101120000}, {"20230102120000", 20230102120000}, {"20230104120000", 20230104120000}},
			[]int64{20230103120000}},
		{"popx, versions cut to 14 digits by an older pop", "pop-ory", convert.Pop,
			popxTable + `; INSERT INTO schema_migration (version) VALUES ('20150100000001'), ('20191100000001'), ('20191100000001000001')`,
			[]int64{1, 2, 3, 4},
			[]adopt.Mapping{{"20150100000001000000", 1}, {"20191100000001000000", 2}, {"20191100000001000001", 3}, {"20191100000001000002", 4}}, nil},
		{"popx, 20-digit versions renumbered", "pop-ory", convert.Pop,
			popxTable + `; INSERT INTO schema_migration (version) VALUES ('20191100000001000000'), ('20150100000001000000'),
				('20191100000001000001'), ('20191100000001000002'), ('20200317160354000004')`,
			[]int64{1, 2, 3, 4, 5},
			[]adopt.Mapping{{"20150100000001000000", 1}, {"20191100000001000000", 2}, {"20191100000001000001", 3}, {"20191100000001000002", 4}, {"20200317160354000004", 5}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			pool := pgtest.Pool(t)
			exec(t, pool, tt.setup)
			conv, set := converted(t, tt.set, tt.tool)
			db := pgxbackend.New(pool, nil)

			dry, err := adopt.Import(ctx, pool, db, set, conv, &adopt.Options{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := recorded(t, pool); len(got) != 0 {
				t.Fatalf("a dry run recorded %v", got)
			}
			res, err := adopt.Import(ctx, pool, db, set, conv, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, recorded(t, pool)); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.mapped, res.Versions); diff != "" {
				t.Errorf("Versions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.notApplied, res.NotApplied); diff != "" {
				t.Errorf("NotApplied (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(dry.Records, res.Records, cmpopts.EquateEmpty()); diff != "" || !dry.DryRun || res.DryRun {
				t.Errorf("the dry run's records differ (-dry +real):\n%s", diff)
			}
			for _, r := range res.Records {
				if m, _ := set.Lookup(r.Version); r.Checksum != m.Up.Checksum || r.Name != m.Name {
					t.Errorf("record %+v: want the file's checksum and name", r)
				}
			}
			// The other tool's table is untouched.
			var n int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+res.History.Table).Scan(&n); err != nil || n == 0 && tt.want != nil {
				t.Errorf("the tool's table: %d rows, %v", n, err)
			}
			// waymark goes on from there: the plan has the rest.
			p, err := plan.Build(ctx, db, set, plan.Latest(), &plan.Options{AllowOutOfOrder: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Steps) != set.Len()-len(tt.want) {
				t.Errorf("plan after the import:\n%v", p)
			}
		})
	}
}

func TestImportRefuses(t *testing.T) {
	tests := []struct {
		name     string
		set      string
		tool     convert.Tool
		setup    string
		opts     *adopt.Options
		sentinel error
		want     string
	}{
		{"golang-migrate dirty", "golang-migrate", convert.GolangMigrate,
			migrateTable + "; INSERT INTO schema_migrations VALUES (3, true)", nil, adopt.ErrDirty,
			`adopt: golang-migrate "schema_migrations": dirty state: version 3: a migration failed part-way: repair the database and clear the flag with golang-migrate (migrate force), then import`},
		{"golang-migrate's first migration failed", "golang-migrate", convert.GolangMigrate,
			migrateTable + "; INSERT INTO schema_migrations VALUES (-1, true)", nil, adopt.ErrDirty, "dirty state: version -1"},
		{"golang-migrate at a version the files lack", "golang-migrate", convert.GolangMigrate,
			migrateTable + "; INSERT INTO schema_migrations VALUES (9, false)", nil, adopt.ErrMismatch,
			`adopt: golang-migrate "schema_migrations": history does not match the files: version 9: the tool applied them, but its files do not have them: convert the directory the tool migrated from`},
		{"goose applied versions the files lack", "goose", convert.Goose,
			gooseTable + "; INSERT INTO goose_db_version (version_id, is_applied) VALUES (1, true), (6, true), (7, true)", nil, adopt.ErrMismatch,
			"history does not match the files: versions 6, 7:"},
		{"tern beyond its files", "tern", convert.Tern,
			ternTable + "; UPDATE schema_version SET version = 6", nil, adopt.ErrMismatch, "version 6"},
		{"tern with two rows", "tern", convert.Tern,
			ternTable + "; INSERT INTO schema_version VALUES (1)", nil, adopt.ErrMismatch, "it has 2 rows; tern keeps one"},
		{"popx: 14 digits that start no version", "pop-ory", convert.Pop,
			popxTable + "; INSERT INTO schema_migration (version) VALUES ('20150100000001'), ('20150100000002')", nil, adopt.ErrMismatch, "version 20150100000002:"},
		{"pop: a version of another set", "pop", convert.Pop,
			popTable + "; INSERT INTO schema_migration VALUES ('20230101120000'), ('20990101000000')", nil, adopt.ErrMismatch, "version 20990101000000"},
		{"no such table", "pop", convert.Pop, "", nil, adopt.ErrNoTable,
			`adopt: pop "schema_migration": no history table: it does not exist: name the table the tool used (Options.Table and Schema)`},
		{"a table in another schema", "pop", convert.Pop,
			"CREATE SCHEMA auth; " + strings.Replace(popTable, "schema_migration", "auth.schema_migration", 1),
			&adopt.Options{Schema: "auth", Table: "migrations"}, adopt.ErrNoTable, `adopt: pop "auth"."migrations": no history table`},
		{"not the tool's table", "goose", convert.Goose, migrateTable, &adopt.Options{Table: "schema_migrations"}, adopt.ErrReadHistory,
			`adopt: goose "schema_migrations": cannot read the history table: ERROR: column "version_id" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			pool := pgtest.Pool(t)
			if tt.setup != "" {
				exec(t, pool, tt.setup)
			}
			conv, set := converted(t, tt.set, tt.tool)
			for _, dry := range []bool{true, false} {
				opts := &adopt.Options{DryRun: dry}
				if tt.opts != nil {
					opts.Schema, opts.Table = tt.opts.Schema, tt.opts.Table
				}
				res, err := adopt.Import(ctx, pool, pgxbackend.New(pool, nil), set, conv, opts)
				var ae *adopt.Error
				if !errors.Is(err, tt.sentinel) || !errors.As(err, &ae) || !strings.Contains(err.Error(), tt.want) || res != nil {
					t.Errorf("Import (dry run %v) = %v, %v; want %v saying %q", dry, res, err, tt.sentinel, tt.want)
				}
			}
			if got := recorded(t, pool); got != nil {
				t.Errorf("a refused import recorded %v", got)
			}
		})
	}
}

// TestImportNeedsTheConvertedSet: the waymark set must be the conversion's
// (perhaps completed by hand), and waymark's history must be empty.
func TestImportNeedsTheConvertedSet(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	exec(t, pool, gooseTable+"; INSERT INTO goose_db_version (version_id, is_applied, tstamp) VALUES (1, true, now()), (2, true, now()), (3, true, '2020-02-03 04:05:06.789')")
	db := pgxbackend.New(pool, nil)

	// A Go migration that goose applied: refused until written by hand.
	files := fstest.MapFS{
		"m/1_a.sql":       {Data: []byte("-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n")},
		"m/2_backfill.go": {Data: []byte("package m")},
		"m/3_c.sql":       {Data: []byte("-- +goose Up\nCREATE TABLE c (id int);\n-- +goose Down\nDROP TABLE c;\n")},
		"m/4_pending.sql": {Data: []byte("-- +goose Up\nCREATE TABLE d (id int);\n")},
	}
	conv, err := convert.Convert(files, "m", convert.Goose, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := conv.Write(dir); err != nil {
		t.Fatal(err)
	}
	set, err := source.FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = adopt.Import(ctx, pool, db, set, conv, nil)
	if !errors.Is(err, adopt.ErrUnconverted) || !strings.Contains(err.Error(), "applied version not converted: version 2: the tool applied them, but their files could not be converted") {
		t.Fatalf("Import with an applied Go migration = %v, want ErrUnconverted", err)
	}
	// Written by hand, under the name the report gives.
	if err := os.WriteFile(filepath.Join(dir, "v2_backfill.up.sql"), []byte("UPDATE a SET id = id;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err = source.FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}

	// Another set altogether.
	other, err := source.FromFS(fstest.MapFS{"o/v1_x.up.sql": {Data: []byte("SELECT 1;")}, "o/v2_backfill.up.sql": {Data: []byte("SELECT 1;")}}, "o")
	if err != nil {
		t.Fatal(err)
	}
	_, err = adopt.Import(ctx, pool, db, other, conv, nil)
	if !errors.Is(err, adopt.ErrMismatch) || !strings.Contains(err.Error(), "versions 1 (v1_a), 3 (v3_c): the waymark set lacks them") {
		t.Errorf("Import into another set = %v, want ErrMismatch naming 1 and 3", err)
	}

	// waymark's history must be empty.
	if _, err := execute.Migrate(ctx, pgxbackend.New(pool, &pgxbackend.Options{Table: "elsewhere"}), set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	_, err = adopt.Import(ctx, pool, pgxbackend.New(pool, &pgxbackend.Options{Table: "elsewhere"}), set, conv, nil)
	if !errors.Is(err, execute.ErrHistoryNotEmpty) {
		t.Errorf("Import into a waymark history with records = %v, want execute.ErrHistoryNotEmpty", err)
	}

	res, err := adopt.Import(ctx, pool, db, set, conv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2, 3}, recorded(t, pool)); diff != "" || len(res.NotApplied) != 0 {
		t.Errorf("history (-want +got):\n%s\nNotApplied %v", diff, res.NotApplied)
	}
	// The records are marked imported, with goose's own time.
	var gooseAt time.Time
	if err := pool.QueryRow(ctx, "SELECT tstamp::timestamptz FROM goose_db_version WHERE version_id = 3").Scan(&gooseAt); err != nil {
		t.Fatal(err)
	}
	state, err := db.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range state {
		if !r.Imported || r.Duration != 0 {
			t.Errorf("record %d: imported %v, took %v; want imported, no duration", r.Version, r.Imported, r.Duration)
		}
	}
	if len(state) != 3 || !state[2].AppliedAt.Equal(gooseAt.Truncate(time.Microsecond)) {
		t.Errorf("version 3 recorded as applied at %v, want goose's %v", state[len(state)-1].AppliedAt, gooseAt)
	}
}

func TestReadHistory(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	exec(t, pool, `CREATE SCHEMA "Old Tools"; CREATE TABLE "Old Tools"."Goose" (id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NULL DEFAULT now(), PRIMARY KEY (id));
INSERT INTO "Old Tools"."Goose" (version_id, is_applied, tstamp) VALUES (0, true, now()), (10, true, '2024-01-02 03:04:05.678901'), (9, true, NULL), (100, true, '2025-06-07 08:09:10')`)
	h, err := adopt.ReadHistory(ctx, pool, convert.Goose, &adopt.Options{Schema: "Old Tools", Table: "Goose"})
	if err != nil {
		t.Fatal(err)
	}
	// goose's tstamp is kept, read in the session's time zone (UTC here,
	// the throwaway server's).
	want := &adopt.History{Tool: convert.Goose, Table: `"Old Tools"."Goose"`, Versions: []string{"9", "10", "100"},
		AppliedAt: map[string]time.Time{"10": time.Date(2024, 1, 2, 3, 4, 5, 678901000, time.UTC), "100": time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)}}
	if diff := cmp.Diff(want, h, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("ReadHistory (-want +got):\n%s", diff)
	}
	conn, err := pgx.Connect(ctx, pgtest.ConnString(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := adopt.ReadHistory(ctx, conn, "liquibase", nil); !errors.Is(err, convert.ErrUnknownTool) {
		t.Errorf("ReadHistory of an unknown tool = %v", err)
	}
	for tool, table := range map[convert.Tool]string{convert.GolangMigrate: "schema_migrations", convert.Goose: "goose_db_version", convert.Tern: "schema_version", convert.Pop: "schema_migration", convert.Flyway: "flyway_schema_history"} {
		if got := adopt.DefaultTable(tool); got != table {
			t.Errorf("DefaultTable(%s) = %q, want %q", tool, got, table)
		}
	}
}
