package fleet_test

// Fleets against PostgreSQL: several servers and many schemas, the bound
// on connections measured by the servers, failures, cancellation, races.

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
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/fleet"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// tenantSet has versions 1 to 3; each step records itself in the table
// applied_log, so that a step run twice shows.
func tenantSet(t *testing.T) *source.Set {
	return testsets.Map(t, map[string]string{
		"v1_log.up.sql": "CREATE TABLE applied_log (version int NOT NULL);\nINSERT INTO applied_log VALUES (1);\n",
		"v2_a2.up.sql":  "CREATE TABLE a2 (id int);\nSELECT pg_sleep(0.02);\nINSERT INTO applied_log VALUES (2);\n",
		"v3_a3.up.sql":  "CREATE TABLE a3 (id int);\nINSERT INTO applied_log VALUES (3);\n",
	})
}

// withParam adds key=value to a connection string, URL or key=value words.
func withParam(conn, key, value string) string {
	if strings.Contains(conn, "://") {
		sep := "?"
		if strings.Contains(conn, "?") {
			sep = "&"
		}
		return conn + sep + key + "=" + value
	}
	return conn + " " + key + "=" + value
}

// querier is what *pgx.Conn and *pgxpool.Pool have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// makeSchemas creates the schemas prefix_01 ... prefix_n.
func makeSchemas(t *testing.T, db querier, prefix string, n int) []string {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s_%02d", prefix, i+1)
		if _, err := db.Exec(t.Context(), "CREATE SCHEMA "+pgx.Identifier{names[i]}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// logOf returns how many times each version ran in schema, from its
// applied_log.
func logOf(t *testing.T, db querier, schema string) map[int]int {
	t.Helper()
	m := map[int]int{}
	rows, err := db.Query(t.Context(), "SELECT version, count(*) FROM "+pgx.Identifier{schema, "applied_log"}.Sanitize()+" GROUP BY 1")
	if err == nil {
		var v, n int
		_, err = pgx.ForEachRow(rows, []any{&v, &n}, func() error { m[v] = n; return nil })
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return m
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// versionsOf reads the history in schema, through db's connection.
func versionsOf(t *testing.T, pool *pgxpool.Pool, schema string) []int64 {
	t.Helper()
	st, err := pgxbackend.New(pool, &pgxbackend.Options{Schema: schema}).ReadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var vs []int64
	for _, r := range st {
		vs = append(vs, r.Version)
	}
	return vs
}

// sampler counts, until stopped, the connections a server has for an
// application_name, and keeps the highest count.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	max  int
	err  error
}

func sample(db querier, app string) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			var n int
			if err := db.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
				s.err = err
				return
			}
			s.max = max(s.max, n)
			select {
			case <-s.stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) finish() (int, error) {
	close(s.stop)
	<-s.done
	return s.max, s.err
}

// sessions returns how many sessions the database of conn has had, once
// conn is the only one connected to it (so that the others' statistics
// are in).
func sessions(t *testing.T, conn *pgx.Conn) int64 {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var others int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").Scan(&others); err != nil {
			t.Fatal(err)
		}
		if others == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d other sessions still connected", others)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var n int64
	if err := conn.QueryRow(t.Context(), "SELECT sessions FROM pg_stat_database WHERE datname = current_database()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Three servers of their own and fifty schemas of one database, three
// targets at a time: every target gets there, each step once, and no
// server ever sees more than three of the fleet's connections. The
// schemas share their workers' connections instead of connecting each.
func TestRunManyServers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark under load or of its own machinery, not of the PostgreSQL version; make test runs it")
	}
	const parallel = 3
	const app = "fleet_bound_test"
	ctx := t.Context()
	set := tenantSet(t)

	var targets []fleet.Target
	var samplers []*sampler
	var servers []string
	for i := range 3 {
		c := pgtest.OwnCluster(t)
		admin, err := pgx.Connect(ctx, c.ConnString("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Close(context.Background()) })
		if _, err := admin.Exec(ctx, "CREATE DATABASE fleet"); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("server%d", i+1)
		targets = append(targets, fleet.Target{Name: name, Conn: withParam(c.ConnString("fleet"), "application_name", app)})
		samplers = append(samplers, sample(admin, app))
		servers = append(servers, name)
	}
	// The fifty schemas: one observer connection to their database, for
	// setting up, sampling and counting sessions.
	url := pgtest.ConnString(t)
	observer, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { observer.Close(context.Background()) })
	makeSchemas(t, observer, "tenant", 50)
	makeSchemas(t, observer, "other", 2) // not matched by the pattern
	before := sessions(t, observer)
	schemas, err := fleet.Schemas(ctx, withParam(url, "application_name", app), `tenant\_%`, nil)
	cfg, perr := pgx.ParseConfig(url)
	if perr != nil {
		t.Fatal(perr)
	}
	if err != nil || len(schemas) != 50 || schemas[0].Name != cfg.Database+"/tenant_01" || schemas[49].Name != cfg.Database+"/tenant_50" || schemas[0].Backend.Schema != "tenant_01" {
		t.Fatalf("Schemas: %d targets, %v", len(schemas), err)
	}
	targets = append(targets, schemas...)
	samplers = append(samplers, sample(observer, app))
	servers = append(servers, "the schemas' server")

	rep, err := fleet.Run(ctx, targets, set, plan.Latest(), &fleet.Options{Parallel: parallel, Canaries: []string{"server2"}})
	maxes := make([]int, len(samplers))
	for i, s := range samplers {
		if maxes[i], err = s.finish(); err != nil {
			t.Fatalf("sampling %s: %v", servers[i], err)
		}
	}
	if err != nil {
		t.Fatalf("%v\n%v", err, rep)
	}
	t.Logf("connections seen at most, per server: %v\n%s", maxes, rep.Summary())
	for i, n := range maxes {
		if n > parallel {
			t.Errorf("%s had %d of the fleet's connections at once; the bound is %d", servers[i], n, parallel)
		}
	}
	if maxes[3] < 2 {
		t.Errorf("the schemas' server had at most %d of the fleet's connections at once: the schemas did not run in parallel", maxes[3])
	}
	if got, want := rep.Count(fleet.Applied), len(targets); got != want {
		t.Errorf("%d targets applied, want %d\n%v", got, want, rep)
	}
	for _, r := range rep.Results {
		if r.From != 0 || r.To != 3 || len(r.Steps) != 3 || r.Err != nil {
			t.Errorf("%s: from %d to %d, %d steps, %v", r.Target, r.From, r.To, len(r.Steps), r.Err)
		}
	}
	// Fifty schemas, but the workers reused their connections: one per
	// worker, one more after a server target, one to list the schemas.
	if n := sessions(t, observer) - before; n > parallel+3+1 {
		t.Errorf("the fleet made %d connections to the schemas' database; want at most %d", n, parallel+3+1)
	}
	// Each schema has its own history, and each step ran once in it.
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, s := range schemas {
		if got := logOf(t, pool, s.Backend.Schema); len(got) != 3 || got[1] != 1 || got[2] != 1 || got[3] != 1 {
			t.Errorf("%s: runs per version %v, want each of 1, 2, 3 once", s.Name, got)
		}
		if got := versionsOf(t, pool, s.Backend.Schema); len(got) != 3 {
			t.Errorf("%s: history %v", s.Name, got)
		}
	}
	for _, schema := range []string{"public", "other_01"} {
		if got := versionsOf(t, pool, schema); len(got) != 0 {
			t.Errorf("schema %s has a history: %v", schema, got)
		}
	}
}

// schemaPool returns a pool on a new database holding the schemas
// prefix_01 ... prefix_n, and the targets of those schemas.
func schemaPool(t *testing.T, prefix string, n int) (*pgxpool.Pool, []fleet.Target) {
	t.Helper()
	url := pgtest.ConnString(t)
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	makeSchemas(t, pool, prefix, n)
	targets, err := fleet.Schemas(t.Context(), url, prefix+`\_%`, nil)
	if err != nil || len(targets) != n {
		t.Fatalf("Schemas: %d targets, %v", len(targets), err)
	}
	// One database: the tests name each target by its schema.
	for i := range targets {
		targets[i].Name = targets[i].Backend.Schema
	}
	return pool, targets
}

// Under the Continue policy every failure is reported, with its place in
// the file, and every healthy target is applied; a failing canary leaves
// the others untouched.
func TestFailuresOnPostgres(t *testing.T) {
	ctx := t.Context()
	set := tenantSet(t)
	pool, targets := schemaPool(t, "tenant", 10)
	broken := map[string]bool{"tenant_02": true, "tenant_05": true, "tenant_09": true}
	for name := range broken {
		if _, err := pool.Exec(ctx, "CREATE TABLE "+pgx.Identifier{name, "a2"}.Sanitize()+" (id int)"); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := fleet.Run(ctx, targets, set, plan.Latest(), &fleet.Options{Canaries: []string{"tenant_05"}})
	if !errors.Is(err, fleet.ErrCanaryFailed) || rep.Count(fleet.Skipped) != 9 || rep.Results[4].Outcome != fleet.Failed {
		t.Fatalf("a failing canary: %v\n%v", err, rep)
	}
	for _, tg := range targets {
		if got := versionsOf(t, pool, tg.Name); tg.Name != "tenant_05" && len(got) != 0 {
			t.Errorf("%s was touched after the canary failed: history %v", tg.Name, got)
		}
	}

	rep, err = fleet.Run(ctx, targets, set, plan.Latest(), &fleet.Options{OnError: fleet.Continue, Parallel: 4})
	var list fleet.ErrorList
	if !errors.As(err, &list) || len(list) != 3 {
		t.Fatalf("want 3 failures, got %v\n%v", err, rep)
	}
	for _, e := range list {
		var se *execute.StepError
		var pgErr *pgconn.PgError
		if !broken[e.Target] || !errors.As(e, &se) || se.Pos.String() != "m/v2_a2.up.sql:1:1" || !errors.As(e, &pgErr) || pgErr.Code != "42P07" {
			t.Errorf("failure %v; want a broken target's step error at m/v2_a2.up.sql:1:1, SQLSTATE 42P07", e)
		}
	}
	for _, r := range rep.Results {
		switch {
		case broken[r.Target] && r.Outcome == fleet.Failed:
			// v1 applied (the canary's earlier run had applied it for tenant_05)
			if got := logOf(t, pool, r.Target); len(got) != 1 || got[1] != 1 {
				t.Errorf("%s: runs per version %v, want version 1 once: version 2 rolled back", r.Target, got)
			}
		case !broken[r.Target] && r.Outcome == fleet.Applied && r.To == 3:
			if got := logOf(t, pool, r.Target); len(got) != 3 || got[1]+got[2]+got[3] != 3 {
				t.Errorf("%s: runs per version %v", r.Target, got)
			}
		default:
			t.Errorf("%s: %v from %d to %d: %v", r.Target, r.Outcome, r.From, r.To, r.Err)
		}
	}
	if !strings.Contains(rep.String(), "tenant_02: m/v2_a2.up.sql:1:1: ERROR: relation \"a2\" already exists (SQLSTATE 42P07)") {
		t.Errorf("the report lacks tenant_02's error:\n%v", rep)
	}
}

// slowSet has a transactional step (v2) and a no-transaction step (v3)
// that each create two tables with a pause between them; pause is the
// pause of v2 and v3, told apart by the server's view of what runs.
func slowSet(t *testing.T) *source.Set {
	return testsets.Map(t, map[string]string{
		"v1_a1.up.sql": "CREATE TABLE a1 (id int);\n",
		"v2_a2.up.sql": "CREATE TABLE a2 (id int);\nSELECT pg_sleep(0.41);\nCREATE TABLE b2 (id int);\n",
		"v3_a3.up.sql": "-- waymark:no-transaction\nCREATE TABLE a3 (id int);\nSELECT pg_sleep(0.42);\nCREATE TABLE b3 (id int);\n",
		"v4_a4.up.sql": "CREATE TABLE a4 (id int);\n",
	})
}

// Cancelling a run mid-step leaves every target at a step boundary, or
// dirty in a no-transaction step; never half a transactional step.
func TestCancelMidRun(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pause string // the statement running when the run is cancelled
	}{
		{"in a transaction", "pg_sleep(0.41)"},
		{"outside a transaction", "pg_sleep(0.42)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pool, targets := schemaPool(t, "tenant", 12)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go func() {
				// Cancel once two targets run the pause.
				for ctx.Err() == nil {
					var n int
					err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()", tt.pause).Scan(&n)
					if err == nil && n >= 2 {
						cancel()
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			rep, err := fleet.Run(ctx, targets, slowSet(t), plan.Latest(), &fleet.Options{Parallel: 4, OnError: fleet.Continue})
			if !errors.Is(err, context.Canceled) || !errors.Is(rep.Stopped, context.Canceled) {
				t.Fatalf("error %v, stopped %v; want context.Canceled\n%v", err, rep.Stopped, rep)
			}
			if rep.Count(fleet.Failed) < 2 || rep.Count(fleet.Skipped) < 1 {
				t.Errorf("want 2 or more targets cancelled while running and some not started:\n%v", rep)
			}
			dirty := 0
			for _, tg := range targets {
				dirty += checkBoundary(t, pool, tg.Name)
			}
			if tt.name == "outside a transaction" && dirty < 2 {
				t.Errorf("%d targets dirty; want those cancelled in version 3", dirty)
			}
			if tt.name == "in a transaction" && dirty != 0 {
				t.Errorf("%d targets dirty; want none", dirty)
			}
		})
	}
}

// checkBoundary fails the test unless schema is at a step boundary of
// slowSet: each recorded version's tables exist, none of the others do,
// except for a dirty no-transaction version 3, which may have created a3
// (and b3). It returns 1 if the schema is dirty.
func checkBoundary(t *testing.T, pool *pgxpool.Pool, schema string) int {
	t.Helper()
	st, err := pgxbackend.New(pool, &pgxbackend.Options{Schema: schema}).ReadState(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[int64]source.Direction{}
	for _, r := range st {
		recorded[r.Version] = r.Dirty
	}
	exists := func(table string) bool {
		var ok bool
		if err := pool.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, table}.Sanitize()).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for v, tables := range map[int64][]string{1: {"a1"}, 2: {"a2", "b2"}, 3: {"a3", "b3"}, 4: {"a4"}} {
		dirty, ok := recorded[v]
		for _, table := range tables {
			if v == 3 && dirty == source.Up {
				continue // statements before the cancelled one took effect
			}
			if exists(table) != ok {
				t.Errorf("%s: table %s exists: %v, version %d recorded: %v (history %v)", schema, table, exists(table), v, ok, st)
			}
		}
		if ok && dirty != 0 && v != 3 {
			t.Errorf("%s: transactional version %d is dirty", schema, v)
		}
	}
	for i, r := range st {
		if r.Version != int64(i+1) {
			t.Errorf("%s: history %v is not a prefix of the set", schema, st)
		}
	}
	if recorded[3] == source.Up {
		return 1
	}
	return 0
}

// Two fleet runs at once over the same schemas, one connecting by
// itself and one on backends of the caller's pool, while replicas boot
// against some of the schemas: every step runs once per schema.
func TestTwoFleetsAndReplicas(t *testing.T) {
	ctx := t.Context()
	set := tenantSet(t)
	pool, targets := schemaPool(t, "tenant", 20)
	onPool := make([]fleet.Target, len(targets))
	for i, tg := range targets {
		onPool[i] = fleet.Target{Name: tg.Name, DB: pgxbackend.New(pool, tg.Backend)}
	}
	var wg sync.WaitGroup
	var applied [3]int // by the first fleet, the second, the replicas
	var mu sync.Mutex
	for i, ts := range [][]fleet.Target{targets, onPool} {
		wg.Go(func() {
			rep, err := fleet.Run(ctx, ts, set, plan.Latest(), &fleet.Options{Parallel: 3})
			if err != nil {
				t.Errorf("fleet %d: %v\n%v", i+1, err, rep)
				return
			}
			for _, r := range rep.Results {
				mu.Lock()
				applied[i] += len(r.Steps)
				mu.Unlock()
			}
		})
	}
	for _, tg := range targets[:5] {
		wg.Go(func() {
			res, err := execute.Migrate(ctx, pgxbackend.New(pool, tg.Backend), set, plan.Latest(), nil)
			if err != nil {
				t.Errorf("replica on %s: %v", tg.Name, err)
				return
			}
			mu.Lock()
			applied[2] += len(res.Steps)
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("steps applied by the first fleet, the second, the replicas: %v", applied)
	if got, want := applied[0]+applied[1]+applied[2], 3*len(targets); got != want {
		t.Errorf("%d steps applied in all, want %d: one per version and schema", got, want)
	}
	for _, tg := range targets {
		if got := logOf(t, pool, tg.Name); len(got) != 3 || got[1] != 1 || got[2] != 1 || got[3] != 1 {
			t.Errorf("%s: runs per version %v, want each of 1, 2, 3 once", tg.Name, got)
		}
	}
}

// Status and Plan read every target without writing; Plan groups the
// targets with identical plans.
func TestStatusAndPlan(t *testing.T) {
	ctx := t.Context()
	set := tenantSet(t)
	pool, targets := schemaPool(t, "tenant", 12)
	// tenant_01..05 at 3, 06..09 at 1, 10 dirty at 2, 11 drifted, 12 at 0.
	if _, err := fleet.Run(ctx, targets[:5], set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Run(ctx, targets[5:11], set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO tenant_10.waymark_history SELECT app_key, 2, 'a2', checksum, applied_at, execution_time, 'up' FROM tenant_10.waymark_history;
UPDATE tenant_11.waymark_history SET checksum = repeat('0', 64)`); err != nil {
		t.Fatal(err)
	}
	unreachable := fleet.Target{Name: "gone", Conn: withParam(pgtest.ConnString(t), "dbname", "no_such_database")}
	all := append(targets[:len(targets):len(targets)], unreachable)

	st, err := fleet.Status(ctx, all, set, &fleet.Options{Parallel: 3})
	var list fleet.ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Target != "gone" || !errors.Is(err, fleet.ErrRead) {
		t.Errorf("Status error = %v; want the unreachable target only", err)
	}
	counts := map[string]int{}
	for _, c := range []string{"up to date", "behind", "dirty", "drifted", "unreadable"} {
		counts[c] = st.Count(c)
	}
	if want := map[string]int{"up to date": 5, "behind": 7, "dirty": 1, "drifted": 1, "unreadable": 1}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("status counts %v, want %v\n%v", counts, want, st)
	}
	if got := st.Summary(); got != "fleet status: 13 targets, files up to 3: 5 up to date, 7 behind, 1 dirty, 1 drifted, 1 unreadable" {
		t.Errorf("status summary: %q", got)
	}

	pr, err := fleet.Plan(ctx, all, set, plan.Latest(), &fleet.Options{Parallel: 3})
	if !errors.Is(err, fleet.ErrTargetRefused) || !errors.Is(err, fleet.ErrRead) || !errors.Is(err, plan.ErrDirty) || !errors.Is(err, plan.ErrDrift) {
		t.Errorf("Plan error = %v; want the dirty and drifted targets refused, the unreachable one unread", err)
	}
	var groups []string
	for _, g := range pr.Groups {
		s := fmt.Sprintf("%d:%s", len(g.Targets), strings.Join(g.Targets, ","))
		if g.Plan != nil {
			s += fmt.Sprintf(" at %d %v", g.Plan.From, g.Plan.Versions())
		}
		groups = append(groups, s)
	}
	want := []string{
		"5:tenant_01,tenant_02,tenant_03,tenant_04,tenant_05 at 3 []",
		"4:tenant_06,tenant_07,tenant_08,tenant_09 at 1 [2 3]",
		"1:tenant_12 at 0 [1 2 3]",
		"1:tenant_10", "1:tenant_11", "1:gone",
	}
	if fmt.Sprint(groups) != fmt.Sprint(want) {
		t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(groups, "\n"), strings.Join(want, "\n"))
	}
	out := pr.String()
	for _, s := range []string{
		"5 targets at 3: nothing to do\n",
		"4 targets at 1: up to 3, apply 2, 3\n  tenant_06, tenant_07, tenant_08, tenant_09\n  plan: up from 1 to 3 (2 steps)\n",
		"fleet plan: 13 targets, latest, in 6 groups: 5 with steps, 5 with nothing to do, 2 refused, 1 unreadable\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("the plan report lacks %q:\n%s", s, out)
		}
	}
	// Nothing was written: the target at 0 still has no history table.
	if got := versionsOf(t, pool, "tenant_12"); len(got) != 0 {
		t.Errorf("tenant_12 has a history after Status and Plan: %v", got)
	}
	var tables int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'tenant_12'").Scan(&tables); err != nil || tables != 0 {
		t.Errorf("tenant_12 has %d tables, %v", tables, err)
	}
}

// TestSchemasNames: the schemas of several databases are named apart,
// database/schema, or with the host when two servers have a database of
// the same name, so that one fleet call takes them all.
func TestSchemasNames(t *testing.T) {
	ctx := t.Context()
	url1 := pgtest.ConnString(t)
	pool1, err := pgxpool.New(ctx, url1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool1.Close()
	makeSchemas(t, pool1, "tenant", 2)
	cfg1, err := pgx.ParseConfig(url1)
	if err != nil {
		t.Fatal(err)
	}
	// A second database on the same server, with a schema of the same name.
	second := cfg1.Database + "_b"
	if _, err := pool1.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{second}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = pool1.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{second}.Sanitize()+" WITH (FORCE)")
	})
	url2 := withParam(url1, "dbname", second)
	conn2, err := pgx.Connect(ctx, url2)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(context.Background())
	makeSchemas(t, conn2, "tenant", 1)

	set := tenantSet(t)
	names := func(targets []fleet.Target) []string {
		var out []string
		for _, tg := range targets {
			out = append(out, tg.Name)
		}
		return out
	}
	a, err := fleet.Schemas(ctx, url1, `tenant\_%`, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fleet.Schemas(ctx, url2, `tenant\_%`, nil)
	if err != nil {
		t.Fatal(err)
	}
	appended := append(a, b...)
	want := []string{cfg1.Database + "/tenant_01", cfg1.Database + "/tenant_02", second + "/tenant_01"}
	if diff := cmp.Diff(want, names(appended)); diff != "" {
		t.Errorf("names of the appended targets (-want +got):\n%s", diff)
	}
	if rep, err := fleet.Status(ctx, appended, set, nil); err != nil || rep.Count("behind") != 3 {
		t.Errorf("Status of the appended targets: %v, %v", err, rep)
	}
	on, err := fleet.SchemasOn(ctx, []string{url1, url2}, `tenant\_%`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, names(on)); diff != "" {
		t.Errorf("SchemasOn names (-want +got):\n%s", diff)
	}

	// A pattern PostgreSQL rejects says so, whether a name matches up to
	// the bad escape (PostgreSQL's error) or none does (waymark's check).
	for _, pattern := range []string{`tenant\`, `zzz\`, `tenant\\\`} {
		_, err = fleet.Schemas(ctx, url1, pattern, nil)
		if !errors.Is(err, fleet.ErrBadPattern) || !strings.Contains(err.Error(), "'"+pattern+"'") || strings.Contains(err.Error(), "cannot read") {
			t.Errorf(`Schemas with the pattern %s = %v, want ErrBadPattern naming the pattern`, pattern, err)
		}
	}
	if _, err := fleet.Schemas(ctx, url1, `tenant\\`, nil); err != nil {
		t.Errorf(`Schemas with the pattern tenant\\ (a backslash) = %v`, err)
	}

	// Two servers with a database of the same name: the host tells them
	// apart.
	if testing.Short() {
		t.Skip("-short: the host case needs a second server")
	}
	c := pgtest.OwnCluster(t)
	admin, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg1.Database}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	url3 := c.ConnString(cfg1.Database)
	conn3, err := pgx.Connect(ctx, url3)
	if err != nil {
		t.Fatal(err)
	}
	defer conn3.Close(context.Background())
	makeSchemas(t, conn3, "tenant", 1)
	cfg3, err := pgx.ParseConfig(url3)
	if err != nil {
		t.Fatal(err)
	}
	on, err = fleet.SchemasOn(ctx, []string{url1, url3}, `tenant\_%`, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{fleet.NameOf(cfg1) + "/tenant_01", fleet.NameOf(cfg1) + "/tenant_02", fleet.NameOf(cfg3) + "/tenant_01"}
	if diff := cmp.Diff(want, names(on)); diff != "" {
		t.Errorf("SchemasOn names with one database name on two servers (-want +got):\n%s", diff)
	}
	if rep, err := fleet.Status(ctx, on, set, nil); err != nil || rep.Count("behind") != 3 {
		t.Errorf("Status: %v, %v", err, rep)
	}
}

// serverLog returns a function that reads what the server of pool has
// logged since serverLog was called, or skips the test when the log cannot
// be read (a server of the test kit's own writes it beside its data
// directory; reading it needs a superuser).
func serverLog(t *testing.T, pool *pgxpool.Pool) func() string {
	t.Helper()
	const where = "pg_catalog.current_setting('data_directory') || '/../postgres.log'"
	var size int64
	if err := pool.QueryRow(t.Context(), "SELECT size FROM pg_catalog.pg_stat_file("+where+")").Scan(&size); err != nil {
		t.Skipf("the server's log cannot be read (%v): this test needs the test kit's own server", err)
	}
	return func() string {
		t.Helper()
		var text string
		if err := pool.QueryRow(t.Context(), "SELECT pg_catalog.pg_read_file("+where+", $1, 100000000)", size).Scan(&text); err != nil {
			t.Fatal(err)
		}
		return text
	}
}

// TestFreshTargetsFailNoStatement: status, plan and apply of fresh
// targets (no history table yet) find that out without a failed statement
// in the server's log, repeatable scripts' records included.
func TestFreshTargetsFailNoStatement(t *testing.T) {
	ctx := t.Context()
	pool, targets := schemaPool(t, "fresh", 3)
	logged := serverLog(t, pool)
	table := fmt.Sprintf("history_%d", time.Now().UnixNano())
	for i := range targets {
		targets[i].Backend.Table = table
	}
	set := testsets.Map(t, map[string]string{
		"v1_log.up.sql": "CREATE TABLE applied_log (version int NOT NULL);\nINSERT INTO applied_log VALUES (1);\n",
		"v2_a2.up.sql":  "CREATE TABLE a2 (id int);\nINSERT INTO applied_log VALUES (2);\n",
		"r_view.sql":    "CREATE OR REPLACE VIEW answer AS SELECT 1 AS n;\n",
	})
	if _, err := fleet.Status(ctx, targets, set, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Plan(ctx, targets, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if rep, err := fleet.Run(ctx, targets, set, plan.Latest(), nil); err != nil || rep.Count(fleet.Applied) != 3 {
		t.Fatalf("Run: %v\n%v", err, rep)
	}
	// The control: a failed statement on that table does reach the log.
	if _, err := pool.Exec(ctx, "SELECT FROM fresh_01."+table+"_control"); err == nil {
		t.Fatal("the control statement did not fail")
	}
	text := logged()
	if !strings.Contains(text, `relation "fresh_01.`+table+`_control" does not exist`) {
		t.Fatalf("the control's error is not in the server's log: the test reads the wrong log\n%s", text)
	}
	if n := strings.Count(text, table+`" does not exist`); n > 0 {
		t.Errorf("the server logged %d failed statements on the missing history table:\n%s", n, text)
	}
}
