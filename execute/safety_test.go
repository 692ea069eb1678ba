package execute_test

// Production safety on a real PostgreSQL (and PgBouncer): the same schema
// however steps are batched, exactly once behind a transaction pooler,
// honest faults, timeouts that protect traffic.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

func poolFor(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func scalar[T any](t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string) T {
	t.Helper()
	var v T
	if err := q.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// stateSet's v1 changes every kind of session state; v2 records the state
// it starts with.
func stateSet(t *testing.T) *source.Set {
	return mapSet(t, map[string]string{
		"v1_mess.up.sql": "CREATE SCHEMA app;\nSET search_path = app;\nCREATE TABLE t (id int);\n" +
			"CREATE TEMP TABLE scratch (x int);\nSET lock_timeout = '1ms';\nSET work_mem = '13MB';\nSET ROLE migrator;",
		"v2_look.up.sql": "CREATE TABLE public.seen AS SELECT current_user::text AS usr, current_setting('search_path') AS sp,\n" +
			"  current_setting('lock_timeout') AS lt, current_setting('work_mem') AS wm,\n" +
			"  (SELECT count(*) FROM pg_class WHERE relpersistence = 't')::int AS temps;\nCREATE TABLE t2 (id int);",
	})
}

type seen struct {
	Usr, SP, LT, WM string
	Temps           int
}

func readSeen(t *testing.T, pool *pgxpool.Pool) seen {
	t.Helper()
	var s seen
	err := pool.QueryRow(context.Background(), "SELECT usr, sp, lt, wm, temps FROM public.seen").Scan(&s.Usr, &s.SP, &s.LT, &s.WM, &s.Temps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Every step starts from the same session state, so the schema does not
// depend on how the versions were batched into runs.
func TestSafetySameSchemaHoweverBatched(t *testing.T) {
	ctx := context.Background()
	type run struct {
		name    string
		targets []plan.Target
		opts    *execute.Options
	}
	var results []seen
	var objects [][]string
	for _, r := range []run{
		{"one run", []plan.Target{plan.Latest()}, nil},
		{"two runs", []plan.Target{plan.To(1), plan.Latest()}, nil},
		{"single transaction", []plan.Target{plan.Latest()}, &execute.Options{SingleTransaction: true}},
	} {
		t.Run(r.name, func(t *testing.T) {
			pool := pgtest.Pool(t)
			if _, err := pool.Exec(ctx, "DO $$ BEGIN CREATE ROLE migrator; EXCEPTION WHEN duplicate_object THEN NULL; END $$"); err != nil {
				t.Fatal(err)
			}
			db := pgxbackend.New(pool, nil)
			for _, target := range r.targets {
				if _, err := execute.Migrate(ctx, db, stateSet(t), target, r.opts); err != nil {
					t.Fatal(err)
				}
			}
			got := readSeen(t, pool)
			want := seen{Usr: "postgres", SP: `"$user", public`, LT: "0", WM: "4MB", Temps: 0}
			if got != want {
				t.Errorf("v2 started from %+v, want %+v", got, want)
			}
			results = append(results, got)
			objects = append(objects, pgtest.Objects(t, pool))
		})
	}
	for i := 1; i < len(objects); i++ {
		if strings.Join(objects[i], ",") != strings.Join(objects[0], ",") {
			t.Errorf("objects differ between runs:\n%q\n%q", objects[0], objects[i])
		}
	}
}

// A *pgx.Conn given to waymark keeps its settings: steps start from them,
// and they are back after the run.
func TestSafetyCallersConnKeepsItsSettings(t *testing.T) {
	ctx := context.Background()
	conn := pgtest.Conn(t)
	if _, err := conn.Exec(ctx, "CREATE ROLE migrator"); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET work_mem = '7MB'"); err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Migrate(ctx, pgxbackend.New(conn, nil), stateSet(t), plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	var s seen
	if err := conn.QueryRow(ctx, "SELECT usr, sp, lt, wm, temps FROM public.seen").Scan(&s.Usr, &s.SP, &s.LT, &s.WM, &s.Temps); err != nil {
		t.Fatal(err)
	}
	if want := (seen{"postgres", `"$user", public`, "0", "7MB", 0}); s != want {
		t.Errorf("v2 started from %+v, want %+v (the connection's own work_mem)", s, want)
	}
	var wm, usr, sp, interval string
	if err := conn.QueryRow(ctx, "SELECT current_setting('work_mem'), current_user::text, current_setting('search_path'), current_setting('client_connection_check_interval')").
		Scan(&wm, &usr, &sp, &interval); err != nil {
		t.Fatal(err)
	}
	if wm != "7MB" || usr != "postgres" || sp != `"$user", public` || interval != "0" {
		t.Errorf("after the run the connection has work_mem %s, user %s, search_path %s, client_connection_check_interval %s; want 7MB, postgres, the default, 0",
			wm, usr, sp, interval)
	}
}

// A step whose fence finds the lock gone changes nothing: here v1's script
// gives the advisory lock up, as a transaction-mode pooler would lose it.
func TestSafetyFenceStopsAStepWithoutTheLock(t *testing.T) {
	pool := pgtest.Pool(t)
	set := mapSet(t, map[string]string{
		"v1_drop_lock.up.sql": "SELECT pg_advisory_unlock_all();",
		"v2_after.up.sql":     "CREATE TABLE after_loss (id int);",
	})
	res, err := execute.Migrate(context.Background(), pgxbackend.New(pool, nil), set, plan.Latest(), nil)
	var se *execute.StepError
	if !errors.Is(err, backend.ErrLockLost) || !errors.As(err, &se) || se.Version != 2 {
		t.Fatalf("Migrate = %v, want version 2 failing with ErrLockLost", err)
	}
	if !strings.Contains(err.Error(), "transaction-mode connection pooler") {
		t.Errorf("error %q does not say what to do", err)
	}
	if len(res.Steps) != 1 || contains(pgtest.Objects(t, pool), "r public.after_loss") {
		t.Errorf("steps %+v, objects %q: version 2 must not have run", res.Steps, pgtest.Objects(t, pool))
	}
	checkHistory(t, pool, set, 1)
}

// raceSet is n migrations that each record that they ran.
func raceSet(n int) map[string]string {
	files := map[string]string{"v0001_log.up.sql": "CREATE TABLE ran (version int NOT NULL);\nINSERT INTO ran VALUES (1);"}
	for v := 2; v <= n; v++ {
		files[fmt.Sprintf("v%04d_t%d.up.sql", v, v)] = fmt.Sprintf("CREATE TABLE t%d (id int);\nINSERT INTO ran VALUES (%d);\nSELECT pg_sleep(0.005);", v, v)
	}
	return files
}

// checkRanOnce fails unless versions 1..n each ran exactly once.
func checkRanOnce(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	got := scalar[string](t, pool, "SELECT coalesce(string_agg(version || 'x' || c, ','), '') FROM (SELECT version, count(*) c FROM ran GROUP BY version HAVING count(*) <> 1) x")
	total := scalar[int](t, pool, "SELECT count(DISTINCT version)::int FROM ran")
	hist := scalar[int](t, pool, "SELECT count(*)::int FROM waymark_history WHERE dirty IS NULL")
	if got != "" || total != n || hist != n {
		t.Errorf("versions run more than once: %q; %d distinct of %d; %d clean history rows", got, total, n, hist)
	}
}

// 16 processes race Migrate, three rounds: each version once, no errors,
// no lock left.
func TestSafetyProcessesRaceDirect(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark under load or of its own machinery, not of the PostgreSQL version; make test runs it")
	}
	const n, procs = 50, 16
	dir := writeSet(t, raceSet(n))
	for round := range 3 {
		url := pgtest.ConnString(t)
		reports := race(t, procs, childSpec{URL: url, Dir: dir, Lock: "auto", Timeout: 2 * time.Minute})
		applied := 0
		for i, r := range reports {
			if r.Kind != "" {
				t.Errorf("round %d, process %d: %s: %s", round, i, r.Kind, r.Err)
			}
			applied += r.Steps
		}
		pool := poolFor(t, url)
		checkRanOnce(t, pool, n)
		if applied != n {
			t.Errorf("round %d: the processes report %d steps applied, want %d", round, applied, n)
		}
		checkNoLeftovers(t, pool)
	}
}

// 8 processes race Migrate through PgBouncer in transaction pooling mode:
// the default lock finds the pooler and takes a lease; each version runs
// once, every process succeeds, no lease or lock is left behind.
func TestSafetyProcessesRaceThroughPgBouncer(t *testing.T) {
	const n, procs = 30, 8
	dir := writeSet(t, raceSet(n))
	url := pgtest.Bouncer(t, "transaction")
	reports := race(t, procs, childSpec{URL: url, Dir: dir, Lock: "auto", Timeout: 2 * time.Minute})
	for i, r := range reports {
		if r.Kind != "" {
			t.Errorf("process %d: %s: %s", i, r.Kind, r.Err)
		}
	}
	pool := poolFor(t, url)
	checkRanOnce(t, pool, n)
	if leases := scalar[int](t, pool, "SELECT count(*)::int FROM waymark_lease"); leases != 0 {
		t.Errorf("%d leases left behind", leases)
	}
	if locks := scalar[int](t, pool, "SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"); locks != 0 {
		t.Errorf("%d advisory locks left on the server's connections", locks)
	}
}

// An explicit advisory lock behind a pooler is refused before anything
// runs, naming the option.
func TestSafetyAdvisoryLockBehindAPoolerIsRefused(t *testing.T) {
	url := pgtest.Bouncer(t, "transaction")
	pool := poolFor(t, url)
	set := mapSet(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int);"})
	_, err := execute.Migrate(context.Background(), pgxbackend.New(pool, &pgxbackend.Options{Lock: pgxbackend.LockAdvisory}), set, plan.Latest(), nil)
	var oe *pgxbackend.OptionError
	if !errors.As(err, &oe) || oe.Option != "Options.Lock" || !strings.Contains(err.Error(), "pooler") {
		t.Fatalf("Migrate with LockAdvisory through PgBouncer = %v, want an OptionError for Options.Lock naming the pooler", err)
	}
	if contains(pgtest.Objects(t, pool), "r public.t") {
		t.Error("the step ran")
	}
}

// A lease whose holder was killed is taken over once it expires.
func TestSafetyLeaseOfAKilledHolderExpires(t *testing.T) {
	url := pgtest.ConnString(t)
	holder := startHolder(t, childSpec{URL: url, Lock: "lease", LeaseTTL: 2 * time.Second, Timeout: time.Minute})
	pool := poolFor(t, url)
	db := pgxbackend.New(pool, &pgxbackend.Options{Lock: pgxbackend.LockLease, LeaseTTL: 2 * time.Second})
	if s, err := db.TryLock(context.Background()); !errors.Is(err, backend.ErrLocked) {
		if err == nil {
			s.Unlock(context.Background())
		}
		t.Fatalf("TryLock while the holder lives = %v, want ErrLocked", err)
	}
	if err := holder.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	set := mapSet(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int);"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatalf("Migrate after the holder died: %v", err)
	}
	if took := time.Since(killed); took < time.Second {
		t.Errorf("took over after %v, before the lease could have expired", took)
	}
	checkHistory(t, pool, set, 1)
}

// The server stops a step whose client was killed instead of running it to
// its end and committing it.
func TestSafetyKilledClientsStepIsRolledBack(t *testing.T) {
	url := pgtest.ConnString(t)
	dir := writeSet(t, map[string]string{"v1_slow.up.sql": "CREATE TABLE killed (id int);\nSELECT pg_sleep(4) AS waymark_kill_marker;"})
	c := startChild(t, childSpec{URL: url, Dir: dir, Lock: "auto", Timeout: time.Minute})
	pool := poolFor(t, url)
	var pid int
	deadline := time.Now().Add(20 * time.Second)
	for pid == 0 {
		err := pool.QueryRow(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%waymark_kill_marker%' AND pid <> pg_backend_pid()").Scan(&pid)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the step never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_ = c.cmd.Wait()
	for {
		n := scalar[int](t, pool, fmt.Sprintf("SELECT count(*)::int FROM pg_stat_activity WHERE pid = %d", pid))
		if n == 0 {
			break
		}
		if time.Since(killed) > 2*time.Second {
			t.Fatalf("the server still runs the killed client's step %v later", time.Since(killed))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Until(killed.Add(4500 * time.Millisecond))) // past the step's own end
	if contains(pgtest.Objects(t, pool), "r public.killed") {
		t.Error("the killed client's step was committed")
	}
}

// runningPID waits until a statement containing marker runs and returns
// its server process.
func runningPID(t *testing.T, pool *pgxpool.Pool, marker string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var pid int
		err := pool.QueryRow(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%'||$1||'%' AND pid <> pg_backend_pid() AND state = 'active'", marker).Scan(&pid)
		if err == nil {
			return pid
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement with %q started", marker)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A step whose session is terminated is rolled back and reported as a lost
// connection; the run can be repeated.
func TestSafetyTerminatedStep(t *testing.T) {
	pool := pgtest.Pool(t)
	set := mapSet(t, map[string]string{
		"v1_t.up.sql":    "CREATE TABLE t (id int);",
		"v2_slow.up.sql": "CREATE TABLE slow (id int);\nSELECT pg_sleep(5) AS waymark_terminate_marker;",
	})
	db := pgxbackend.New(pool, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := execute.Migrate(context.Background(), db, set, plan.Latest(), nil)
		errc <- err
	}()
	pid := runningPID(t, pool, "waymark_terminate_marker")
	if _, err := pool.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	var ce *backend.ConnectionError
	var se *execute.StepError
	var script *backend.ScriptError
	if !errors.As(err, &ce) || ce.Outcome != backend.OutcomeRolledBack || !errors.As(err, &se) || se.Version != 2 || errors.As(err, &script) {
		t.Fatalf("Migrate with its session terminated = %v, want a StepError for version 2 with a rolled-back ConnectionError", err)
	}
	if !strings.Contains(err.Error(), "rolled the step back") {
		t.Errorf("error %q does not say the step was rolled back", err)
	}
	checkHistory(t, pool, set, 1)
	if _, err := execute.Migrate(context.Background(), db, set, plan.Latest(), nil); err != nil {
		t.Fatalf("running again: %v", err)
	}
	checkHistory(t, pool, set, 1, 2)
}

// An immediate shutdown of the server mid-run: the error is a lost
// connection, not a script's; after a restart the history matches the
// schema exactly (every step applied and recorded, or neither), and the run
// finishes.
func TestSafetyServerCrashMidRun(t *testing.T) {
	cluster := pgtest.OwnCluster(t)
	url := cluster.ConnString("postgres")
	const n = 40
	files := map[string]string{}
	for v := 1; v <= n; v++ {
		files[fmt.Sprintf("v%02d_t%d.up.sql", v, v)] = fmt.Sprintf("CREATE TABLE t%d (id int);\nSELECT pg_sleep(0.03);", v)
	}
	set := mapSet(t, files)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil)
		errc <- err
	}()
	// Crash once a few steps are in, while the others run.
	for deadline := time.Now().Add(time.Minute); ; {
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM waymark_history").Scan(&n)
		if err == nil && n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no steps recorded within a minute (%v)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cluster.Crash(); err != nil {
		t.Fatal(err)
	}
	err = <-errc
	pool.Close()
	var script *backend.ScriptError
	if !errors.Is(err, backend.ErrConnectionLost) || errors.As(err, &script) {
		t.Fatalf("Migrate during a crash = %v, want a lost connection and no script error", err)
	}
	if err := cluster.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	pool = poolFor(t, url)
	// The steps before the last commit without a flush: the crash may
	// take the last of them, even all of them with the history table the
	// first one created, but only whole.
	recorded := 0
	if scalar[bool](t, pool, "SELECT to_regclass('waymark_history') IS NOT NULL") {
		recorded = scalar[int](t, pool, "SELECT count(*)::int FROM waymark_history")
	}
	for v := 1; v <= n; v++ {
		inHistory := recorded > 0 && scalar[bool](t, pool, fmt.Sprintf("SELECT EXISTS (SELECT FROM waymark_history WHERE version = %d)", v))
		exists := scalar[bool](t, pool, fmt.Sprintf("SELECT to_regclass('t%d') IS NOT NULL", v))
		if inHistory != exists {
			t.Errorf("version %d: recorded %v, table exists %v", v, inHistory, exists)
		}
	}
	t.Logf("after the crash, %d of %d steps are recorded (steps seen before it: at least 3)", recorded, n)
	if _, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if got := scalar[int](t, pool, "SELECT count(*)::int FROM waymark_history"); got != n {
		t.Errorf("%d versions recorded after the second run, want %d", got, n)
	}
}

// blocker holds a lock on table in another session until release is
// called.
func blocker(t *testing.T, pool *pgxpool.Pool, table string) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback(ctx) }) }
	t.Cleanup(release)
	return release
}

// A step that needs a table another session holds gives up after the lock
// timeout, recording nothing; with retries it goes through once the table
// is free.
func TestSafetyLockTimeout(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := mapSet(t, map[string]string{
		"v1_busy.up.sql":  "CREATE TABLE busy (id int);",
		"v2_alter.up.sql": "ALTER TABLE busy ADD COLUMN note text;",
	})
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	release := blocker(t, pool, "busy")
	start := time.Now()
	_, err := execute.Migrate(ctx, db, set, plan.Latest(), &execute.Options{LockTimeout: 200 * time.Millisecond})
	var pgErr *pgconn.PgError
	var se *execute.StepError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" || !errors.As(err, &se) || se.Version != 2 {
		t.Fatalf("Migrate = %v, want version 2 failing with lock_not_available (55P03)", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the step gave up after %v, want soon after its 200ms lock timeout", took)
	}
	if !strings.Contains(err.Error(), "LockTimeout") {
		t.Errorf("error %q does not explain the timeout", err)
	}
	checkHistory(t, pool, set, 1)

	go func() {
		time.Sleep(1200 * time.Millisecond)
		release()
	}()
	var logs bytes.Buffer
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), &execute.Options{LockTimeout: 200 * time.Millisecond, LockTimeoutRetries: 4,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil || len(res.Steps) != 1 {
		t.Fatalf("Migrate with retries = %v, %v; want version 2 applied", res.Steps, err)
	}
	if !strings.Contains(logs.String(), "trying again") {
		t.Errorf("no retry was logged:\n%s", logs.String())
	}
	checkHistory(t, pool, set, 1, 2)
}

// A statement timeout bounds each statement of a step.
func TestSafetyStatementTimeout(t *testing.T) {
	pool := pgtest.Pool(t)
	set := mapSet(t, map[string]string{"v1_slow.up.sql": "CREATE TABLE s (id int);\nSELECT pg_sleep(3);"})
	_, err := execute.Migrate(context.Background(), pgxbackend.New(pool, nil), set, plan.Latest(), &execute.Options{StatementTimeout: 100 * time.Millisecond})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("Migrate = %v, want the statement timeout (57014)", err)
	}
	checkHistory(t, pool, set)
}

// Waiting for the migration lock is logged with its holder, and a wait the
// context ends is a typed error naming the holder.
func TestSafetyLockWaitIsLoggedAndTyped(t *testing.T) {
	pool := pgtest.Pool(t)
	set := mapSet(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int);"})
	held, err := pgxbackend.New(pool, nil).TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock(context.Background())
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), &execute.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	var le *execute.LockError
	if !errors.As(err, &le) || !errors.Is(err, execute.ErrLockTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Migrate = %v, want a LockError (ErrLockTimeout, context.DeadlineExceeded)", err)
	}
	if !strings.HasPrefix(le.Holder.ID, "pid ") || le.Holder.Since.IsZero() || !strings.Contains(err.Error(), "held by pid ") {
		t.Errorf("LockError = %+v (%v), want the holder's pid and since when", le, err)
	}
	if !strings.Contains(logs.String(), "level=INFO msg=\"waymark: waiting for the migration lock\" held_by=\"pid ") {
		t.Errorf("the wait was not logged at Info with its holder:\n%s", logs.String())
	}
}

// A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an invalid index; its
// IF NOT EXISTS re-run must not record the version as applied.
func TestSafetyInvalidIndexFailsTheStep(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	set := mapSet(t, map[string]string{
		"v1_items.up.sql": "CREATE TABLE items (sku text);\nINSERT INTO items VALUES ('a'), ('a');",
		"v2_uniq.up.sql":  "-- waymark:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_sku ON items (sku);",
	})
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err == nil {
		t.Fatal("Migrate over duplicates succeeded")
	}
	// The operator removes the duplicate but forgets the invalid index.
	if _, err := pool.Exec(ctx, "DELETE FROM items WHERE ctid = (SELECT max(ctid) FROM items)"); err != nil {
		t.Fatal(err)
	}
	if err := execute.Resolve(ctx, db, 2, execute.MarkNotApplied, nil); err != nil {
		t.Fatal(err)
	}
	_, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	var se *execute.StepError
	if !errors.Is(err, backend.ErrInvalidIndex) || !errors.As(err, &se) || !se.Dirty || !strings.Contains(err.Error(), "DROP INDEX CONCURRENTLY public.items_sku;") {
		t.Fatalf("Migrate with the invalid index left = %v, want ErrInvalidIndex, dirty, with the fix", err)
	}
	// Done right: drop it, resolve, run again.
	if _, err := pool.Exec(ctx, "DROP INDEX CONCURRENTLY items_sku"); err != nil {
		t.Fatal(err)
	}
	if err := execute.Resolve(ctx, db, 2, execute.MarkNotApplied, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if !scalar[bool](t, pool, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_sku'::regclass") {
		t.Error("the index is not valid")
	}
}

// Invalid backend options are reported before anything touches the
// database, naming the option.
func TestSafetyBadOptionsBeforeTheDatabase(t *testing.T) {
	pool := poolFor(t, "host=/nonexistent port=1 user=u dbname=d connect_timeout=1")
	set := mapSet(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int);"})
	db := pgxbackend.New(pool, &pgxbackend.Options{Table: strings.Repeat("x", 70)})
	for name, call := range map[string]func() error{
		"Migrate": func() error { _, err := execute.Migrate(context.Background(), db, set, plan.Latest(), nil); return err },
		"Resolve": func() error { return execute.Resolve(context.Background(), db, 1, execute.MarkApplied, nil) },
		"Run": func() error {
			p, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
			if err != nil {
				return err
			}
			_, err = execute.Run(context.Background(), db, p, nil)
			return err
		},
	} {
		err := call()
		if !errors.Is(err, backend.ErrBadOptions) || !strings.HasPrefix(err.Error(), "pgxbackend: Options.Table ") {
			t.Errorf("%s = %v, want the OptionError for Options.Table itself", name, err)
		}
	}
}

// A connection string's password never appears in an error or a log line.
func TestSafetyPasswordNeverShown(t *testing.T) {
	const secret = "s3cret-Pa55w0rd"
	url := pgtest.ConnString(t) + " password=" + secret
	pool := poolFor(t, url)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	set := mapSet(t, map[string]string{"v1_t.up.sql": "CREATE TABLE t (id int);", "v2_bad.up.sql": "SELECT * FROM nowhere;"})
	var errs []error
	_, err := execute.Migrate(context.Background(), pgxbackend.New(pool, nil), set, plan.Latest(), &execute.Options{Logger: logger})
	errs = append(errs, err)
	held, err := pgxbackend.New(pool, nil).TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), &execute.Options{Logger: logger})
	cancel()
	errs = append(errs, err)
	held.Unlock(context.Background())
	broken := poolFor(t, "host=127.0.0.1 port=1 user=u dbname=d connect_timeout=1 password="+secret)
	_, err = execute.Migrate(context.Background(), pgxbackend.New(broken, nil), set, plan.Latest(), &execute.Options{Logger: logger})
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("case %d: the error shows the password: %v", i, err)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the logs show the password:\n%s", logs.String())
	}
}
