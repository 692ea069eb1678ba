package pgtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/waymarktest"
)

// Bouncer returns a connection string, through a PgBouncer of the test's
// own in front of the test binary's server, for a new, empty database that
// only this test uses (see [ConnString]). poolMode is PgBouncer's
// pool_mode: "transaction" or "session". The bouncer is stopped when the
// test ends, before the database is dropped.
//
// PgBouncer must be installed (Debian: apt-get install pgbouncer); without
// it the test fails, saying so: it is never skipped. The server must accept
// the superuser without a password from the bouncer, as the throwaway
// cluster does.
func Bouncer(t testing.TB, poolMode string) string {
	t.Helper()
	cfg, err := pgconn.ParseConfig(ConnString(t))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b, err := pgcluster.StartBouncer(ctx, pgcluster.BouncerOptions{Server: waymarktest.Server(t), PoolMode: poolMode, PoolSize: 8, Logf: t.Logf})
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("pgtest: stop pgbouncer: %v", err)
		}
	})
	return b.ConnString(cfg.Database)
}

// OwnCluster starts a throwaway cluster for this test alone, for tests that
// crash and restart the server; it is stopped and removed when the test
// ends. It fails the test when no server can be started (or skips it with
// go test -short).
func OwnCluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, &pgcluster.Options{Logf: t.Logf})
	if err != nil {
		msg := fmt.Sprintf("pgtest: no PostgreSQL server for this test: %v", err)
		if testing.Short() {
			t.Skip(msg + "\n(skipped because of -short)")
		}
		t.Fatal(msg)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Logf("pgtest: stop the test's cluster: %v", err)
		}
	})
	return c
}
