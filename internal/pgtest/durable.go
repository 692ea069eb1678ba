package pgtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/waymarkdb/waymark/internal/pgcluster"
)

// durable is the test binary's durable cluster, started on first use.
var durable struct {
	srv *server
	err error
}

// DurableConnString returns a connection string for a new, empty database
// (see [ConnString]) on a throwaway cluster with PostgreSQL's default,
// durable settings (fsync and synchronous_commit on), shared by the test
// binary's benchmarks that pay for flushing commits to disk. It ignores
// WAYMARK_TEST_DATABASE_URL: the point is a server whose settings are known.
func DurableConnString(tb testing.TB) string {
	tb.Helper()
	state.mu.Lock()
	if !state.mainCalled || state.closed {
		state.mu.Unlock()
		tb.Fatal("pgtest: DurableConnString needs the tests to run through pgtest.Main")
	}
	if durable.srv == nil && durable.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		c, err := pgcluster.Start(ctx, &pgcluster.Options{Durable: true})
		if err == nil {
			durable.srv, err = connectServer(ctx, c.ConnString("postgres"), c.ConnString)
			if err != nil {
				err = fmt.Errorf("%w (stop: %v)", err, c.Stop())
			} else {
				durable.srv.cluster = c
			}
		}
		cancel()
		durable.err = err
	}
	s, err := durable.srv, durable.err
	state.mu.Unlock()
	if err != nil {
		reportUnavailable(tb, err, testing.Short(), false)
	}
	return s.connString(newDatabase(tb, s))
}
