package execute_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
)

// pg_ctl restart -m fast during a step, through PgBouncer with a lease:
// while the server is down, connecting through the pooler is named a
// refusal (its login back-off), not a lost transaction; the release of the
// lease keeps trying until it gets through after the restart, so the next
// deploy does not wait the lease out.
func TestLeaseReleasedAfterARestartBehindPgBouncer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark's own machinery (a silent network, a restart, a pooler gone), not of the PostgreSQL version; make test runs it")
	}
	cluster := pgtest.OwnCluster(t)
	ctx := context.Background()
	bouncer, err := pgcluster.StartBouncer(ctx, pgcluster.BouncerOptions{Server: cluster.ConnString("postgres"), PoolMode: "transaction", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bouncer.Stop() })
	url := bouncer.ConnString("postgres")
	set := mapSet(t, map[string]string{
		"v1_a.up.sql": "CREATE TABLE a (id int);",
		"v2_b.up.sql": "CREATE TABLE b (id int);\nSELECT pg_sleep(5);",
		"v3_c.up.sql": "CREATE TABLE c (id int);",
	})
	opts := &pgxbackend.Options{Lock: pgxbackend.LockLease}
	migrate := func(ctx context.Context) (*execute.Result, error) {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		return execute.Migrate(ctx, pgxbackend.New(pool, opts), set, plan.Latest(), nil)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := migrate(ctx)
		errc <- err
	}()
	waitForQuery(t, cluster.ConnString("postgres"), "pg_sleep(5)")
	if err := cluster.StopFast(); err != nil {
		t.Fatal(err)
	}
	// While the server is down: a failure to connect, named as such.
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = migrate(dctx)
	cancel()
	var ce *backend.ConnectError
	if !errors.As(err, &ce) {
		t.Errorf("Migrate while the server is down = %v, want a *backend.ConnectError", err)
	} else {
		checkConnectError(t, err, ce.Problem, "")
	}
	time.Sleep(time.Second)
	if err := cluster.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	err = <-errc
	t.Logf("the run during the restart returned %v after the restart: %v", time.Since(restarted).Round(time.Millisecond), err)
	if !errors.Is(err, backend.ErrConnectionLost) {
		t.Errorf("the run during the restart = %v, want a lost connection", err)
	}
	if errors.Is(err, backend.ErrLockMayBeHeld) {
		t.Errorf("the release of the lease did not get through after the restart: %v", err)
	}
	// The next deploy takes the lease at once, and finishes the job.
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	sess, err := pgxbackend.New(pool, opts).TryLock(ctx)
	if err != nil {
		t.Fatalf("the next deploy cannot take the lease: %v", err)
	}
	if err := sess.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(ctx); err != nil {
		t.Fatalf("the next deploy: %v", err)
	}
}

// waitForQuery waits until a session of the server at url runs a query
// containing text.
func waitForQuery(t *testing.T, url, text string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var n int
		q := fmt.Sprintf("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, %s) > 0", "'"+text+"'")
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatalf("no session ran %q within a minute", text)
}
