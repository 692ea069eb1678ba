package execute_test

// One test per documented guarantee that a deliberate break of it once
// went unnoticed: each fails when its guarantee does not hold.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
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
)

// commitSet is n steps that each record, in table commits, the
// synchronous_commit their transaction commits with and the position in
// the WAL written and flushed when their script ran.
func commitSet(t *testing.T, n int) map[string]string {
	t.Helper()
	record := "INSERT INTO commits VALUES (%d, current_setting('synchronous_commit'), pg_current_wal_insert_lsn(), pg_current_wal_flush_lsn());"
	files := map[string]string{"v1_commits.up.sql": "CREATE TABLE commits (version int, sync text, written pg_lsn, flushed pg_lsn);\n" + fmt.Sprintf(record, 1)}
	for v := 2; v <= n; v++ {
		files[fmt.Sprintf("v%d_step.up.sql", v)] = fmt.Sprintf(record, v)
	}
	return files
}

// Options.DurableEveryStep makes every step's commit wait for the disk;
// without it every step but the last skips the wait, and the last one,
// which flushes them all, does not. On a server with PostgreSQL's durable
// defaults (the usual test servers run with synchronous_commit off, where
// the difference cannot show).
func TestGuaranteeDurableEveryStep(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		durable bool
		want    string
	}{
		{false, "1 off, 2 off, 3 off, 4 on"},
		{true, "1 on, 2 on, 3 on, 4 on"},
	} {
		t.Run(fmt.Sprintf("DurableEveryStep=%v", tt.durable), func(t *testing.T) {
			pool := poolFor(t, pgtest.DurableConnString(t))
			if sc := scalar[string](t, pool, "SHOW synchronous_commit"); sc != "on" {
				t.Fatalf("the durable server has synchronous_commit %s", sc)
			}
			set := mapSet(t, commitSet(t, 4))
			if _, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), &execute.Options{DurableEveryStep: tt.durable}); err != nil {
				t.Fatal(err)
			}
			if got := scalar[string](t, pool, "SELECT string_agg(version || ' ' || sync, ', ' ORDER BY version) FROM commits"); got != tt.want {
				t.Errorf("the steps committed with synchronous_commit %q, want %q", got, tt.want)
			}
			if tt.durable {
				// Each step's commit was on disk before the next step ran.
				late := scalar[string](t, pool, `SELECT coalesce(string_agg(b.version::text, ','), '') FROM commits a JOIN commits b ON b.version = a.version + 1
					WHERE b.flushed < a.written`)
				if late != "" {
					t.Errorf("steps %s ran before the commit of the step before them was flushed", late)
				}
			}
		})
	}
}

// A failed run's commits that skipped the disk are flushed before Unlock
// reports the lock free, whether the failing step is the last or not. The
// WAL writer is slowed down so that nothing else flushes them meanwhile.
func TestGuaranteeUnlockFlushesAFailedRun(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		files map[string]string
	}{
		{"failing last step", map[string]string{"v3_fail.up.sql": "SELECT 1/0;"}},
		{"failing middle step", map[string]string{"v3_fail.up.sql": "SELECT 1/0;", "v4_never.up.sql": "CREATE TABLE never (id int);"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pool := poolFor(t, pgtest.DurableConnString(t))
			for _, sql := range []string{"ALTER SYSTEM SET wal_writer_delay = '10s'", "ALTER SYSTEM SET wal_writer_flush_after = '64MB'", "SELECT pg_reload_conf()"} {
				if _, err := pool.Exec(ctx, sql); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() {
				for _, sql := range []string{"ALTER SYSTEM RESET wal_writer_delay", "ALTER SYSTEM RESET wal_writer_flush_after", "SELECT pg_reload_conf()"} {
					if _, err := pool.Exec(context.Background(), sql); err != nil {
						t.Error(err)
					}
				}
			})
			time.Sleep(200 * time.Millisecond) // the WAL writer reads its settings
			files := map[string]string{
				"v1_marks.up.sql": "CREATE TABLE marks (written pg_lsn);",
				// The pause lets the WAL writer flush v1 (its first
				// flush in a while is at once), so that v2's commit is
				// the one left in memory.
				"v2_mark.up.sql": "SELECT pg_sleep(0.5);\nINSERT INTO marks SELECT pg_current_wal_insert_lsn();",
			}
			for k, v := range tt.files {
				files[k] = v
			}
			set := mapSet(t, files)
			_, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil)
			var se *execute.StepError
			if !errors.As(err, &se) || se.Version != 3 {
				t.Fatalf("Migrate = %v, want version 3 failing", err)
			}
			checkHistory(t, pool, set, 1, 2)
			var flushed bool
			var written, flush string
			if err := pool.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn() >= written, written::text, pg_current_wal_flush_lsn()::text FROM marks").Scan(&flushed, &written, &flush); err != nil {
				t.Fatal(err)
			}
			if !flushed {
				t.Errorf("after the run the WAL is flushed up to %s, short of %s where version 2 wrote its record: its commit is not durable", flush, written)
			}
		})
	}
}

// A no-transaction statement that gives up on its lock timeout is never
// tried again, whatever Options.LockTimeoutRetries says: here it would
// succeed on a retry, once the table is free.
func TestGuaranteeNoTransactionNeverRetried(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	set := mapSet(t, map[string]string{
		"v1_busy.up.sql":  "CREATE TABLE busy (id int);",
		"v2_alter.up.sql": "-- waymark:no-transaction\nALTER TABLE busy ADD COLUMN note text;\n",
	})
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	release := blocker(t, pool, "busy")
	go func() {
		time.Sleep(3 * time.Second)
		release()
	}()
	start := time.Now()
	_, err := execute.Migrate(ctx, db, set, plan.Latest(), &execute.Options{LockTimeout: 200 * time.Millisecond, LockTimeoutRetries: 5})
	took := time.Since(start)
	var pgErr *pgconn.PgError
	var se *execute.StepError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" || !errors.As(err, &se) || se.Version != 2 || !se.Dirty {
		t.Fatalf("Migrate = %v (after %v); want version 2 failing, dirty, with its lock timeout (55P03), not tried again", err, took)
	}
	if took > 2500*time.Millisecond {
		t.Errorf("the step failed after %v; want at its first 200ms lock timeout", took)
	}
	if strings.Contains(err.Error(), "nothing of the step is applied") {
		t.Errorf("error %q says nothing was applied of a step left dirty", err)
	}
	if n := scalar[int](t, pool, "SELECT count(*)::int FROM information_schema.columns WHERE table_name = 'busy' AND column_name = 'note'"); n != 0 {
		t.Error("the statement ran again and took effect")
	}
}

// A role the connection had set before the lock (SET ROLE owner) is the
// role every step runs as, even after a script reset it, and the
// connection has it again after the run.
func TestGuaranteeRoleBeforeTheLock(t *testing.T) {
	ctx := context.Background()
	set := mapSet(t, map[string]string{
		"v1_one.up.sql":   "CREATE TABLE t1 (id int);\nRESET ROLE;",
		"v2_two.up.sql":   "CREATE TABLE t2 (id int);\nSET ROLE NONE;",
		"v3_three.up.sql": "-- waymark:no-transaction\nCREATE TABLE t3 (id int);\n",
		"v4_four.up.sql":  "CREATE TABLE t4 (id int);",
	})
	const role = "waymark_owner"
	prepare := func(t *testing.T, url string) {
		t.Helper()
		pool := poolFor(t, url)
		for _, sql := range []string{
			"DO $$ BEGIN CREATE ROLE " + role + "; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
			"GRANT CREATE, USAGE ON SCHEMA public TO " + role,
		} {
			if _, err := pool.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(t *testing.T, url string, after string) {
		t.Helper()
		pool := poolFor(t, url)
		got := scalar[string](t, pool, `SELECT string_agg(relname || ' ' || pg_get_userbyid(relowner), ', ' ORDER BY relname) FROM pg_class
			WHERE relname IN ('t1', 't2', 't3', 't4', 'waymark_history') AND relkind = 'r'`)
		want := "t1 waymark_owner, t2 waymark_owner, t3 waymark_owner, t4 waymark_owner, waymark_history waymark_owner"
		if got != want {
			t.Errorf("owners: %s; want %s", got, want)
		}
		if after != role {
			t.Errorf("after the run the connection's current_user is %s, want %s", after, role)
		}
	}
	t.Run("conn", func(t *testing.T) {
		url := pgtest.ConnString(t)
		prepare(t, url)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "SET ROLE "+role); err != nil {
			t.Fatal(err)
		}
		if _, err := execute.Migrate(ctx, pgxbackend.New(conn, nil), set, plan.Latest(), nil); err != nil {
			t.Fatal(err)
		}
		var after string
		if err := conn.QueryRow(ctx, "SELECT current_user::text").Scan(&after); err != nil {
			t.Fatal(err)
		}
		check(t, url, after)
	})
	t.Run("pool", func(t *testing.T) {
		url := pgtest.ConnString(t)
		prepare(t, url)
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 1
		var connects atomic.Int32
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			connects.Add(1)
			_, err := c.Exec(ctx, "SET ROLE "+role)
			return err
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if _, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil); err != nil {
			t.Fatal(err)
		}
		after := scalar[string](t, pool, "SELECT current_user::text")
		if n := connects.Load(); n != 1 {
			t.Errorf("the pool made %d connections, want the one the run gave back", n)
		}
		check(t, url, after)
	})
}

// The fence runs before every statement of a no-transaction step: a
// statement that loses the lock stops the next one from running, for the
// advisory lock and for a lease behind PgBouncer.
func TestGuaranteeFenceBeforeEveryNoTransactionStatement(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		lock pgxbackend.LockMode
		url  func(t *testing.T) string
		lose string
	}{
		{"advisory", pgxbackend.LockAdvisory, func(t *testing.T) string { return pgtest.ConnString(t) }, "SELECT pg_advisory_unlock_all();"},
		{"lease through PgBouncer", pgxbackend.LockLease, func(t *testing.T) string { return pgtest.Bouncer(t, "transaction") },
			"UPDATE waymark_lease SET holder = 'another session';"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url(t)
			pool := poolFor(t, url)
			set := mapSet(t, map[string]string{
				"v1_t.up.sql":    "CREATE TABLE t (id int);",
				"v2_lose.up.sql": "-- waymark:no-transaction\n" + tt.lose + "\nCREATE TABLE after_loss (id int);\n",
			})
			_, err := execute.Migrate(ctx, pgxbackend.New(pool, &pgxbackend.Options{Lock: tt.lock}), set, plan.Latest(), nil)
			var se *execute.StepError
			if !errors.Is(err, backend.ErrLockLost) || !errors.As(err, &se) || se.Version != 2 || se.Pos.Statement != 2 {
				t.Fatalf("Migrate = %v, want statement 2 of version 2 failing with ErrLockLost", err)
			}
			if contains(pgtest.Objects(t, pool), "r public.after_loss") {
				t.Error("statement 2 ran without the lock")
			}
		})
	}
}

// Behind PgBouncer, a lease outlives a statement that runs for longer than
// its TTL: no one else takes the lock meanwhile, and the step goes on.
func TestGuaranteeLeaseOutlivesALongStatement(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Bouncer(t, "transaction")
	pool := poolFor(t, url)
	opts := &pgxbackend.Options{Lock: pgxbackend.LockLease, LeaseTTL: 2 * time.Second}
	set := mapSet(t, map[string]string{
		"v1_long.up.sql": "-- waymark:no-transaction\nSELECT pg_sleep(5) AS waymark_long_marker;\nCREATE TABLE after_sleep (id int);\n",
	})
	done := make(chan error, 1)
	go func() {
		_, err := execute.Migrate(ctx, pgxbackend.New(pool, opts), set, plan.Latest(), nil)
		done <- err
	}()
	watch := poolFor(t, pgtest.ConnString(t)) // only for the wait below; same server
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := watch.QueryRow(ctx, "SELECT count(*)::int FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5) AS waymark_long_marker%' AND pid <> pg_backend_pid()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the long statement never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rival := pgxbackend.New(pool, opts)
	tries := 0
	for end := time.Now().Add(4500 * time.Millisecond); time.Now().Before(end); tries++ {
		s, err := rival.TryLock(ctx)
		if err == nil {
			s.Unlock(ctx)
			t.Fatalf("another session took the lock %d tries into the long statement", tries)
		}
		if !errors.Is(err, backend.ErrLocked) {
			t.Fatalf("TryLock = %v, want ErrLocked", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatalf("Migrate = %v", err)
	}
	checkHistory(t, pool, set, 1)
}
