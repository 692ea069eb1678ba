package execute_test

// Tests on a real PostgreSQL, one fresh database each.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(pgtest.Main(m))
}

func mapSet(t *testing.T, files map[string]string) *source.Set {
	t.Helper()
	return testsets.Map(t, files)
}

// row is a history row as stored.
type row struct {
	AppKey   string
	Version  int64
	Name     string
	Checksum string
	Dirty    *string
}

// history reads a history table directly, not through the backend.
func history(t *testing.T, pool *pgxpool.Pool, table string) []row {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT app_key, version, name, checksum, dirty FROM "+table+" ORDER BY app_key, version")
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			return nil
		}
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			return nil
		}
		t.Fatal(err)
	}
	return got
}

// wantHistory is the history of set's versions vs, applied cleanly.
func wantHistory(set *source.Set, vs ...int64) []row {
	var out []row
	for _, v := range vs {
		m, _ := set.Lookup(v)
		out = append(out, row{"", v, m.Name, m.Up.Checksum.String(), nil})
	}
	return out
}

func checkHistory(t *testing.T, pool *pgxpool.Pool, set *source.Set, vs ...int64) {
	t.Helper()
	if diff := cmp.Diff(wantHistory(set, vs...), history(t, pool, "waymark_history"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func sampleSet(t *testing.T) *source.Set {
	t.Helper()
	set, err := source.FromDir("../testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestPostgresUpDownAndBack(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := sampleSet(t)
	db := pgxbackend.New(pool, nil)

	steps := []struct {
		target plan.Target
		want   []int64
	}{
		{plan.To(2), []int64{1, 2}},
		{plan.Latest(), []int64{1, 2, 3, 4}},
		{plan.DownTo(2), []int64{1, 2}},
		{plan.DownTo(0), nil},
		{plan.Latest(), []int64{1, 2, 3, 4}},
	}
	for _, s := range steps {
		p, err := plan.Build(ctx, db, set, s.target, nil)
		if err != nil {
			t.Fatalf("%v: Build: %v", s.target, err)
		}
		res, err := execute.Run(ctx, db, p, nil)
		if err != nil {
			t.Fatalf("%v: Run: %v", s.target, err)
		}
		if len(res.Steps) != len(p.Steps) {
			t.Errorf("%v: applied %d steps, want %d", s.target, len(res.Steps), len(p.Steps))
		}
		checkHistory(t, pool, set, s.want...)
	}
	want := []string{"S public.orders_id_seq", "S public.users_id_seq", "i public.orders_pkey", "i public.orders_user_id_idx",
		"i public.users_email_key", "i public.users_pkey", "i public.waymark_history_app_key_idx", "i public.waymark_history_app_key_name_idx", "i public.waymark_history_pkey", "r public.orders", "r public.users", "r public.waymark_history"}
	if diff := cmp.Diff(want, pgtest.Objects(t, pool)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	// The trigger of version 2 works, so its dollar-quoted body arrived whole.
	var email string
	if err := pool.QueryRow(ctx, "INSERT INTO users (name, email) VALUES ('a', 'A@Example.COM') RETURNING email").Scan(&email); err != nil || email != "a@example.com" {
		t.Errorf("trigger: got %q, %v", email, err)
	}
	rs, err := db.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if time.Since(r.AppliedAt) > time.Minute || r.Duration <= 0 {
			t.Errorf("version %d: AppliedAt %v, Duration %v; want recent and positive", r.Version, r.AppliedAt, r.Duration)
		}
	}
}

// tracer records the SQL that goes through pgx's query API.
type tracer struct {
	mu   sync.Mutex
	sqls []string
}

func (tr *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	tr.mu.Lock()
	tr.sqls = append(tr.sqls, d.SQL)
	tr.mu.Unlock()
	return ctx
}

func (tr *tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (tr *tracer) take() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	s := tr.sqls
	tr.sqls = nil
	return s
}

func TestPostgresNoOpMigrateIsOneRead(t *testing.T) {
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
	set := sampleSet(t)
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	before := history(t, pool, "waymark_history")
	tr.take()
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	if err != nil || !res.Plan.Empty() || res.Plan.From != 4 {
		t.Fatalf("second Migrate = %v, %v; want an empty plan at 4", res.Plan, err)
	}
	if queries := tr.take(); len(queries) != 1 || !strings.HasPrefix(queries[0], "WITH k AS MATERIALIZED") {
		t.Errorf("a no-op Migrate sent %d queries %q, want the one head read", len(queries), queries)
	}
	if diff := cmp.Diff(before, history(t, pool, "waymark_history")); diff != "" {
		t.Errorf("a no-op Migrate changed the history (-want +got):\n%s", diff)
	}
}

// While another process holds the migration lock (a run under way, whose
// commits may not be durable yet), even a Migrate with nothing to do waits
// for it rather than trust what it reads.
func TestPostgresNoOpWaitsForARunUnderWay(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := sampleSet(t)
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	held, err := pgxbackend.New(pool, nil).TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan time.Time, 1)
	go func() {
		time.Sleep(700 * time.Millisecond)
		released <- time.Now()
		_ = held.Unlock(ctx)
	}()
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	done := time.Now()
	if err != nil || !res.Plan.Empty() {
		t.Fatalf("Migrate = %v, %v; want an empty plan", res.Plan, err)
	}
	if at := <-released; done.Before(at) {
		t.Errorf("Migrate returned %v before the run under way ended", at.Sub(done))
	}
}

const failingScript = "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\n-- Ünïcode in a comment\nSELECT 'ünïcödé', * FROM no_such_table;\n"

func failingSet(t *testing.T) *source.Set {
	return mapSet(t, map[string]string{
		"v1_a.up.sql":   "CREATE TABLE a (id int);",
		"v1_a.down.sql": "DROP TABLE a;",
		"v2_b.up.sql":   failingScript,
		"v3_c.up.sql":   "CREATE TABLE c (id int);",
	})
}

func TestPostgresFailingStepRollsBack(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := failingSet(t)
	db := pgxbackend.New(pool, nil)

	res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	if err == nil {
		t.Fatal("Migrate succeeded")
	}
	// "no_such_table" is at character 26 of line 4, byte 33.
	want := `m/v2_b.up.sql:4:26: ERROR: relation "no_such_table" does not exist (SQLSTATE 42P01)`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
		t.Errorf("errors.As(*pgconn.PgError) = %v", pgErr)
	}
	var se *execute.StepError
	if !errors.As(err, &se) || se.Version != 2 || se.Pos.Path != "m/v2_b.up.sql" || se.Pos.Line != 4 || se.Pos.Column != 26 || se.Pos.Statement != 3 {
		t.Errorf("StepError = %+v", se)
	}
	if len(res.Steps) != 1 || res.Steps[0].Version != 1 {
		t.Errorf("Result.Applied = %+v, want version 1", res.Steps)
	}
	// Version 1 stays; nothing of version 2 is left.
	checkHistory(t, pool, set, 1)
	wantObjects := []string{"i public.waymark_history_app_key_idx", "i public.waymark_history_app_key_name_idx", "i public.waymark_history_pkey", "r public.a", "r public.waymark_history"}
	if diff := cmp.Diff(wantObjects, pgtest.Objects(t, pool)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

func TestPostgresFailingSingleTransaction(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := failingSet(t)
	db := pgxbackend.New(pool, nil)
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), &execute.Options{SingleTransaction: true})
	if err == nil || !strings.HasPrefix(err.Error(), "m/v2_b.up.sql:4:26: ") {
		t.Fatalf("Migrate = %v, want the positioned error", err)
	}
	if len(res.Steps) != 0 {
		t.Errorf("Result.Applied = %+v, want none", res.Steps)
	}
	// Nothing at all, not even the history table created with version 1.
	if got := pgtest.Objects(t, pool); len(got) != 0 {
		t.Errorf("objects after a failed single transaction = %q", got)
	}

	// And a good plan in one transaction applies completely.
	good := mapSet(t, map[string]string{"v1_a.up.sql": "CREATE TABLE a (id int);", "v2_b.up.sql": "CREATE TABLE b (id int);"})
	if _, err := execute.Migrate(ctx, db, good, plan.Latest(), &execute.Options{SingleTransaction: true}); err != nil {
		t.Fatal(err)
	}
	checkHistory(t, pool, good, 1, 2)
}

func TestPostgresNoTransaction(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := mapSet(t, map[string]string{
		"v1_items.up.sql":  "CREATE TABLE items (id int, sku text);\nINSERT INTO items VALUES (1, 'a'), (2, 'a');",
		"v2_idx.up.sql":    "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY items_id_idx ON items (id);\n",
		"v2_idx.down.sql":  "-- waymark:no-transaction\nDROP INDEX CONCURRENTLY items_id_idx;\n",
		"v3_uniq.up.sql":   "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY items_sku_idx ON items (sku);\n\n  CREATE UNIQUE INDEX CONCURRENTLY items_sku_key ON items (sku);\n",
		"v3_uniq.down.sql": "-- waymark:no-transaction\nDROP INDEX CONCURRENTLY items_sku_key;\nDROP INDEX CONCURRENTLY items_sku_idx;\n",
	})
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.To(2), nil); err != nil {
		t.Fatal(err)
	}
	checkHistory(t, pool, set, 1, 2)
	if got := pgtest.Objects(t, pool); !contains(got, "i public.items_id_idx") {
		t.Errorf("objects = %q, want a valid items_id_idx", got)
	}

	_, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	var se *execute.StepError
	if !errors.As(err, &se) {
		t.Fatalf("Migrate = %v, want a *StepError", err)
	}
	if se.Version != 3 || !se.Dirty || se.Pos.Statement != 2 || se.Pos.Line != 4 || se.Pos.Column != 3 {
		t.Errorf("StepError = %+v, want version 3 dirty at statement 2, 4:3", se)
	}
	for _, want := range []string{"m/v3_uniq.up.sql:4:3: ERROR: could not create unique index", "(SQLSTATE 23505)", "statement 2 of 2", "version 3 is left dirty",
		"\nDETAIL: Key (sku)=("} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	dirty := "up"
	wantRows := append(wantHistory(set, 1, 2), row{"", 3, "uniq", mustLookup(set, 3).Up.Checksum.String(), &dirty})
	if diff := cmp.Diff(wantRows, history(t, pool, "waymark_history")); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	// The first statement took effect; the failed one left an invalid index.
	if got := pgtest.Objects(t, pool); !contains(got, "i public.items_sku_idx") || !contains(got, "i public.items_sku_key (invalid)") {
		t.Errorf("objects = %q", got)
	}

	// Every later plan refuses, naming the version.
	for _, target := range []plan.Target{plan.Latest(), plan.DownTo(1)} {
		_, err := plan.Build(ctx, db, set, target, nil)
		if !errors.Is(err, plan.ErrDirty) || !strings.Contains(err.Error(), "version 3 (m/v3_uniq.up.sql)") {
			t.Errorf("Build(%v) = %v, want ErrDirty naming version 3 and its file", target, err)
		}
	}
	// Repair by hand, then record that version 3 is not applied.
	if _, err := pool.Exec(ctx, "DROP INDEX items_sku_key; DROP INDEX items_sku_idx; DELETE FROM items WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	if err := execute.Resolve(ctx, db, 3, execute.MarkNotApplied, nil); err != nil {
		t.Fatal(err)
	}
	checkHistory(t, pool, set, 1, 2)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatalf("Migrate after resolving: %v", err)
	}
	checkHistory(t, pool, set, 1, 2, 3)
	if got := pgtest.Objects(t, pool); !contains(got, "i public.items_sku_key") {
		t.Errorf("objects = %q, want a valid items_sku_key", got)
	}
	// Down through no-transaction steps.
	if _, err := execute.Migrate(ctx, db, set, plan.DownTo(1), nil); err != nil {
		t.Fatalf("down through no-transaction steps: %v", err)
	}
	checkHistory(t, pool, set, 1)
}

func TestPostgresHintForTransactionalConcurrently(t *testing.T) {
	pool := pgtest.Pool(t)
	set := mapSet(t, map[string]string{
		"v1_t.up.sql": "CREATE TABLE t (id int);",
		// The loader refuses VACUUM in a transactional script; hidden in a
		// DO block, only the server can tell.
		"v2_vacuum.up.sql": "DO $$ BEGIN EXECUTE 'VACUUM t'; END $$;",
	})
	_, err := execute.Migrate(context.Background(), pgxbackend.New(pool, nil), set, plan.Latest(), nil)
	if err == nil || !strings.Contains(err.Error(), "SQLSTATE 25001") || !strings.Contains(err.Error(), "-- waymark:no-transaction") {
		t.Errorf("error = %v, want SQLSTATE 25001 with a hint to use the directive", err)
	}
}

func TestPostgresResolveMarkApplied(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := mapSet(t, map[string]string{
		"v1_t.up.sql":   "CREATE TABLE t (id int);",
		"v2_idx.up.sql": "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (id);\nCREATE INDEX CONCURRENTLY t_b ON t (nope);\n",
	})
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err == nil {
		t.Fatal("Migrate succeeded")
	}
	// Repair: finish the script's work by hand.
	if _, err := pool.Exec(ctx, "CREATE INDEX t_b ON t (id)"); err != nil {
		t.Fatal(err)
	}
	if err := execute.Resolve(ctx, db, 2, execute.MarkApplied, nil); err != nil {
		t.Fatal(err)
	}
	checkHistory(t, pool, set, 1, 2)
	if err := execute.Resolve(ctx, db, 2, execute.MarkApplied, nil); !errors.Is(err, execute.ErrNotDirty) {
		t.Errorf("second Resolve = %v, want ErrNotDirty", err)
	}
}

func TestPostgresStalePlan(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := failingSet(t)
	db := pgxbackend.New(pool, nil)
	stale, err := plan.Build(ctx, db, set, plan.To(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	before := pgtest.Objects(t, pool)
	_, err = execute.Run(ctx, db, stale, nil)
	if !errors.Is(err, execute.ErrStalePlan) {
		t.Fatalf("Run of a stale plan = %v, want ErrStalePlan", err)
	}
	checkHistory(t, pool, set, 1)
	if diff := cmp.Diff(before, pgtest.Objects(t, pool)); diff != "" {
		t.Errorf("a stale plan changed the schema (-before +after):\n%s", diff)
	}
}

func TestPostgresConcurrentMigrate(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := mapSet(t, map[string]string{
		"v1_counter.up.sql": "CREATE TABLE counter (version int);",
		"v2_two.up.sql":     "INSERT INTO counter VALUES (2); SELECT pg_sleep(0.05);",
		"v3_three.up.sql":   "INSERT INTO counter VALUES (3);",
	})
	db := pgxbackend.New(pool, nil)
	errs := make([]error, 10)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = execute.Migrate(ctx, db, set, plan.Latest(), nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	var counts string
	if err := pool.QueryRow(ctx, "SELECT string_agg(version::text, ',' ORDER BY version) FROM counter").Scan(&counts); err != nil {
		t.Fatal(err)
	}
	if counts != "2,3" {
		t.Errorf("steps ran %q times, want each once: 2,3", counts)
	}
	checkHistory(t, pool, set, 1, 2, 3)
}

// Replicas that wait for the lock must not block a CREATE INDEX
// CONCURRENTLY in the migration they wait for: a statement waiting on a lock
// holds a snapshot, which the index build waits for (a deadlock the server
// breaks by killing one side). The first step outlasts deadlock_timeout so
// that the waiters have queued.
func TestPostgresConcurrentMigrateWithConcurrentIndex(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := mapSet(t, map[string]string{
		"v1_t.up.sql":   "CREATE TABLE t (id int);\nSELECT pg_sleep(1.5);",
		"v2_idx.up.sql": "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);",
	})
	db := pgxbackend.New(pool, nil)
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { _, errs[i] = execute.Migrate(ctx, db, set, plan.Latest(), nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	checkHistory(t, pool, set, 1, 2)
	if got := pgtest.Objects(t, pool); !contains(got, "i public.t_id") {
		t.Errorf("objects = %q, want a valid index t_id", got)
	}
}

func TestPostgresAppKeysAndCustomTable(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	billing := mapSet(t, map[string]string{"v1_invoices.up.sql": "CREATE TABLE invoices (id int);", "v2_paid.up.sql": "ALTER TABLE invoices ADD paid bool;"})
	users := mapSet(t, map[string]string{"v1_users.up.sql": "CREATE TABLE users (id int);"})
	opts := func(key string) *pgxbackend.Options {
		return &pgxbackend.Options{Schema: "ops", Table: `mig"rations`, AppKey: key}
	}
	if _, err := execute.Migrate(ctx, pgxbackend.New(pool, opts("billing")), billing, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Migrate(ctx, pgxbackend.New(pool, opts("users")), users, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	got := history(t, pool, `ops."mig""rations"`)
	want := []row{
		{"billing", 1, "invoices", mustLookup(billing, 1).Up.Checksum.String(), nil},
		{"billing", 2, "paid", mustLookup(billing, 2).Up.Checksum.String(), nil},
		{"users", 1, "users", mustLookup(users, 1).Up.Checksum.String(), nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	// Each key plans against its own history.
	p, err := plan.Build(ctx, pgxbackend.New(pool, opts("users")), users, plan.Latest(), nil)
	if err != nil || !p.Empty() {
		t.Errorf("users plan = %v, %v; want empty", p, err)
	}
	if got := history(t, pool, "waymark_history"); got != nil {
		t.Errorf("the default table was used: %v", got)
	}
}

func TestPostgresCancelLongStep(t *testing.T) {
	pool := pgtest.Pool(t)
	set := mapSet(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int);", "v2_slow.up.sql": "CREATE TABLE slow (id int);\nSELECT pg_sleep(30);"})
	db := pgxbackend.New(pool, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(500 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Migrate = %v, want context.Canceled", err)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("Migrate returned %v after start, %v after the cancel; want within a second", took, took-500*time.Millisecond)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "m/v2_slow.up.sql:2:1: ") {
		t.Errorf("error %q does not point at the running statement", err)
	}
	if len(res.Steps) != 1 {
		t.Errorf("Result.Applied = %+v, want version 1 only", res.Steps)
	}
	checkHistory(t, pool, set, 1)
	if got := pgtest.Objects(t, pool); contains(got, "r public.slow") {
		t.Errorf("the cancelled step left its table: %q", got)
	}
	checkNoLeftovers(t, pool)
}

func TestPostgresCancelLockWait(t *testing.T) {
	pool := pgtest.Pool(t)
	set := mapSet(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int);"})
	held, err := pgxbackend.New(pool, nil).TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Migrate while the lock is held = %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 1300*time.Millisecond {
		t.Errorf("Migrate returned after %v, want within a second of its deadline", took)
	}
	// Once the holder lets go, nobody may hold or wait for an advisory lock.
	if err := held.Unlock(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkNoLeftovers(t, pool)
}

// checkNoLeftovers fails if any session of the cluster holds or waits for
// an advisory lock, or still runs a sleep.
func checkNoLeftovers(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var locks, sleepers int
		err := pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())),
			(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(30)%' AND state = 'active' AND pid <> pg_backend_pid())`).Scan(&locks, &sleepers)
		if err != nil {
			t.Fatal(err)
		}
		if locks == 0 && sleepers == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left over: %d advisory locks, %d running sleeps", locks, sleepers)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPostgresDryRunCreatesNothing(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	for _, opts := range []*pgxbackend.Options{nil, {Schema: "audit", Table: "history"}} {
		p, err := plan.Build(ctx, pgxbackend.New(pool, opts), sampleSet(t), plan.Latest(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.String(), "plan: up from 0 to 4 (4 steps)") {
			t.Errorf("dry run:\n%s", p)
		}
	}
	if got := pgtest.Objects(t, pool); len(got) != 0 {
		t.Errorf("a dry run created %q", got)
	}
}

func TestPostgresSingleConnection(t *testing.T) {
	conn := pgtest.Conn(t)
	ctx := context.Background()
	set := sampleSet(t)
	db := pgxbackend.New(conn, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.DownTo(1), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.To(2), nil); err != nil {
		t.Fatal(err)
	}
	st, err := db.ReadState(ctx)
	if err != nil || len(st) != 2 {
		t.Errorf("state = %v, %v; want versions 1 and 2", st, err)
	}
	// The caller's connection is still usable and holds no lock.
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()").Scan(&n); err != nil || n != 0 {
		t.Errorf("advisory locks held by the connection: %d, %v", n, err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mustLookup(set *source.Set, v int64) *source.Migration {
	m, ok := set.Lookup(v)
	if !ok {
		panic(fmt.Sprintf("no version %d", v))
	}
	return m
}
