// Package pgtest gives each of waymark's own tests a new, empty PostgreSQL
// database. It is a thin layer over the public test kit,
// [github.com/waymarkdb/waymark/waymarktest], which holds the one
// implementation: where the server comes from (WAYMARK_TEST_DATABASE_URL,
// or a throwaway cluster shared by the test processes of a go test run),
// how databases are made and dropped, and what happens when there is no
// server. Read its package doc.
//
// A package whose tests use it runs them through [Main]:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// (without it, asking for a database fails the test, so that every
// package keeps one place for process-wide test setup) and each test asks
// for a database with [ConnString], [Pool] or [Conn]. The database exists
// only for that test and is dropped when the test ends (kept, and named in
// the log, when it failed), so tests may run in parallel (t.Parallel) and
// never see each other's tables.
//
// # Server versions
//
// [ServerVersion] tells a test which version its databases run on, for
// behaviour that differs between versions. TestServerVersion logs the
// server's version() string, which is how make test-matrix shows the
// version each run used.
//
// # Cost
//
// Each database is a copy of template0 made with the FILE_COPY strategy
// (on PostgreSQL 15 and later; before 15 it is the only one). On
// PostgreSQL 15 with fsync off, on a two-core machine busy with other
// work, a database took 75 ms (median; 220 ms when the machine was busier,
// 45 ms at best) with FILE_COPY and 3 to 10% more with WAL_LOG. Dropping
// one takes about 10 ms. waymarktest's BenchmarkCreateDB measures it again.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/waymarktest"
)

// EnvURL is the environment variable that names an existing server to
// create the test databases on instead of starting a throwaway cluster.
const EnvURL = waymarktest.EnvURL

var mainCalled atomic.Bool

// Main runs the tests of a package (m.Run) and then stops the durable
// cluster, if [DurableConnString] started one. Use it as:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// The shared throwaway cluster needs no stopping: it stops by itself once
// the last test process of the run has exited. Main returns m.Run's exit
// code, or 1 if the tests passed but stopping the durable cluster failed.
func Main(m *testing.M) int {
	mainCalled.Store(true)
	code := m.Run()
	if err := stopDurable(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func checkMain(t testing.TB) {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: the package's TestMain must run the tests with pgtest.Main: " +
			"func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }")
	}
}

// ConnString returns a connection string for a new, empty database that
// only this test uses. The database is dropped when the test and its
// subtests have finished (t.Cleanup), even if connections to it are still
// open.
func ConnString(t testing.TB) string {
	t.Helper()
	checkMain(t)
	return waymarktest.ConnString(t, nil, nil)
}

// Pool returns a connection pool for a new, empty database (see
// [ConnString]). The pool is closed when the test ends, before the database
// is dropped.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	checkMain(t)
	return waymarktest.Pool(t, nil, nil)
}

// Conn returns a connection to a new, empty database (see [ConnString]).
// The connection is closed when the test ends, before the database is
// dropped.
func Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	connString := ConnString(t)
	conn, err := pgx.Connect(t.Context(), connString)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn.Close(ctx)
	})
	return conn
}

// ServerVersion returns the server_version_num of the server the test's
// databases are on, such as 150018 for PostgreSQL 15.18.
func ServerVersion(t testing.TB) int {
	t.Helper()
	checkMain(t)
	return waymarktest.ServerVersion(t)
}
