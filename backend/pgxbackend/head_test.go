package pgxbackend_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// onePool opens a pool of one connection on a new database, so that every
// call sees that connection's session.
func onePool(t *testing.T) *pgxpool.Pool {
	return configuredPool(t, pgtest.ConnString(t), func(cfg *pgxpool.Config) { cfg.MaxConns = 1 })
}

// configuredPool opens a pool on connString with the configuration that
// configure changes; it is closed when the test ends.
func configuredPool(t *testing.T, connString string, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		t.Fatal(err)
	}
	configure(cfg)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// preparedHeads counts the head queries prepared on pool's connection.
func preparedHeads(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%pg_try_advisory_lock_shared%'",
		pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Once ReadHead has found the history table, it reads it directly, with a
// prepared statement on a direct connection; a lease table that appears
// later, a table dropped, or an unqualified name that resolves to another
// table send it back to the first kind of read, in the same call and
// without an error.
func TestReadHeadOnceFound(t *testing.T) {
	ctx := context.Background()
	pool := onePool(t)
	set := testsets.Load(t, "sample")
	db := pgxbackend.New(pool, nil)
	head := func(what string, version int64, busy bool) {
		t.Helper()
		h, err := db.ReadHead(ctx)
		if err != nil {
			t.Fatalf("%s: ReadHead: %v", what, err)
		}
		want := backend.Head{Version: version, Known: true, Busy: busy}
		if version > 0 {
			want.Digest, _ = set.Digest(version)
		}
		if h != want {
			t.Errorf("%s: ReadHead = %+v, want %+v", what, h, want)
		}
	}
	head("fresh database", 0, false)
	if _, err := execute.Migrate(ctx, db, set, plan.To(2), nil); err != nil {
		t.Fatal(err)
	}
	for _, what := range []string{"first read of the table", "direct read", "prepared read"} {
		head(what, 2, false)
	}
	if prepared := preparedHeads(t, pool); prepared != 1 {
		t.Errorf("%d prepared head queries on the connection, want 1", prepared)
	}

	// A lease appears: the read that finds its table and the direct one
	// both see it.
	lp, err := pgxpool.New(ctx, pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer lp.Close()
	sess, err := pgxbackend.New(lp, &pgxbackend.Options{Lock: pgxbackend.LockLease}).TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head("a lease held, its table new", 2, true)
	head("a lease held", 2, true)
	if err := sess.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	head("the lease released", 2, false)

	// The table gone: an empty history, no error.
	if _, err := pool.Exec(ctx, "ALTER TABLE waymark_history RENAME TO kept"); err != nil {
		t.Fatal(err)
	}
	head("table gone", 0, false)
	head("table still gone", 0, false)
	if _, err := pool.Exec(ctx, "ALTER TABLE kept RENAME TO waymark_history"); err != nil {
		t.Fatal(err)
	}

	// The unqualified name resolves to another table: that one is read.
	head("table again", 2, false)
	head("table again, direct", 2, false)
	first := pgxbackend.New(pool, &pgxbackend.Options{SearchPath: []string{"first"}})
	if _, err := execute.Migrate(ctx, first, set, plan.To(3), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "SET search_path = first, public"); err != nil {
		t.Fatal(err)
	}
	head("another table first in the search_path", 3, false)
	head("another table first in the search_path, direct", 3, false)
}

// In the transaction Begin opens, only the first step proves the lock (see
// Apply): its fence holds the advisory lock at transaction level, which no
// statement can release before the transaction ends. A script that
// releases the session's lock does not let another session in before the
// commit.
func TestSingleTransactionHoldsTheLockToTheCommit(t *testing.T) {
	ctx := context.Background()
	pool, s := locked(t)
	db := pgxbackend.New(pool, nil)
	r := func(v int64) backend.Step {
		return backend.Step{SQL: fmt.Sprintf("CREATE TABLE t%d (id int)", v),
			Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: v, Name: "t", Checksum: source.ChecksumOf("x")}}}
	}
	if err := s.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	first := r(1)
	first.SQL += ";\nSELECT pg_catalog.pg_advisory_unlock_all()"
	if err := s.Apply(ctx, first); err != nil {
		t.Fatal(err)
	}
	if other, err := db.TryLock(ctx); !errors.Is(err, backend.ErrLocked) {
		if err == nil {
			other.Unlock(ctx)
		}
		t.Fatalf("TryLock of another session inside the transaction = %v, want ErrLocked", err)
	}
	if err := s.Apply(ctx, r(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM waymark_history").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d records (%v), want 2", n, err)
	}
	// The script released the session's lock: the next step's fence says so.
	if err := s.Apply(ctx, r(3)); !errors.Is(err, backend.ErrLockLost) {
		t.Errorf("Apply after the script released the lock = %v, want ErrLockLost", err)
	}
}

// A TryLock that finds the lock held names the holder, read (only then)
// through query_to_xml: its application name and query come back whole,
// XML's special characters included.
func TestTryLockNamesTheHolder(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.ConnString(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "holder <a & b>"
	holderPool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer holderPool.Close()
	s, err := pgxbackend.New(holderPool, nil).TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlock(ctx)
	other, err := pgxpool.New(ctx, cfg.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = pgxbackend.New(other, nil).TryLock(ctx)
	var le *backend.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("TryLock = %v, want a *backend.LockedError", err)
	}
	if le.Holder.Application != "holder <a & b>" || !strings.HasPrefix(le.Holder.Query, "WITH k AS MATERIALIZED") ||
		!strings.HasPrefix(le.Holder.ID, "pid ") || le.Holder.Client == "" || le.Holder.Since.IsZero() {
		t.Errorf("holder = %+v", le.Holder)
	}
}

// TestReadHeadOnceFoundRepeatablesOnly finds the history table of a set of
// repeatable scripts alone, which has no versioned record: the reads after
// the first go to the table directly all the same.
func TestReadHeadOnceFoundRepeatablesOnly(t *testing.T) {
	ctx := context.Background()
	pool := onePool(t)
	set := testsets.Map(t, map[string]string{"r_answer.sql": "CREATE OR REPLACE VIEW answer AS SELECT 42 AS n;\n"})
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		h, err := db.ReadHead(ctx)
		if err != nil || !h.Known || h.Version != 0 || h.Repeatables != set.RepeatablesDigest() {
			t.Fatalf("ReadHead = %+v, %v; want no version and the set's repeatable scripts", h, err)
		}
	}
	if prepared := preparedHeads(t, pool); prepared != 1 {
		t.Errorf("%d prepared head queries on the connection, want 1: the reads did not go to the table directly", prepared)
	}
}
