// Package pgtest gives each test a new, empty PostgreSQL database of its own.
//
// A package whose tests use it runs them through [Main]:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// (without it, asking for a database fails the test) and each test asks for
// a database with [ConnString], [Pool] or [Conn]. The database exists only
// for that test and is dropped when the test ends, so tests may run in
// parallel (t.Parallel) and never see each other's tables.
//
// # Where the databases live
//
// When the environment variable WAYMARK_TEST_DATABASE_URL is set, the
// databases are created on that server: it is a connection string (URL or
// keyword/value form) for a role allowed to create databases, and names the
// database that role connects to while creating and dropping the test
// databases (not template0 or template1). The test databases are named
// waymark_test_<pid>_<n>.
//
// Otherwise the first test that asks for a database starts a throwaway
// cluster, shared by all tests of the test binary, with the server binaries
// that package [github.com/waymarkdb/waymark/internal/pgcluster] finds (or
// fetches; its doc says how to choose a version); [Main] stops it and
// removes its files after the tests.
// When the tests run as root the server itself runs as the unprivileged user
// postgres (or nobody). On Linux the server never outlives the test binary,
// even one that crashes or is killed; its files are then left in the
// temporary directory.
//
// # When there is no server
//
// If no server can be had (no PostgreSQL binaries installed, the cluster
// does not start, the server at WAYMARK_TEST_DATABASE_URL does not answer),
// every test that asks for a database fails, with a message that says how to
// get one, and without retrying. With go test -short such tests are skipped
// instead.
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
// Starting the cluster takes about a second (mostly initdb), once per test
// binary. Each database is a copy of template0 made with the FILE_COPY
// strategy (on PostgreSQL 15 and later; before 15 it is the only one). On
// PostgreSQL 15 with fsync off, in runs that alternated the variants on a
// two-core machine busy with other work, a database took 75 ms (median;
// 220 ms when the machine was busier, 45 ms at best) with FILE_COPY and 3 to
// 10% more with WAL_LOG; template0 and template1 cost the same, and
// creating four at once cost the same per database for both strategies.
// Dropping one takes about 10 ms. BenchmarkCreateDB measures it again.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/internal/pgcluster"
)

// EnvURL is the environment variable that names an existing server to
// create the test databases on instead of starting a throwaway cluster.
const EnvURL = "WAYMARK_TEST_DATABASE_URL"

// state is the server shared by the tests of the test binary.
var state struct {
	mu         sync.Mutex
	mainCalled bool
	started    bool   // srv or err is set
	closed     bool   // Main has shut the server down
	url        string // WAYMARK_TEST_DATABASE_URL when the server was set up
	srv        *server
	err        error
}

// dbCounter numbers the databases created by this process.
var dbCounter atomic.Int64

// Main runs the tests of a package (m.Run) and then stops the throwaway
// cluster, if one was started, and closes the connections to the server.
// Use it as:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// It returns m.Run's exit code, or 1 if the tests passed but shutting the
// server down failed.
func Main(m *testing.M) int {
	state.mu.Lock()
	state.mainCalled = true
	state.mu.Unlock()

	code := m.Run()

	state.mu.Lock()
	defer state.mu.Unlock()
	state.closed = true
	if durable.srv != nil {
		if err := durable.srv.close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	if state.srv == nil {
		return code
	}
	if err := state.srv.close(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// ConnString returns a connection string for a new, empty database that
// only this test uses. The database is dropped when the test and its
// subtests have finished (t.Cleanup), even if connections to it are still
// open.
func ConnString(t testing.TB) string {
	t.Helper()
	s := getServer(t)
	return s.connString(newDatabase(t, s))
}

// Pool returns a connection pool for a new, empty database (see
// [ConnString]). The pool is closed when the test ends, before the database
// is dropped.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	connString := ConnString(t)
	pool, err := pgxpool.New(t.Context(), connString)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(t.Context()); err != nil {
		t.Fatalf("pgtest: connect pool: %v", err)
	}
	return pool
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
// databases are on, such as 160014 for PostgreSQL 16.14, for tests whose
// expectations depend on the version. Like [ConnString], it ends the test
// when there is no server.
func ServerVersion(t testing.TB) int {
	t.Helper()
	return getServer(t).version
}

// newDatabase creates a database for t, to be dropped in t.Cleanup, and
// returns its name.
func newDatabase(t testing.TB, s *server) string {
	t.Helper()
	for {
		name := fmt.Sprintf("waymark_test_%d_%d", os.Getpid(), dbCounter.Add(1))
		err := s.createDB(t.Context(), name, "template0")
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42P04" {
			continue // duplicate_database: left by another process with our PID
		}
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.dropDB(ctx, name); err != nil {
				t.Errorf("pgtest: %v", err)
			}
		})
		return name
	}
}

// getServer returns the shared server, starting it on first use. When
// there is none it ends the test (see reportUnavailable).
func getServer(t testing.TB) *server {
	t.Helper()
	state.mu.Lock()
	defer state.mu.Unlock()
	switch {
	case !state.mainCalled:
		t.Fatal("pgtest: the package's TestMain must run the tests with pgtest.Main: " +
			"func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }")
	case state.closed:
		t.Fatal("pgtest: database requested after pgtest.Main returned")
	case !state.started:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		state.url = os.Getenv(EnvURL)
		state.srv, state.err = newServer(ctx, state.url)
		state.started = true
	}
	if state.err != nil {
		reportUnavailable(t, state.err, testing.Short(), state.url != "")
	}
	return state.srv
}

// reportUnavailable ends the test because err left it without a server:
// skipped when short, else failed. usingURL tells whether err came from the
// server at WAYMARK_TEST_DATABASE_URL.
func reportUnavailable(t testing.TB, err error, short, usingURL bool) {
	t.Helper()
	const example = EnvURL + "=postgres://postgres@localhost:5432/postgres?sslmode=disable"
	var hint string
	switch {
	case usingURL:
		hint = "Check that the server at " + EnvURL + " is up and lets its user create databases, " +
			"or unset " + EnvURL + " to start a throwaway server from the local PostgreSQL binaries " +
			"(apt-get install -y postgresql)."
	case errors.Is(err, pgcluster.ErrNotFound):
		hint = "For example: " + example
	default:
		hint = "Repair the local PostgreSQL installation (apt-get install -y postgresql), " +
			"or use a running server: " + example
	}
	msg := fmt.Sprintf("pgtest: no PostgreSQL server for this test: %v\n%s", err, hint)
	if short {
		t.Skip(msg + "\n(skipped because of -short)")
	}
	t.Fatal(msg)
}

// server is a PostgreSQL server on which tests get databases.
type server struct {
	admin      *pgxpool.Pool
	adminConn  string                     // connection string of admin
	connString func(dbname string) string // for a database of the server
	strategy   string                     // clause of CREATE DATABASE choosing how to copy
	version    int                        // server_version_num
	cluster    *pgcluster.Cluster         // nil when the server is not ours
}

// newServer connects to the server at url or, if url is empty, starts a
// throwaway cluster.
func newServer(ctx context.Context, url string) (*server, error) {
	if url != "" {
		s, err := connectServer(ctx, url, func(dbname string) string { return withDatabase(url, dbname) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvURL, err)
		}
		return s, nil
	}
	c, err := pgcluster.Start(ctx, nil)
	if err != nil {
		return nil, err
	}
	s, err := connectServer(ctx, c.ConnString("postgres"), c.ConnString)
	if err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	s.cluster = c
	return s, nil
}

func connectServer(ctx context.Context, adminConn string, connString func(string) string) (*server, error) {
	admin, err := pgxpool.New(ctx, adminConn)
	if err != nil {
		return nil, err
	}
	var version int
	if err := admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		admin.Close()
		return nil, err
	}
	s := &server{admin: admin, adminConn: adminConn, connString: connString, version: version}
	if version >= 150000 {
		// The default there, WAL_LOG, was a little slower in our
		// measurements (see the package doc), and it copies the whole
		// template through the WAL, which costs more as templates grow.
		s.strategy = " STRATEGY FILE_COPY"
	}
	return s, nil
}

// createDB creates database name as a copy of database template.
func (s *server) createDB(ctx context.Context, name, template string) error {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() +
		" TEMPLATE " + pgx.Identifier{template}.Sanitize() + s.strategy
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create database %s from %s: %w", name, template, err)
	}
	return nil
}

// dropDB drops database name, ending any sessions still connected to it.
func (s *server) dropDB(ctx context.Context, name string) error {
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func (s *server) close() error {
	s.admin.Close()
	if s.cluster != nil {
		return s.cluster.Stop()
	}
	return nil
}

// withDatabase returns connString (URL or keyword/value form) changed to
// name database dbname. It appends a dbname parameter, which overrides an
// earlier one and a URL's path, and keeps everything else as it was.
func withDatabase(connString, dbname string) string {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		switch {
		case !strings.Contains(connString, "?"):
			connString += "?"
		case !strings.HasSuffix(connString, "?") && !strings.HasSuffix(connString, "&"):
			connString += "&"
		}
		return connString + "dbname=" + percentEncode(dbname)
	}
	return connString + " dbname=" + quoteValue(dbname)
}

// percentEncode escapes every byte of s but unreserved URL characters.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// quoteValue quotes s as a value of a keyword/value connection string.
func quoteValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
