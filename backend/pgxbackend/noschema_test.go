package pgxbackend_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/internal/pgtest"
)

// TestNoSchemaInTheSearchPath reads the head and takes the lock on a
// connection whose search_path names no schema that exists: the head is
// that of a database without a history, and the lock is refused with the
// option to set, not a server error about formatting a NULL.
func TestNoSchemaInTheSearchPath(t *testing.T) {
	ctx := t.Context()
	cfg, err := pgxpool.ParseConfig(pgtest.ConnString(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = "no_such_schema"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
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
