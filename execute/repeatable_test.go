package execute_test

// Repeatable scripts on a real PostgreSQL.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
)

// loggedFn is a repeatable script that defines answer() returning n and
// logs each time it runs, so that a test can count its runs.
func loggedFn(n string) string {
	return "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT " + n + " $$;\nINSERT INTO runs VALUES ('answer');\n"
}

func count(t *testing.T, pool *pgxpool.Pool, q string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A function changed in its file is applied again once, then not again;
// a boot with nothing to do is still one read of one row.
func TestPostgresRepeatableChangedOnce(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(pgtest.ConnString(t))
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracer{}
	cfg.ConnConfig.Tracer = tr
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := pgxbackend.New(pool, nil)
	v1 := map[string]string{"v1_runs.up.sql": "CREATE TABLE runs (name text);", "r_answer.sql": loggedFn("41")}
	res, err := execute.Migrate(ctx, db, mapSet(t, v1), plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"answer"}, res.Plan.Repeatables()); diff != "" || res.Plan.To != 1 {
		t.Errorf("first plan %v: repeatables (-want +got):\n%s", res.Plan, diff)
	}
	v1["r_answer.sql"] = loggedFn("42")
	changed := mapSet(t, v1)
	for i := range 3 {
		tr.take()
		res, err := execute.Migrate(ctx, db, changed, plan.Latest(), nil)
		if err != nil {
			t.Fatal(err)
		}
		queries := tr.take()
		if i == 0 && (len(res.Plan.Steps) != 1 || !res.Plan.Steps[0].Repeatable || res.Plan.From != 1 || res.Plan.To != 1) {
			t.Errorf("plan after the change = %v, want the one repeatable step", res.Plan)
		}
		if i > 0 && (!res.Plan.Empty() || len(queries) != 1 || !strings.Contains(queries[0], "pg_try_advisory_lock_shared(")) {
			t.Errorf("boot %d after the change: plan %v, queries %q; want nothing to do, in the one head read", i+1, res.Plan, queries)
		}
	}
	if n := count(t, pool, "SELECT count(*) FROM runs"); n != 2 {
		t.Errorf("the repeatable script ran %d times, want 2 (new, then changed)", n)
	}
	if n := count(t, pool, "SELECT answer()"); n != 42 {
		t.Errorf("answer() = %d, want 42", n)
	}
	// An older binary's read of the versions does not see the script.
	recs, err := db.ReadState(ctx)
	if err != nil || len(recs) != 1 || recs[0].Version != 1 {
		t.Errorf("ReadState = %+v, %v; want version 1 only", recs, err)
	}
	reps, err := db.ReadRepeatables(ctx)
	if err != nil || len(reps) != 1 || reps[0].Name != "answer" || reps[0].Checksum != changed.Repeatables()[0].Script.Checksum {
		t.Errorf("ReadRepeatables = %+v, %v", reps, err)
	}
	if n := count(t, pool, "SELECT count(*) FROM waymark_history WHERE app_key = '#repeatable' AND name = 'answer'"); n != 1 {
		t.Errorf("%d rows for the script under the app key %q, want 1", n, pgxbackend.RepeatableKeySuffix)
	}
}

// A set of only repeatable scripts (an app key with no versions): after
// the first run, a boot with nothing to do is still the one head read,
// which returns its row without any version.
func TestPostgresRepeatablesOnlyNoOp(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(pgtest.ConnString(t))
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracer{}
	cfg.ConnConfig.Tracer = tr
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := pgxbackend.New(pool, &pgxbackend.Options{AppKey: "views"})
	set := mapSet(t, map[string]string{"r_answer.sql": "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 42 $$;"})
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	h, err := db.ReadHead(ctx)
	if err != nil || !h.Known || h.Version != 0 || h.Repeatables != set.RepeatablesDigest() {
		t.Fatalf("head = %+v, %v; want no version and the scripts' digest %s", h, err, set.RepeatablesDigest())
	}
	tr.take()
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	if queries := tr.take(); err != nil || !res.Plan.Empty() || len(queries) != 1 || !strings.Contains(queries[0], "pg_try_advisory_lock_shared(") {
		t.Errorf("boot with nothing to do: plan %v, %v, queries %q; want the one head read", res.Plan, err, queries)
	}
}

// A view and the function it calls, in name order; the other way round,
// the first fails, naming its file, and nothing of it is recorded.
func TestPostgresRepeatableViewAndFunction(t *testing.T) {
	ctx := context.Background()
	t.Run("function first", func(t *testing.T) {
		pool := pgtest.Pool(t)
		set := mapSet(t, map[string]string{
			"v1_users.up.sql":      "CREATE TABLE users (id int, active bool);\nINSERT INTO users VALUES (1, true), (2, false);",
			"r_10_is_active.sql":   "CREATE OR REPLACE FUNCTION is_active(u users) RETURNS bool LANGUAGE sql AS $$ SELECT u.active $$;",
			"r_20_active_view.sql": "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users u WHERE is_active(u);",
		})
		if _, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil); err != nil {
			t.Fatal(err)
		}
		if n := count(t, pool, "SELECT count(*) FROM active_users"); n != 1 {
			t.Errorf("active_users has %d rows, want 1", n)
		}
	})
	t.Run("view first", func(t *testing.T) {
		pool := pgtest.Pool(t)
		set := mapSet(t, map[string]string{
			"v1_users.up.sql":     "CREATE TABLE users (id int, active bool);",
			"r_a_active_view.sql": "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users u WHERE is_active(u);",
			"r_b_is_active.sql":   "CREATE OR REPLACE FUNCTION is_active(u users) RETURNS bool LANGUAGE sql AS $$ SELECT u.active $$;",
		})
		db := pgxbackend.New(pool, nil)
		res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
		var se *execute.StepError
		var pgErr *pgconn.PgError
		if !errors.As(err, &se) || se.Repeatable != "a_active_view" || se.Pos.Path != "m/r_a_active_view.sql" || !errors.As(err, &pgErr) || pgErr.Code != "42883" {
			t.Fatalf("Migrate = %v; want the view's step to fail on the missing function", err)
		}
		if !strings.HasPrefix(err.Error(), "m/r_a_active_view.sql:1:") {
			t.Errorf("error %q does not start with the file's position", err)
		}
		if len(res.Steps) != 1 || res.Steps[0].Version != 1 {
			t.Errorf("steps done = %+v, want version 1 only", res.Steps)
		}
		if reps, err := db.ReadRepeatables(ctx); err != nil || len(reps) != 0 {
			t.Errorf("repeatables recorded after the failure: %+v, %v", reps, err)
		}
	})
}

// A down step that drops a column a repeatable view uses is refused by
// PostgreSQL (the view depends on it) and rolls back; a down script that
// drops the view first goes down, and the next up plan makes the view
// again, because going down forgot the repeatable scripts.
func TestPostgresRepeatableDownDropsUsedColumn(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{
		"v1_users.up.sql":   "CREATE TABLE users (id int);",
		"v1_users.down.sql": "DROP TABLE users;",
		"v2_nick.up.sql":    "ALTER TABLE users ADD COLUMN nick text;",
		"v2_nick.down.sql":  "ALTER TABLE users DROP COLUMN nick;",
		"r_nick_view.sql":   "CREATE OR REPLACE VIEW nicks AS SELECT id, nick FROM users;",
	}
	pool := pgtest.Pool(t)
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, mapSet(t, files), plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(ctx, db, mapSet(t, files), plan.DownTo(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.ForgetRepeatables || !strings.Contains(p.String(), "forgets the records of repeatable script nick_view") {
		t.Errorf("down plan does not forget the repeatable scripts:\n%s", p)
	}
	_, err = execute.Run(ctx, db, p, nil)
	var se *execute.StepError
	var pgErr *pgconn.PgError
	if !errors.As(err, &se) || se.Pos.Path != "m/v2_nick.down.sql" || !errors.As(err, &pgErr) || pgErr.Code != "2BP01" {
		t.Fatalf("down = %v; want PostgreSQL to refuse the drop (2BP01) in v2_nick.down.sql", err)
	}
	if recs, _ := db.ReadState(ctx); len(recs) != 2 {
		t.Errorf("after the refused down the history has %d versions, want 2", len(recs))
	}
	// The rule: a down script drops what the repeatable scripts made on
	// what it removes.
	files["v2_nick.down.sql"] = "DROP VIEW IF EXISTS nicks;\nALTER TABLE users DROP COLUMN nick;"
	set := mapSet(t, files)
	p, err = plan.Build(ctx, db, set, plan.DownTo(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Run(ctx, db, p, nil); err != nil {
		t.Fatal(err)
	}
	if reps, err := db.ReadRepeatables(ctx); err != nil || len(reps) != 0 {
		t.Errorf("after going down the repeatable scripts are still recorded: %+v, %v", reps, err)
	}
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{2}, res.Plan.Versions()); diff != "" || len(res.Plan.Repeatables()) != 1 {
		t.Errorf("up again: %v", res.Plan)
	}
	if n := count(t, pool, "SELECT count(*) FROM nicks"); n != 0 {
		t.Errorf("nicks has %d rows", n)
	}
}

// Replicas booting together on a changed repeatable script apply it once.
func TestPostgresRepeatableReplicas(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	db := pgxbackend.New(pool, nil)
	files := map[string]string{"v1_runs.up.sql": "CREATE TABLE runs (name text);", "r_answer.sql": loggedFn("1")}
	if _, err := execute.Migrate(ctx, db, mapSet(t, files), plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	files["r_answer.sql"] = loggedFn("2") + "SELECT pg_sleep(0.05);\n"
	set := mapSet(t, files)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	if n := count(t, pool, "SELECT count(*) FROM runs"); n != 2 {
		t.Errorf("the script ran %d times in all, want 2 (once before, once on the change)", n)
	}
}

// A repeatable script removed from the files keeps its record and needs no
// work: the boot takes no lock and changes nothing. An older binary (its
// database has versions it lacks) leaves a changed script alone.
func TestPostgresRepeatableRemovedAndOlderBinary(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	db := pgxbackend.New(pool, nil)
	newer := map[string]string{"v1_runs.up.sql": "CREATE TABLE runs (name text);", "v2_more.up.sql": "CREATE TABLE more ();", "r_answer.sql": loggedFn("2")}
	if _, err := execute.Migrate(ctx, db, mapSet(t, newer), plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	older := map[string]string{"v1_runs.up.sql": newer["v1_runs.up.sql"], "r_answer.sql": loggedFn("1")}
	res, err := execute.Migrate(ctx, db, mapSet(t, older), plan.Latest(), nil)
	if err != nil || !res.Plan.Empty() {
		t.Errorf("older binary: %v, %v; want nothing to do", res.Plan, err)
	}
	delete(newer, "r_answer.sql")
	res, err = execute.Migrate(ctx, db, mapSet(t, newer), plan.Latest(), nil)
	if err != nil || !res.Plan.Empty() {
		t.Errorf("script removed: %v, %v; want nothing to do", res.Plan, err)
	}
	if n := count(t, pool, "SELECT count(*) FROM runs"); n != 1 {
		t.Errorf("the script ran %d times, want 1", n)
	}
	if n := count(t, pool, "SELECT answer()"); n != 2 {
		t.Errorf("answer() = %d, want the newer release's 2", n)
	}
	if reps, err := db.ReadRepeatables(ctx); err != nil || len(reps) != 1 {
		t.Errorf("the removed script's record: %+v, %v; want it kept", reps, err)
	}
}
