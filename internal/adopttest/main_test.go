package adopttest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/adopt"
	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/drift"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/schema"
	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/waymarktest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// setDir returns the directory of a test set of package convert, in its
// tool's layout.
func setDir(name string) string {
	return filepath.Join("..", "..", "adopt", "convert", "testdata", name)
}

// toolTables are the history tables, waymark's and the tools', that a
// snapshot leaves out.
var toolTables = []string{"waymark_history", "waymark_lease", "schema_migrations", "goose_db_version", "schema_version", "schema_migration", "flyway_schema_history"}

// snapshot reads the schema the migrations made, without the history
// tables.
func snapshot(t *testing.T, db *pgxpool.Pool) *schema.Snapshot {
	t.Helper()
	s, err := schema.Read(context.Background(), db, &schema.Options{ExcludeTables: toolTables})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return s
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
	made, empty := snapshot(t, pool), snapshot(t, pgtest.Pool(t))
	if cmp.Equal(made, empty) {
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
	noDrift(t, pool, tool, set)

	if _, err := execute.Migrate(ctx, db, set, plan.DownTo(0), nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(empty, snapshot(t, pool)); diff != "" {
		t.Errorf("down to 0 left (-empty +left):\n%s", diff)
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

// noDrift checks the adopted database for drift: its schema is the one
// the converted set makes, but for the tool's history table, which the
// adoption leaves and the ignore list names.
func noDrift(t *testing.T, pool *pgxpool.Pool, tool convert.Tool, set *source.Set) {
	t.Helper()
	var rules strings.Builder
	for _, table := range toolTables[2:] {
		fmt.Fprintf(&rules, "* *.%s* %s's history, left by the adoption\n", table, tool)
	}
	ignore, err := drift.ParseIgnore("drift.ignore", strings.NewReader(rules.String()))
	if err != nil {
		t.Fatal(err)
	}
	r, err := drift.Check(context.Background(), pool, set, &drift.Options{Scratch: waymarktest.Server(t), Ignore: ignore})
	if err != nil {
		t.Fatalf("drift check of the adopted database: %v", err)
	}
	if r.Drifted() || r.Ignored == 0 {
		t.Errorf("the adopted database drifted from the converted %s set (or its history table was not seen):\n%s", tool, r)
	}
}
