package execute_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

// The releases of a rollback: the old binary has versions 1 and 2; the
// new one adds 3 (a no-transaction down script) and 4 (irreversible).
var oldRelease = map[string]string{
	"v1_a.up.sql":   "CREATE TABLE a (id int);\n",
	"v1_a.down.sql": "DROP TABLE a;\n",
	"v2_b.up.sql":   "CREATE TABLE b (id int);\n",
	"v2_b.down.sql": "DROP TABLE b;\n",
}

func newRelease() map[string]string {
	files := maps.Clone(oldRelease)
	files["v3_c.up.sql"] = "-- waymark:no-transaction\nCREATE TABLE c (id int);\nCREATE INDEX CONCURRENTLY c_id ON c (id);\n"
	files["v3_c.down.sql"] = "-- waymark:no-transaction\nDROP INDEX CONCURRENTLY c_id;\nDROP TABLE c;\n"
	files["v4_d.up.sql"] = "CREATE TABLE d (id int);\n"
	return files
}

// TestPostgresRollbackWithOldBinary: the old binary undoes the versions a
// newer release applied with the down scripts their records keep, shows
// them as coming from the history, and refuses when none is kept.
func TestPostgresRollbackWithOldBinary(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := t.Context()
	db := pgxbackend.New(pool, nil)
	old, next := testsets.Map(t, oldRelease), testsets.Map(t, newRelease())
	if _, err := execute.Migrate(ctx, db, next, plan.To(3), nil); err != nil {
		t.Fatal(err)
	}

	p, err := plan.Build(ctx, db, old, plan.DownTo(1), nil)
	if err != nil {
		t.Fatalf("the old binary's plan down to 1: %v", err)
	}
	m3, _ := next.Lookup(3)
	if len(p.Steps) != 2 || !p.Steps[0].FromHistory || p.Steps[1].FromHistory ||
		p.Steps[0].SQL != m3.Down.SQL || !p.Steps[0].NoTransaction || p.Steps[0].Path != "history:v3_c.down.sql" {
		t.Fatalf("plan = %+v\nwant down 3 from the history (no transaction), then down 2 from its file", p.Steps)
	}
	for _, want := range []string{
		"  down  3  c  history:v3_c.down.sql  no-transaction, from the history  sha256:",
		"FROM THE HISTORY: version 3 is not in this binary's files",
		"DROP INDEX CONCURRENTLY c_id;",
	} {
		if !strings.Contains(p.Review(), want) {
			t.Errorf("review lacks %q:\n%s", want, p.Review())
		}
	}
	res, err := execute.Run(ctx, db, p, &execute.Options{Files: old})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{3, 2}, applied(res)); diff != "" {
		t.Errorf("undone (-want +got):\n%s", diff)
	}
	var left []string
	rows, _ := pool.Query(ctx, "SELECT relname::text FROM pg_class WHERE relname IN ('a', 'b', 'c', 'c_id') ORDER BY 1")
	for rows.Next() {
		var s string
		rows.Scan(&s)
		left = append(left, s)
	}
	if diff := cmp.Diff([]string{"a"}, left); diff != "" {
		t.Errorf("relations left (-want +got):\n%s", diff)
	}

	// Migrate (what apply -down-to and the mounted command run) does the
	// same, planning under the lock.
	if _, err := execute.Migrate(ctx, db, next, plan.To(3), nil); err != nil {
		t.Fatal(err)
	}
	res, err = execute.Migrate(ctx, db, old, plan.DownTo(2), nil)
	if err != nil || len(res.Steps) != 1 || res.Steps[0].Version != 3 {
		t.Fatalf("Migrate down to 2 with the old binary = %+v, %v", res.Steps, err)
	}

	// Version 4 has no down script: refused, naming it.
	if _, err := execute.Migrate(ctx, db, next, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	_, err = plan.Build(ctx, db, old, plan.DownTo(2), nil)
	var pe *plan.Error
	if !errors.Is(err, plan.ErrIrreversible) || !errors.As(err, &pe) || pe.Version != 4 || !strings.Contains(err.Error(), "history record says it has no down script") {
		t.Errorf("down past an irreversible version of the newer release = %v, want ErrIrreversible for 4", err)
	}
}

// TestPostgresRollbackRefusesWithoutKeptDown: a record written by a binary
// or format that kept no down script cannot be undone by a binary without
// the file; a down script changed in the history after planning makes the
// plan stale.
func TestPostgresRollbackRefusesWithoutKeptDown(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := t.Context()
	db := pgxbackend.New(pool, nil)
	files := newRelease()
	delete(files, "v4_d.up.sql")
	old, next := testsets.Map(t, oldRelease), testsets.Map(t, files)
	if _, err := execute.Migrate(ctx, db, next, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(ctx, db, old, plan.DownTo(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "UPDATE waymark_history SET down_script = 'DROP TABLE c;' WHERE version = 3"); err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Run(ctx, db, p, nil); !errors.Is(err, execute.ErrStalePlan) || !strings.Contains(err.Error(), "down script kept in the history") {
		t.Errorf("Run after the kept down script changed = %v, want ErrStalePlan", err)
	}

	// As a binary of format 2 records it: nothing kept.
	if _, err := pool.Exec(ctx, "UPDATE waymark_history SET reversible = NULL, down_script = NULL WHERE version = 3"); err != nil {
		t.Fatal(err)
	}
	recs, err := db.ReadState(ctx)
	if err != nil || recs[2].Down != backend.DownUnknown {
		t.Fatalf("records = %+v, %v", recs, err)
	}
	_, err = plan.Build(ctx, db, old, plan.DownTo(2), nil)
	if !errors.Is(err, plan.ErrUnknownVersion) || !strings.Contains(err.Error(), "keeps no down script") {
		t.Errorf("down past a version whose record keeps nothing = %v, want ErrUnknownVersion saying so", err)
	}
	// The newer binary, which has the file, still undoes it.
	if _, err := execute.Migrate(ctx, db, next, plan.DownTo(2), nil); err != nil {
		t.Errorf("the newer binary's down = %v", err)
	}
}

// TestPostgresBaselineKeepsDownScripts: a baseline records the down script
// of each version too, so an older binary can undo them.
func TestPostgresBaselineKeepsDownScripts(t *testing.T) {
	pool := pgtest.Pool(t)
	db := pgxbackend.New(pool, nil)
	next := testsets.Map(t, newRelease())
	if _, err := execute.Baseline(t.Context(), db, next, 4, nil); err != nil {
		t.Fatal(err)
	}
	recs, err := db.ReadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []backend.DownState
	for _, r := range recs {
		got = append(got, r.Down)
		if m, _ := next.Lookup(r.Version); m.Down != nil && r.DownSQL != m.Down.SQL {
			t.Errorf("version %d keeps %q, want its down script", r.Version, r.DownSQL)
		}
	}
	if diff := cmp.Diff([]backend.DownState{backend.DownKept, backend.DownKept, backend.DownKept, backend.DownNone}, got); diff != "" {
		t.Errorf("kept down scripts (-want +got):\n%s", diff)
	}
}
