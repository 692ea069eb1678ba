package execute_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/memory"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

// baselineFiles are versions 1, 2, 5 and 8; 5 is empty on purpose.
var baselineFiles = map[string]string{
	"v1_a.up.sql":      "CREATE TABLE a (id int);\n",
	"v1_a.down.sql":    "DROP TABLE a;\n",
	"v2_b.up.sql":      "CREATE TABLE b (id int);\n",
	"v2_b.down.sql":    "DROP TABLE b;\n",
	"v5_keep.up.sql":   "-- waymark:empty \"kept for its down script\"\n",
	"v5_keep.down.sql": "DROP TABLE IF EXISTS legacy;\n",
	"v8_c.up.sql":      "CREATE TABLE c (id int);\n",
	"v8_c.down.sql":    "DROP TABLE c;\n",
}

func TestBaseline(t *testing.T) {
	ctx := context.Background()
	set := testsets.Map(t, baselineFiles)

	db := memory.New(nil)
	dry, err := execute.Baseline(ctx, db, set, 5, &execute.BaselineOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := recordVersions(dry.Records); !dry.DryRun || !cmp.Equal(got, []int64{1, 2, 5}) {
		t.Errorf("dry run = %v (DryRun %v), want versions 1 2 5", got, dry.DryRun)
	}
	if len(versions(t, db)) != 0 || len(db.Executed()) != 0 {
		t.Fatalf("a dry run wrote %v, ran %v", versions(t, db), db.Executed())
	}

	res, err := execute.Baseline(ctx, db, set, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dry.Records, res.Records); diff != "" || res.DryRun {
		t.Errorf("Baseline recorded other records than its dry run (-dry +real):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{1, 2, 5}, versions(t, db)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if len(db.Executed()) != 0 {
		t.Errorf("Baseline ran scripts: %v", db.Executed())
	}
	m2, _ := set.Lookup(2)
	if r := res.Records[1]; r.Name != "b" || r.Checksum != m2.Up.Checksum || r.Dirty != 0 {
		t.Errorf("record of 2 = %+v, want name b and the file's checksum", r)
	}
	// The baseline is the database's state: the plan goes on from there.
	p := mustPlan(t, db, set, plan.Latest())
	if diff := cmp.Diff([]int64{8}, p.Versions()); diff != "" {
		t.Errorf("plan after the baseline (-want +got):\n%s", diff)
	}

	// Only: another tool's history with a gap.
	gappy := memory.New(nil)
	res, err = execute.Baseline(ctx, gappy, set, 8, &execute.BaselineOptions{Only: []int64{8, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 8}, versions(t, gappy)); diff != "" || len(res.Records) != 2 {
		t.Errorf("history with Only (-want +got):\n%s", diff)
	}
}

func TestBaselineRefuses(t *testing.T) {
	ctx := context.Background()
	set := testsets.Map(t, baselineFiles)
	for _, tt := range []struct {
		name     string
		version  int64
		only     []int64
		sentinel error
		want     string
	}{
		{"not a version", 4, nil, execute.ErrBadBaseline, "execute: version 4: invalid baseline: not a version of the set (its versions run from 1 to 8)"},
		{"zero", 0, nil, execute.ErrBadBaseline, "not a version of the set"},
		{"Only names a missing version", 8, []int64{1, 3}, execute.ErrBadBaseline, "execute: version 3: invalid baseline: not a version of the set"},
		{"Only above the version", 2, []int64{1, 5}, execute.ErrBadBaseline, "execute: version 5: invalid baseline: above the baseline version 2"},
		{"Only twice", 8, []int64{2, 2}, execute.ErrBadBaseline, "listed twice"},
		{"Only empty", 8, []int64{}, execute.ErrBadBaseline, "no versions to record"},
	} {
		for _, dry := range []bool{false, true} {
			db := memory.New(nil)
			res, err := execute.Baseline(ctx, db, set, tt.version, &execute.BaselineOptions{Only: tt.only, DryRun: dry})
			if !errors.Is(err, tt.sentinel) || !strings.Contains(err.Error(), tt.want) || res != nil {
				t.Errorf("%s (dry run %v): Baseline = %v, %v; want %v saying %q", tt.name, dry, res, err, tt.sentinel, tt.want)
			}
			if len(versions(t, db)) != 0 {
				t.Errorf("%s: a refused baseline wrote %v", tt.name, versions(t, db))
			}
		}
	}

	// A history that has a record, even one the set lacks.
	db := memory.New(nil)
	migrateTo(t, db, set, plan.To(1))
	for _, dry := range []bool{false, true} {
		_, err := execute.Baseline(ctx, db, set, 8, &execute.BaselineOptions{DryRun: dry})
		var ee *execute.Error
		if !errors.Is(err, execute.ErrHistoryNotEmpty) || !errors.As(err, &ee) ||
			err.Error() != "execute: the history is not empty: it has 1 records, up to version 1: a baseline is recorded once, into a database that waymark has never migrated" {
			t.Errorf("Baseline of a migrated database (dry run %v) = %v, want ErrHistoryNotEmpty", dry, err)
		}
	}
	if diff := cmp.Diff([]int64{1}, versions(t, db)); diff != "" {
		t.Errorf("history changed (-want +got):\n%s", diff)
	}
}

// TestPostgresBaselineAllOrNothing: a record that cannot be written
// leaves none of the others.
func TestPostgresBaselineAllOrNothing(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	set := testsets.Map(t, baselineFiles)
	// Another app key's baseline creates the shared history table; a
	// trigger then refuses version 5 of app key "".
	if _, err := execute.Baseline(ctx, pgxbackend.New(pool, &pgxbackend.Options{AppKey: "other"}), set, 1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
CREATE FUNCTION refuse_5() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.app_key = '' AND NEW.version = 5 THEN RAISE EXCEPTION 'no version 5 here'; END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER refuse_5 BEFORE INSERT ON waymark_history FOR EACH ROW EXECUTE FUNCTION refuse_5();`); err != nil {
		t.Fatal(err)
	}
	_, err := execute.Baseline(ctx, pgxbackend.New(pool, nil), set, 8, nil)
	var ee *execute.Error
	if !errors.Is(err, execute.ErrWriteHistory) || !errors.As(err, &ee) || ee.Version != 5 || !strings.Contains(err.Error(), "no version 5 here") {
		t.Fatalf("Baseline = %v, want ErrWriteHistory for version 5", err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM waymark_history WHERE app_key = ''").Scan(&n); err != nil || n != 0 {
		t.Errorf("after the failed baseline, %d records (%v), want none", n, err)
	}
}

// recordVersions returns the versions of records.
func recordVersions(records []backend.Record) []int64 {
	var vs []int64
	for _, r := range records {
		vs = append(vs, r.Version)
	}
	return vs
}

func TestPostgresBaseline(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	set := testsets.Map(t, baselineFiles)
	if _, err := pool.Exec(ctx, "CREATE TABLE a (id int); CREATE TABLE b (id int)"); err != nil {
		t.Fatal(err)
	}
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Baseline(ctx, db, set, 5, &execute.BaselineOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if h := history(t, pool, "waymark_history"); h != nil {
		t.Fatalf("a dry run wrote the history: %v", h)
	}
	if _, err := execute.Baseline(ctx, db, set, 5, nil); err != nil {
		t.Fatal(err)
	}
	checkHistory(t, pool, set, 1, 2, 5)
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{8}, applied(res)); diff != "" {
		t.Errorf("Migrate after the baseline applied (-want +got):\n%s", diff)
	}
	// Down through the empty step and back: its down script runs.
	if _, err := execute.Migrate(ctx, db, set, plan.DownTo(0), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	checkHistory(t, pool, set, 1, 2, 5, 8)

	_, err = execute.Baseline(ctx, db, set, 8, nil)
	if !errors.Is(err, execute.ErrHistoryNotEmpty) {
		t.Errorf("a second baseline = %v, want ErrHistoryNotEmpty", err)
	}
	checkHistory(t, pool, set, 1, 2, 5, 8)
}
