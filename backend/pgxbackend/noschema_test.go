package pgxbackend_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/internal/pgtest"
)

// searchPathPool opens a pool on connString whose connections start with
// search_path set to searchPath; it is closed when the test ends.
func searchPathPool(t *testing.T, connString, searchPath string) *pgxpool.Pool {
	return configuredPool(t, connString, func(cfg *pgxpool.Config) { cfg.ConnConfig.RuntimeParams["search_path"] = searchPath })
}

// TestNoSchemaInTheSearchPath reads the head and takes the lock on a
// connection whose search_path names no schema that exists: the head is
// that of a database without a history, and the lock is refused with the
// option to set, not a server error about formatting a NULL.
func TestNoSchemaInTheSearchPath(t *testing.T) {
	ctx := t.Context()
	pool := searchPathPool(t, pgtest.ConnString(t), "no_such_schema")
	for _, lock := range []pgxbackend.LockMode{pgxbackend.LockAdvisory, pgxbackend.LockLease} {
		t.Run(lock.String(), func(t *testing.T) {
			db := pgxbackend.New(pool, &pgxbackend.Options{Lock: lock})
			h, err := db.ReadHead(ctx)
			if err != nil || !h.Known || h.Version != 0 || h.Dirty || h.Busy {
				t.Fatalf("ReadHead = %+v, %v; want a known empty head", h, err)
			}
			if _, err := db.ReadState(ctx); err != nil {
				t.Errorf("ReadState: %v", err)
			}
			s, err := db.TryLock(ctx)
			if err == nil {
				s.Unlock(ctx)
				t.Fatal("TryLock took the lock with no schema to keep the history in")
			}
			if !strings.Contains(err.Error(), "set Options.Schema") {
				t.Errorf("TryLock: %v; want the option to set named", err)
			}
		})
	}
}

// TestOddSchemaNameSharesTheLock resolves the history table's schema from
// the search_path when its name needs quoting (capitals, spaces, double
// quotes, a keyword, other scripts, a leading digit, 63 bytes): a Backend
// that names the schema in Options.Schema shares the lock of one that
// finds it, before and after the table exists, and the table is found in
// that schema. (The lock key is hashed from the schema's name, so a
// resolution that returned it quoted, or changed, would split the lock.)
func TestOddSchemaNameSharesTheLock(t *testing.T) {
	ctx := t.Context()
	admin := pgtest.Pool(t)
	for i, odd := range []string{`Odd "S" x`, "select", "MixedCase", "Ä日本 ß", "1st", "a.b", `""`, strings.Repeat("é", 31) + "x"} {
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{odd}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		pool := searchPathPool(t, admin.Config().ConnString(), pgx.Identifier{odd}.Sanitize())
		found := pgxbackend.New(pool, nil)
		named := pgxbackend.New(pool, &pgxbackend.Options{Schema: odd})
		for _, when := range []string{"before the table exists", "after"} {
			s, err := found.TryLock(ctx)
			if err != nil {
				t.Fatalf("%q, %s: %v", odd, when, err)
			}
			if s2, err := named.TryLock(ctx); !errors.As(err, new(*backend.LockedError)) {
				if err == nil {
					s2.Unlock(ctx)
				}
				t.Errorf("%q, %s: the Backend naming the schema took the lock: %v; want a LockedError", odd, when, err)
			}
			if when != "after" {
				if err := s.Apply(ctx, backend.Step{SQL: fmt.Sprintf("CREATE TABLE odd_%d (id int)", i), Change: insert(1, 0)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname IN ('waymark_history', $2) AND n.nspname = $1`, odd, fmt.Sprintf("odd_%d", i)).Scan(&n); err != nil || n != 2 {
			t.Errorf("%q: %d of the history table and the step's table in the schema, %v; want 2", odd, n, err)
		}
		if h, err := found.ReadHead(ctx); err != nil || h.Version != 1 {
			t.Errorf("%q: ReadHead = %+v, %v; want version 1", odd, h, err)
		}
	}
}
