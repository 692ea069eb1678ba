package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/internal/pgcluster"
)

// durable is the test binary's durable cluster, started on first use and
// stopped by Main.
var durable struct {
	mu      sync.Mutex
	cluster *pgcluster.Cluster
	admin   *pgxpool.Pool
	err     error
	n       atomic.Int64 // numbers its databases
}

// DurableConnString returns a connection string for a new, empty database
// (see [ConnString]) on a throwaway cluster with PostgreSQL's default,
// durable settings (fsync and synchronous_commit on), shared by the test
// binary's benchmarks that pay for flushing commits to disk. It ignores
// WAYMARK_TEST_DATABASE_URL: the point is a server whose settings are known.
func DurableConnString(tb testing.TB) string {
	tb.Helper()
	checkMain(tb)
	c, admin, err := durableCluster()
	if err != nil {
		msg := fmt.Sprintf("pgtest: no durable PostgreSQL cluster for this test: %v", err)
		if testing.Short() {
			tb.Skip(msg + "\n(skipped because of -short)")
		}
		tb.Fatal(msg)
	}
	name := fmt.Sprintf("pgtest_durable_%d_%d", os.Getpid(), durable.n.Add(1))
	if _, err := admin.Exec(tb.Context(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return c.ConnString(name)
}

// durableCluster starts the durable cluster on first use.
func durableCluster() (*pgcluster.Cluster, *pgxpool.Pool, error) {
	durable.mu.Lock()
	defer durable.mu.Unlock()
	if durable.cluster == nil && durable.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := pgcluster.Start(ctx, &pgcluster.Options{Durable: true})
		if err != nil {
			durable.err = err
			return nil, nil, err
		}
		admin, err := pgxpool.New(ctx, c.ConnString("postgres"))
		if err == nil {
			err = admin.Ping(ctx)
		}
		if err != nil {
			durable.err = errors.Join(err, c.Stop())
			return nil, nil, durable.err
		}
		durable.cluster, durable.admin = c, admin
	}
	return durable.cluster, durable.admin, durable.err
}

// stopDurable stops the durable cluster, if it was started.
func stopDurable() error {
	durable.mu.Lock()
	defer durable.mu.Unlock()
	if durable.cluster == nil {
		return nil
	}
	durable.admin.Close()
	return durable.cluster.Stop()
}
