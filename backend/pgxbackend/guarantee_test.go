package pgxbackend_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/waymarktest"
)

// When the release fails and the session's server process does not end
// when told to (here it is stopped with SIGSTOP, so the SIGTERM waits),
// Unlock does not take the attempt for a success: it checks the lock and
// reports that it may still be held. Once the process resumes, it ends and
// the lock is free.
func TestUnlockConfirmsTheLockIsGone(t *testing.T) {
	url := pgtest.ConnString(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	b := pgxbackend.New(conn, nil)
	pgxbackend.SetHooks(b, pgxbackend.Hooks{UnlockTry: func(int) error { return errors.New("injected: the release was lost") }})
	s, err := b.TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	open := func() *pgxbackend.Backend {
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return pgxbackend.New(c, nil)
	}
	pid := int(conn.PgConn().PID()) // a direct connection: the server process
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop server process %d: %v", pid, err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("resume server process %d: %v", pid, err)
			}
		}
	}
	defer resume()
	err = s.Unlock(context.Background())
	if !errors.Is(err, backend.ErrLockMayBeHeld) {
		t.Errorf("Unlock while the holding process cannot end = %v, want ErrLockMayBeHeld", err)
	}
	if lockWithin(t, open(), 200*time.Millisecond) {
		t.Error("the lock was free after all: the test does not make what it means to")
	}
	resume()
	if !lockWithin(t, open(), 15*time.Second) {
		t.Error("the lock is still held once the terminated process could end")
	}
}

// A lease that cannot be released (PgBouncer, the only way to the server,
// is gone) is reported as possibly held, never as released, and it stays
// held for others until it expires.
func TestUnlockReportsALeaseItCannotRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark's own machinery (a silent network, a restart, a pooler gone), not of the PostgreSQL version; make test runs it")
	}
	ctx := context.Background()
	direct := pgtest.ConnString(t)
	cfg, err := pgconn.ParseConfig(direct)
	if err != nil {
		t.Fatal(err)
	}
	bctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	bouncer, err := pgcluster.StartBouncer(bctx, pgcluster.BouncerOptions{Server: waymarktest.Server(t), PoolMode: "transaction", PoolSize: 4, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			bouncer.Stop()
		}
	}()
	pool, err := pgxpool.New(ctx, bouncer.ConnString(cfg.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	opts := &pgxbackend.Options{Lock: pgxbackend.LockLease, LeaseTTL: 20 * time.Second}
	s, err := pgxbackend.New(pool, opts).TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopped = true
	if err := bouncer.Stop(); err != nil {
		t.Fatal(err)
	}
	uctx, ucancel := context.WithTimeout(ctx, time.Minute)
	defer ucancel()
	err = s.Unlock(uctx)
	if !errors.Is(err, backend.ErrLockMayBeHeld) {
		t.Errorf("Unlock with no way to the server = %v, want ErrLockMayBeHeld", err)
	}
	other, err := pgxpool.New(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var holders int
	if err := other.QueryRow(ctx, "SELECT count(*)::int FROM waymark_lease WHERE expires_at > clock_timestamp()").Scan(&holders); err != nil {
		t.Fatal(err)
	}
	if holders != 1 {
		t.Fatalf("%d live leases; want the one that could not be released", holders)
	}
	if s, err := pgxbackend.New(other, opts).TryLock(ctx); !errors.Is(err, backend.ErrLocked) {
		if err == nil {
			s.Unlock(ctx)
		}
		t.Errorf("TryLock after the failed release = %v, want ErrLocked until the lease expires", err)
	}
}

// A concurrent index build cancelled through its context, while it waits
// to validate the index (indisready true, indisvalid false), names the
// index it left invalid, and only that one: an invalid index the table had
// before is not the statement's.
func TestCancelledIndexBuildNamesItsIndex(t *testing.T) {
	pool, s := locked(t)
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE TABLE t (id int, dup int)",
		"INSERT INTO t VALUES (1, 1), (2, 1)",
		"CREATE UNIQUE INDEX CONCURRENTLY old_dup ON t (dup)", // fails, leaving old_dup invalid
	} {
		if _, err := pool.Exec(ctx, sql); err != nil && !strings.Contains(sql, "old_dup") {
			t.Fatal(err)
		}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	err = s.Exec(cctx, "CREATE INDEX CONCURRENTLY t_id ON t (id)", backend.Limits{})
	var se *backend.ScriptError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, backend.ErrInvalidIndex) || !errors.As(err, &se) {
		t.Fatalf("Exec = %v; want a ScriptError for the context's end and ErrInvalidIndex", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "public.t_id is INVALID") || !strings.Contains(msg, "DROP INDEX CONCURRENTLY public.t_id;") || strings.Contains(msg, "old_dup") {
		t.Errorf("error %q; want public.t_id named with its DROP, and not old_dup", msg)
	}
	var ready, valid bool
	if err := pool.QueryRow(ctx, "SELECT indisready, indisvalid FROM pg_index WHERE indexrelid = 't_id'::regclass").Scan(&ready, &valid); err != nil {
		t.Fatal(err)
	}
	if !ready || valid {
		t.Errorf("t_id has indisready %v, indisvalid %v; want true, false (cancelled while it validated)", ready, valid)
	}
}
