package adopttest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// setDir returns the directory of a test set of package convert, in its
// tool's layout.
func setDir(name string) string {
	return filepath.Join("..", "..", "adopt", "convert", "testdata", name)
}

// toolTables are the history tables, waymark's and the tools', that a
// snapshot leaves out (with their indexes and sequences).
var toolTables = []string{"waymark_history", "schema_migrations", "goose_db_version", "schema_version", "schema_migration"}

// snapshot describes the schema the migrations made, one sorted line per
// object, from pg_catalog: tables with their columns, constraints,
// indexes (and whether they are valid), views, sequences, functions,
// triggers, types and comments. Comparing two snapshots tells whether two
// databases have the same schema.
func snapshot(t *testing.T, db *pgxpool.Pool) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `
WITH rel AS (
	SELECT c.oid, c.relname, c.relkind, n.nspname
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
	  AND NOT EXISTS (SELECT 1 FROM unnest($1::text[]) x WHERE c.relname LIKE x || '%')
)
SELECT 'table ' || nspname || '.' || relname FROM rel WHERE relkind = 'r'
UNION ALL
SELECT 'column ' || r.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	|| CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
	|| coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') || ' #' || a.attnum
FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = r.oid AND d.adnum = a.attnum
WHERE r.relkind IN ('r', 'v')
UNION ALL
SELECT 'constraint ' || r.relname || '.' || co.conname || ' ' || pg_get_constraintdef(co.oid)
FROM rel r JOIN pg_constraint co ON co.conrelid = r.oid
UNION ALL
SELECT 'index ' || pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END
FROM rel r JOIN pg_index i ON i.indexrelid = r.oid
UNION ALL
SELECT 'view ' || relname || ' ' || pg_get_viewdef(oid) FROM rel WHERE relkind = 'v'
UNION ALL
SELECT 'sequence ' || relname FROM rel WHERE relkind = 'S'
UNION ALL
SELECT 'comment ' || relname || ' ' || obj_description(oid, 'pg_class') FROM rel WHERE obj_description(oid, 'pg_class') IS NOT NULL
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(tg.oid) FROM rel r JOIN pg_trigger tg ON tg.tgrelid = r.oid AND NOT tg.tgisinternal
UNION ALL
SELECT 'function ' || pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
UNION ALL
SELECT 'type ' || t.typname || ' ' || coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND t.typtype = 'e'
ORDER BY 1`, toolTables)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return lines
}

// converted converts the tool's files in fsys (directory dir) and writes
// them to a directory of the test: the conversion and waymark's set.
func converted(t *testing.T, fsys fs.FS, dir string, tool convert.Tool, opts *convert.Options) (*convert.Result, *source.Set) {
	t.Helper()
	conv, err := convert.Convert(fsys, dir, tool, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(conv.Unconverted) > 0 {
		t.Fatalf("not converted:\n%s", conv)
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

// takeOver is what a user does once the tool has migrated the database:
// import its history, find nothing to do, then own the database: down to
// 0 and up again give the schema the tool made.
func takeOver(t *testing.T, pool *pgxpool.Pool, tool convert.Tool, conv *convert.Result, set *source.Set) {
	t.Helper()
	ctx := context.Background()
	made := snapshot(t, pool)
	if len(made) == 0 {
		t.Fatal("the tool made no schema")
	}
	db := pgxbackend.New(pool, nil)
	res, err := adopt.Import(ctx, pool, db, set, conv, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The history is every version, each with its file's checksum.
	var want []adopt.Mapping
	for _, m := range conv.Migrations {
		want = append(want, adopt.Mapping{Source: m.SourceVersion, Version: m.Version})
	}
	if diff := cmp.Diff(want, res.Versions); diff != "" {
		t.Errorf("%s's versions, as imported (-want +got):\n%s", tool, diff)
	}
	records, err := db.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != set.Len() {
		t.Errorf("history has %d records, want %d", len(records), set.Len())
	}
	for _, r := range records {
		if m, ok := set.Lookup(r.Version); !ok || m.Up.Checksum != r.Checksum || m.Name != r.Name || r.Dirty != 0 {
			t.Errorf("record %+v does not match the file", r)
		}
	}
	p, err := plan.Build(ctx, db, set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Errorf("after the import, the plan is not a no-op:\n%v", p)
	}
	if diff := cmp.Diff(made, snapshot(t, pool)); diff != "" {
		t.Errorf("the import changed the schema (-before +after):\n%s", diff)
	}

	if _, err := execute.Migrate(ctx, db, set, plan.DownTo(0), nil); err != nil {
		t.Fatal(err)
	}
	if s := snapshot(t, pool); len(s) != 0 {
		t.Errorf("down to 0 left:\n%v", s)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(made, snapshot(t, pool)); diff != "" {
		t.Errorf("waymark's schema differs from %s's (-%s +waymark):\n%s", tool, tool, diff)
	}
}

// pool returns a pool on url, closed when the test ends.
func pool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
