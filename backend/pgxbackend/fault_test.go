package pgxbackend_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/internal/pgtest"
)

// connBackends returns a function making backends, each on a connection of
// its own to one fresh database, as separate processes would have.
func connBackends(t *testing.T) func() *pgxbackend.Backend {
	t.Helper()
	url := pgtest.ConnString(t)
	return func() *pgxbackend.Backend {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return pgxbackend.New(conn, nil)
	}
}

// lockWithin reports whether b takes the lock within d (and releases it).
func lockWithin(t *testing.T, b *pgxbackend.Backend, d time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	s, err := b.TryLock(ctx)
	if err != nil {
		return false
	}
	if err := s.Unlock(context.Background()); err != nil {
		t.Errorf("Unlock: %v", err)
	}
	return true
}

// A release whose first round trip is lost is tried again, and succeeds.
func TestUnlockRetriesALostRelease(t *testing.T) {
	open := connBackends(t)
	b := open()
	var tries atomic.Int32
	pgxbackend.SetHooks(b, pgxbackend.Hooks{UnlockTry: func(try int) error {
		tries.Add(1)
		if try == 0 {
			return errors.New("injected: the first release was lost")
		}
		return nil
	}})
	s, err := b.TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(context.Background()); err != nil {
		t.Errorf("Unlock after one lost try = %v, want nil", err)
	}
	if tries.Load() != 2 {
		t.Errorf("Unlock tried %d times, want 2", tries.Load())
	}
	if !lockWithin(t, open(), 2*time.Second) {
		t.Error("the lock is still held after Unlock")
	}
}

// A try that took the lock but whose result was lost (its context ended)
// gives the lock back before Lock returns the error.
func TestCancelledTryGivesTheLockBack(t *testing.T) {
	open := connBackends(t)
	b := open()
	pgxbackend.SetHooks(b, pgxbackend.Hooks{LockTried: func(took bool) error {
		if took {
			return context.Canceled
		}
		return nil
	}})
	if s, err := b.TryLock(context.Background()); err == nil {
		s.Unlock(context.Background())
		t.Fatal("Lock succeeded although its try failed")
	}
	if !lockWithin(t, open(), 2*time.Second) {
		t.Error("the lock taken by the failed try is still held")
	}
}

// A context that ends after a statement returned sends no cancel request:
// one could cancel the session's next statement instead.
func TestNoCancelRequestAfterTheStatement(t *testing.T) {
	pool := pgtest.Pool(t)
	b := pgxbackend.New(pool, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancels atomic.Int32
	var armed atomic.Bool
	pgxbackend.SetHooks(b, pgxbackend.Hooks{
		OnCancel: func() { cancels.Add(1) },
		OnReturn: func(context.Context) {
			if armed.Load() {
				cancel()
			}
		},
	})
	s, err := b.TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlock(context.Background())
	// The first write creates the history table; the second is one query.
	if err := s.Apply(ctx, backend.Step{SQL: "", Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1}}}); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	if err := s.Apply(ctx, backend.Step{SQL: "SELECT 1", Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 2}}}); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	if n := cancels.Load(); n != 0 {
		t.Errorf("%d cancel requests sent after the statement returned, want 0", n)
	}
}

// A context that ends during a statement cancels it on the server, and the
// error reads as the context's.
func TestCancelDuringAStatement(t *testing.T) {
	pool := pgtest.Pool(t)
	b := pgxbackend.New(pool, nil)
	var cancels atomic.Int32
	pgxbackend.SetHooks(b, pgxbackend.Hooks{OnCancel: func() { cancels.Add(1) }})
	s, err := b.TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlock(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err = s.Exec(ctx, "SELECT pg_sleep(30)", backend.Limits{})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Exec returned after %v, want soon after its context ended", took)
	}
	var pgErr *pgconn.PgError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("Exec = %v, want context.DeadlineExceeded and the server's 57014", err)
	}
	if msg := err.Error(); strings.Contains(msg, "context canceled") || !strings.HasPrefix(msg, "context deadline exceeded") {
		t.Errorf("message %q, want it to read as the context's error", msg)
	}
	if cancels.Load() != 1 {
		t.Errorf("%d cancel requests, want 1", cancels.Load())
	}
}

// When the release cannot get through on the session's connection, the
// session ends its own server process from another connection, which
// releases the lock, and says so only once it is sure.
func TestUnlockEndsItsOwnProcessWhenTheReleaseFails(t *testing.T) {
	open := connBackends(t)
	b := open()
	pgxbackend.SetHooks(b, pgxbackend.Hooks{UnlockTry: func(int) error { return errors.New("injected: the release was lost") }})
	s, err := b.TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(context.Background()); err != nil {
		t.Errorf("Unlock = %v, want nil: ending the session released the lock", err)
	}
	if !lockWithin(t, open(), 2*time.Second) {
		t.Error("the lock is still held")
	}
}

// When neither the release nor ending the process works, Unlock says the
// lock may still be held.
func TestUnlockSaysWhenTheLockMayBeHeld(t *testing.T) {
	open := connBackends(t)
	b := open()
	pgxbackend.SetHooks(b, pgxbackend.Hooks{
		UnlockTry: func(int) error { return errors.New("injected: the release was lost") },
		Terminate: func() error { return errors.New("injected: no other connection") },
	})
	s, err := b.TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Unlock(context.Background())
	if !errors.Is(err, backend.ErrLockMayBeHeld) {
		t.Errorf("Unlock = %v, want ErrLockMayBeHeld", err)
	}
	if lockWithin(t, open(), 200*time.Millisecond) {
		t.Error("the lock was free after all: the error was not honest")
	}
}

// A script that swallows the cancel request keeps running after its context
// ended; once the connection is closed the server notices the dead client
// (client_connection_check_interval) and ends it, and Unlock makes sure the
// lock is gone before it reports success.
func TestUnlockAfterAScriptThatIgnoresCancel(t *testing.T) {
	open := connBackends(t)
	s, err := open().TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	stubborn := "DO $$ BEGIN LOOP BEGIN PERFORM pg_sleep(0.1); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$"
	if err := s.Apply(ctx, backend.Step{SQL: stubborn, Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1}}}); err == nil {
		t.Fatal("the endless step succeeded")
	}
	if err := s.Unlock(context.Background()); err != nil {
		t.Errorf("Unlock = %v", err)
	}
	if !lockWithin(t, open(), 3*time.Second) {
		t.Error("the lock is still held after Unlock reported success")
	}
}

// A step that runs long within its limits is checked on (its reply is
// late) but not given up: the server says it is still running it.
func TestALongStepIsNotALostOne(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark's own machinery (a silent network, a restart, a pooler gone), not of the PostgreSQL version; make test runs it")
	}
	b := pgxbackend.New(pgtest.Pool(t), nil)
	var probes atomic.Int32
	pgxbackend.SetHooks(b, pgxbackend.Hooks{Probe: func() { probes.Add(1) }})
	s, err := b.TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlock(context.Background())
	// LockTimeout 1s: the session checks on a reply 6s late.
	err = s.Apply(context.Background(), backend.Step{SQL: "SELECT pg_sleep(7.5)", Limits: backend.Limits{LockTimeout: time.Second},
		Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1}}})
	if err != nil {
		t.Fatalf("Apply of a long step = %v, want success", err)
	}
	if probes.Load() == 0 {
		t.Error("the late reply was not checked on")
	}
}
