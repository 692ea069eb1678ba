package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/waymarkdb/waymark/internal/pgcluster"
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
	s := getServer(t)
	name := newDatabase(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b, err := pgcluster.StartBouncer(ctx, pgcluster.BouncerOptions{Server: s.adminConn, PoolMode: poolMode, PoolSize: 8, Logf: t.Logf})
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("pgtest: stop pgbouncer: %v", err)
		}
	})
	return b.ConnString(name)
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
		reportUnavailable(t, err, testing.Short(), false)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Logf("pgtest: stop the test's cluster: %v", err)
		}
	})
	return c
}
