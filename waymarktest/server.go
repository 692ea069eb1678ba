package waymarktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL is the environment variable that names a server of your own to
// create the test databases on, instead of the throwaway cluster: a
// connection string (URL or keyword/value form) for a role allowed to
// create databases, naming the database it connects to while it creates
// and drops the test databases (not template0 or template1).
const EnvURL = "WAYMARK_TEST_DATABASE_URL"

// Age limits of what the kit leaves on a server of your own (see
// "Failed tests" in the package doc).
const (
	// KeptMaxAge is how long the database of a failed test is kept: the
	// first test run on the same server after that drops it.
	KeptMaxAge = 24 * time.Hour
	// TemplateMaxAge is how long a template database is kept after it was
	// built: the first test run on the same server after that drops it,
	// and the next test that needs it builds it again.
	TemplateMaxAge = 7 * 24 * time.Hour
)

// state is the server shared by the tests of the process.
var state struct {
	mu      sync.Mutex
	started bool   // srv or err is set
	url     string // EnvURL when the server was set up
	srv     *server
	err     error
	pool    poolConfig // read from the environment
	poolErr error      // a bad EnvPoolSize or EnvPoolMB
}

// dbCounter numbers the databases created by this process.
var dbCounter atomic.Int64

// server is a PostgreSQL server on which tests get databases.
type server struct {
	admin      *pgxpool.Pool
	adminConn  string                     // connection string of admin
	connString func(dbname string) string // for a database of the server
	strategy   string                     // clause of CREATE DATABASE choosing how to copy
	version    int                        // server_version_num
	throwaway  bool                       // the shared throwaway cluster, not a server of the user's

	pool poolConfig // of the warm pools

	mu             sync.Mutex
	templates      map[string]*template // by name
	pools          map[string]*warmPool // by template name
	sweepStockOnce sync.Once
}

// Server returns a connection string for the maintenance database of the
// server the tests' databases are created on (the database the kit
// connects to while it creates and drops them), starting the throwaway
// cluster if needed. Tests use it for what lives outside one database, such
// as roles. When no server can be had, it ends the test: see the package
// doc, "When there is no server".
func Server(t testing.TB) string {
	t.Helper()
	return getServer(t).adminConn
}

// ServerVersion returns the server_version_num of the server the tests'
// databases are on, such as 150018 for PostgreSQL 15.18.
func ServerVersion(t testing.TB) int {
	t.Helper()
	return getServer(t).version
}

// getServer returns the process's server, connecting to it (and starting
// the throwaway cluster) on first use. When there is none it ends the test
// (see reportUnavailable).
func getServer(t testing.TB) *server {
	t.Helper()
	state.mu.Lock()
	defer state.mu.Unlock()
	if !state.started {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		state.url = os.Getenv(EnvURL)
		state.pool, state.poolErr = readPoolConfig(os.Getenv)
		if state.poolErr == nil {
			state.srv, state.err = newServer(ctx, state.url)
		}
		if state.srv != nil {
			state.srv.pool = state.pool
		}
		state.started = true
	}
	if state.poolErr != nil {
		t.Fatal(state.poolErr)
	}
	if state.err != nil {
		reportUnavailable(t, state.err, testing.Short(), state.url != "")
	}
	return state.srv
}

// startTimeout bounds starting the throwaway cluster (which may fetch the
// server binaries first) or connecting to a server of the user's.
const startTimeout = 5 * time.Minute

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
	case binariesMissing(err):
		hint = "For example: " + example
	default:
		hint = "Repair the local PostgreSQL installation (apt-get install -y postgresql), " +
			"or use a running server: " + example
	}
	msg := fmt.Sprintf("waymarktest: no PostgreSQL server for this test: %v\n%s", err, hint)
	if short {
		t.Skip(msg + "\n(skipped because of -short)")
	}
	t.Fatal(msg)
}

// newServer connects to the server at url or, if url is empty, to the
// throwaway cluster shared by the test processes of this run.
func newServer(ctx context.Context, url string) (*server, error) {
	if url != "" {
		s, err := connectServer(ctx, url, func(dbname string) string { return withDatabase(url, dbname) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvURL, err)
		}
		s.sweep(ctx, time.Now())
		return s, nil
	}
	adminConn, err := sharedCluster(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := pgconn.ParseConfig(adminConn)
	if err != nil {
		return nil, fmt.Errorf("waymarktest: throwaway cluster: %w", err)
	}
	s, err := connectServer(ctx, adminConn, func(dbname string) string {
		return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable",
			quoteValue(cfg.Host), cfg.Port, quoteValue(cfg.User), quoteValue(dbname))
	})
	if err != nil {
		return nil, fmt.Errorf("waymarktest: throwaway cluster: %w", err)
	}
	s.throwaway = true
	return s, nil
}

func connectServer(ctx context.Context, adminConn string, connString func(string) string) (*server, error) {
	cfg, err := pgxpool.ParseConfig(adminConn)
	if err != nil {
		return nil, err
	}
	// Tests wait for databases in parallel; each CREATE DATABASE holds a
	// connection for its duration.
	cfg.MaxConns = 8
	admin, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var version int
	var fsync bool
	if err := admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('fsync')::bool").Scan(&version, &fsync); err != nil {
		admin.Close()
		return nil, err
	}
	s := &server{admin: admin, adminConn: adminConn, connString: connString, version: version,
		strategy: cloneStrategy(version, fsync), templates: map[string]*template{}, pools: map[string]*warmPool{}}
	return s, nil
}

// cloneStrategy returns the clause of CREATE DATABASE that chooses how
// to copy a template, on a server of version (server_version_num) with
// fsync on or off. Before PostgreSQL 15 there is no choice: the files
// are copied. From 15 on, FILE_COPY copies the files with a checkpoint
// before and after, and WAL_LOG (the server's default) copies them block
// by block through the write-ahead log. With fsync off FILE_COPY took
// half the time of WAL_LOG, in memory and on disk; with fsync on, where
// each of its checkpoints flushes the server's dirty pages, twice as
// long (BenchmarkCloneStrategy; numbers in the package doc).
func cloneStrategy(version int, fsync bool) string {
	switch {
	case version < 150000:
		return ""
	case fsync:
		return " STRATEGY WAL_LOG"
	}
	return " STRATEGY FILE_COPY"
}

// createDB creates database name as a copy of database template.
func (s *server) createDB(ctx context.Context, name, template string) error {
	return s.create(ctx, name, template, "")
}

// create creates database name as a copy of database template, with the
// options of CREATE DATABASE in clause.
func (s *server) create(ctx context.Context, name, template, clause string) error {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() +
		" TEMPLATE " + pgx.Identifier{template}.Sanitize() + clause + s.strategy
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		return fmt.Errorf("waymarktest: create database %s from %s: %w", name, template, err)
	}
	return nil
}

// dropDB drops database name, ending any sessions still connected to it.
func (s *server) dropDB(ctx context.Context, name string) error {
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("waymarktest: drop database %s: %w", name, err)
	}
	return nil
}

// testDBPrefix starts the name of every test database:
// waymarktest_<unix seconds>_<pid>_<n>.
const testDBPrefix = "waymarktest_"

var testDBName = regexp.MustCompile(`^waymarktest_([0-9]+)_[0-9]+_[0-9]+$`)

// readyName matches the name of a ready clone of the warm pool:
// waymarktest_r_<hash>_<unix seconds>_<pid>_<n>.
var readyName = regexp.MustCompile(`^waymarktest_r_([0-9a-f]{16})_([0-9]+)_[0-9]+_[0-9]+$`)

// newDatabase creates a database for t from template, to be dropped in
// t.Cleanup (or kept, when t failed), and returns its name.
func (s *server) newDatabase(t testing.TB, template string) (string, error) {
	t.Helper()
	for {
		name := fmt.Sprintf("%s%d_%d_%d", testDBPrefix, time.Now().Unix(), os.Getpid(), dbCounter.Add(1))
		name, err := s.clone(t.Context(), name, template)
		if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "42P04" {
			continue // duplicate_database: left by another process with our PID
		}
		if err != nil {
			return "", err
		}
		t.Cleanup(func() { s.cleanup(t, name) })
		return name, nil
	}
}

// clone returns a new database that is a copy of template: one from the
// template's warm pool when there is one (under another name than name,
// when the process claimed it ahead), else a new copy named name.
func (s *server) clone(ctx context.Context, name, template string) (string, error) {
	if template != "template0" {
		if p := s.warm(template); p != nil {
			got, err := p.take(ctx, name)
			if got != "" || err != nil {
				return got, err
			}
		}
	}
	return name, s.createDB(ctx, name, template)
}

// cleanup drops the database name of test t, or keeps it and says so when
// t failed.
func (s *server) cleanup(t testing.TB, name string) {
	if t.Failed() {
		if strings.HasPrefix(name, stockPrefix) {
			// Claimed ahead: mark it, so that no process takes it for
			// an unused one when this process has ended.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			s.admin.Exec(ctx, "COMMENT ON DATABASE "+pgx.Identifier{name}.Sanitize()+" IS "+literal(keptComment))
			cancel()
		}
		until := "until the throwaway server stops at the end of this test run"
		if !s.throwaway {
			until = fmt.Sprintf("until a test run after %s drops it", time.Now().Add(KeptMaxAge).Format(time.DateTime))
		}
		t.Logf("waymarktest: kept the database of the failed test, %s: psql %q (%s)", name, s.connString(name), until)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.dropDB(ctx, name); err != nil {
		t.Errorf("%v", err)
	}
}

// sweep drops, on a server of the user's, the test databases older than
// KeptMaxAge (kept by failed tests, or left by crashed ones), the
// templates built more than TemplateMaxAge ago, and the ready clones of
// the warm pool made that long ago or whose template is gone. It reports nothing: a
// database it cannot drop now is dropped by a later run.
func (s *server) sweep(ctx context.Context, now time.Time) {
	rows, err := s.admin.Query(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '')
FROM pg_database WHERE datname LIKE 'waymarktest\_%'`)
	if err != nil {
		return
	}
	type db struct{ name, comment string }
	var dbs []db
	var d db
	if _, err := pgx.ForEachRow(rows, []any{&d.name, &d.comment}, func() error {
		dbs = append(dbs, d)
		return nil
	}); err != nil {
		return
	}
	templates := map[string]bool{} // prefixes of their ready clones' names
	for _, d := range dbs {
		built, ok := templateBuilt(d.comment)
		if ok && strings.HasPrefix(d.name, templatePrefix) && !strings.HasSuffix(d.name, buildSuffix) && now.Sub(built) <= TemplateMaxAge {
			templates[readyPrefixOf(d.name)] = true
		}
	}
	for _, d := range dbs {
		if m := readyName.FindStringSubmatch(d.name); m != nil {
			sec, err := strconv.ParseInt(m[2], 10, 64)
			if err == nil && (now.Sub(time.Unix(sec, 0)) > TemplateMaxAge || !templates[readyPrefix+m[1]+"_"]) {
				s.dropDB(ctx, d.name)
			}
			continue
		}
		if m := testDBName.FindStringSubmatch(d.name); m != nil {
			if sec, err := strconv.ParseInt(m[1], 10, 64); err == nil && now.Sub(time.Unix(sec, 0)) > KeptMaxAge {
				s.dropDB(ctx, d.name)
			}
			continue
		}
		if built, ok := templateBuilt(d.comment); ok && now.Sub(built) > TemplateMaxAge {
			s.dropTemplate(ctx, strings.TrimSuffix(d.name, buildSuffix))
		}
	}
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

// quoteValue quotes s as a value of a keyword/value connection string,
// when it needs quoting.
func quoteValue(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\r\v\f'\\") {
		return s
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
