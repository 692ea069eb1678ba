package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/internal/pgfetch"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// shared returns the server the package's tests use.
func shared(t *testing.T) *server {
	t.Helper()
	return getServer(t)
}

func currentDatabase(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var name string
	if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// databaseExists asks the admin connection whether database name exists.
func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	var ok bool
	err := shared(t).admin.QueryRow(t.Context(),
		"SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := Conn(t), Conn(t)
	nameA, nameB := currentDatabase(t, a), currentDatabase(t, b)
	if nameA == nameB {
		t.Fatalf("two calls gave the same database %s", nameA)
	}
	if _, err := a.Exec(t.Context(), "CREATE TABLE only_in_a (id int)"); err != nil {
		t.Fatal(err)
	}
	var inA, inB bool
	const q = "SELECT to_regclass('only_in_a') IS NOT NULL"
	if err := a.QueryRow(t.Context(), q).Scan(&inA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(t.Context(), q).Scan(&inB); err != nil {
		t.Fatal(err)
	}
	if !inA || inB {
		t.Errorf("table only_in_a: in %s %v, in %s %v; want true, false", nameA, inA, nameB, inB)
	}
}

func TestDatabaseIsNewAndEmpty(t *testing.T) {
	t.Parallel()
	pool := Pool(t)
	var tables int
	err := pool.QueryRow(t.Context(),
		"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')").Scan(&tables)
	if err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("new database has %d relations outside the system schemas; want 0", tables)
	}
	var name, encoding string
	if err := pool.QueryRow(t.Context(), "SELECT current_database(), pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").Scan(&name, &encoding); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(fmt.Sprintf(`^waymark_test_%d_\d+$`, os.Getpid())).MatchString(name) {
		t.Errorf("database name %q; want waymark_test_<pid>_<n>", name)
	}
	if s := shared(t); s.cluster != nil && encoding != "UTF8" {
		t.Errorf("database encoding %s; want UTF8", encoding)
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	t.Parallel()
	var names []string
	t.Run("user", func(t *testing.T) {
		conn := Conn(t)
		pool := Pool(t)
		names = append(names, currentDatabase(t, conn), ConnString(t))
		var name string
		if err := pool.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		// A connection the test forgot to close must not stop the drop.
		leaked, err := pgx.Connect(t.Context(), shared(t).connString(name))
		if err != nil {
			t.Fatal(err)
		}
		_ = leaked
		if !databaseExists(t, name) {
			t.Errorf("database %s does not exist during the test", name)
		}
	})
	if len(names) != 3 {
		t.Fatalf("subtest failed early")
	}
	// names[1] is a connection string; find its database.
	cfg, err := pgconn.ParseConfig(names[1])
	if err != nil {
		t.Fatal(err)
	}
	names[1] = cfg.Database
	for _, name := range names {
		if databaseExists(t, name) {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
}

func TestParallel(t *testing.T) {
	t.Parallel()
	const n = 12
	var (
		mu    sync.Mutex
		names = map[string]int{}
	)
	t.Run("group", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				pool := Pool(t)
				ctx := t.Context()
				if _, err := pool.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
					t.Fatal(err)
				}
				if _, err := pool.Exec(ctx, "INSERT INTO t SELECT generate_series(1, $1::int)", i); err != nil {
					t.Fatal(err)
				}
				var name string
				var count int
				if err := pool.QueryRow(ctx, "SELECT current_database(), (SELECT count(*) FROM t)").Scan(&name, &count); err != nil {
					t.Fatal(err)
				}
				if count != i {
					t.Errorf("table t has %d rows; want %d", count, i)
				}
				mu.Lock()
				names[name]++
				mu.Unlock()
			})
		}
	})
	if len(names) != n {
		t.Errorf("%d parallel tests got %d distinct databases: %v", n, len(names), names)
	}
}

// TestDatabaseURL runs this test again in a child process, with
// WAYMARK_TEST_DATABASE_URL pointing at the server the parent uses, and
// checks that the child made its database there and dropped it.
func TestDatabaseURL(t *testing.T) {
	if os.Getenv(urlChildEnv) != "" {
		urlChild(t)
		return
	}
	t.Parallel()
	s := shared(t)
	for _, form := range []struct{ name, url string }{
		{"keyword/value", s.adminConn},
		{"URL", toURL(t, s.adminConn)},
	} {
		t.Run(form.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestDatabaseURL$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), urlChildEnv+"=1", EnvURL+"="+form.url)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child with %s=%s: %v\n%s", EnvURL, form.url, err, out)
			}
			if !strings.Contains(string(out), "--- PASS: TestDatabaseURL") {
				t.Fatalf("child did not pass TestDatabaseURL:\n%s", out)
			}
			m := regexp.MustCompile(`child database: (\S+)`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("child did not report its database:\n%s", out)
			}
			if databaseExists(t, string(m[1])) {
				t.Errorf("child's database %s still exists", m[1])
			}
		})
	}
}

const urlChildEnv = "PGTEST_URL_CHILD"

// urlChild is TestDatabaseURL in the child process.
func urlChild(t *testing.T) {
	url := os.Getenv(EnvURL)
	if url == "" {
		t.Fatalf("%s is not set", EnvURL)
	}
	conn := Conn(t)
	name := currentDatabase(t, conn)
	if s := shared(t); s.cluster != nil {
		t.Errorf("started a cluster although %s is set", EnvURL)
	}
	if _, err := conn.Exec(t.Context(), "CREATE TABLE t (id int)"); err != nil {
		t.Fatal(err)
	}
	// The database must be on the server named by the URL.
	other, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	var exists bool
	if err := other.QueryRow(t.Context(), "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		t.Errorf("database %s is not on the server at %s", name, url)
	}
	fmt.Printf("child database: %s\n", name)
}

// toURL rewrites a keyword/value connection string as a URL; it may
// already be one.
func toURL(t *testing.T, connString string) string {
	t.Helper()
	if strings.HasPrefix(connString, "postgres") {
		return connString
	}
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.Host, "/") {
		return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	}
	return fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d&sslmode=disable",
		cfg.User, percentEncode(cfg.Database), percentEncode(cfg.Host), cfg.Port)
}

func TestWithDatabase(t *testing.T) {
	type conf struct {
		Host, User, Database string
		Port                 uint16
		TLS                  bool
	}
	tests := []struct {
		name, in, dbname string
		want             conf
	}{
		{"URL with path", "postgres://u@h:5433/db?sslmode=disable", "x", conf{"h", "u", "x", 5433, false}},
		{"URL without path", "postgresql://u@h", "x", conf{"h", "u", "x", 5432, true}},
		{"URL ending in ?", "postgres://u@h/db?", "x", conf{"h", "u", "x", 5432, true}},
		{"URL with dbname parameter", "postgres://u@h/db?dbname=other&sslmode=disable", "x", conf{"h", "u", "x", 5432, false}},
		{"URL, name needing escapes", "postgres://u@h/db?sslmode=disable", "a b&c=d%'", conf{"h", "u", "a b&c=d%'", 5432, false}},
		{"keyword/value", "host=h user=u dbname=db sslmode=disable", "x", conf{"h", "u", "x", 5432, false}},
		{"keyword/value with spaces around =", "host = h user=u", "x", conf{"h", "u", "x", 5432, true}},
		{"keyword/value, name needing quotes", "host=/tmp/s user=u sslmode=disable", `it's \ odd`, conf{"/tmp/s", "u", `it's \ odd`, 5432, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := withDatabase(tt.in, tt.dbname)
			cfg, err := pgconn.ParseConfig(s)
			if err != nil {
				t.Fatalf("withDatabase(%q, %q) = %q, which does not parse: %v", tt.in, tt.dbname, s, err)
			}
			got := conf{cfg.Host, cfg.User, cfg.Database, cfg.Port, cfg.TLSConfig != nil}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("withDatabase(%q, %q) = %q (-want +got):\n%s", tt.in, tt.dbname, s, diff)
			}
		})
	}
}

// recorder is a testing.TB that records how a test ended.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestReportUnavailable(t *testing.T) {
	notFound := fmt.Errorf("%w on PATH", pgcluster.ErrNotFound)
	tests := []struct {
		name     string
		err      error
		short    bool
		usingURL bool
		want     []string
	}{
		{"no binaries", notFound, false, false, []string{"on PATH", EnvURL + "=postgres://"}},
		{"no binaries, -short", notFound, true, false, []string{"on PATH", EnvURL + "=postgres://", "-short"}},
		{"start failed", errors.New("initdb: exit status 1"), false, false,
			[]string{"initdb: exit status 1", "apt-get install -y postgresql", EnvURL + "=postgres://"}},
		{"URL server down", errors.New("connection refused"), false, true,
			[]string{"connection refused", "Check that the server at " + EnvURL, "apt-get install -y postgresql"}},
		{"URL server down, -short", errors.New("connection refused"), true, true,
			[]string{"connection refused", "Check that the server at " + EnvURL, "-short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				reportUnavailable(r, tt.err, tt.short, tt.usingURL)
			}()
			<-done
			msg := r.failed
			if tt.short {
				msg = r.skipped
			}
			if msg == "" || r.failed != "" && r.skipped != "" {
				t.Fatalf("failed %q, skipped %q; want exactly one, the %s", r.failed, r.skipped,
					map[bool]string{false: "failure", true: "skip"}[tt.short])
			}
			for _, want := range tt.want {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
		})
	}
}

// BenchmarkCreateDB measures creating (and dropping) one database per
// iteration with each template and strategy; see the package doc.
func BenchmarkCreateDB(b *testing.B) {
	s := getServer(b)
	var version int
	if err := s.admin.QueryRow(b.Context(), "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		b.Fatal(err)
	}
	strategies := []string{""}
	if version >= 150000 {
		strategies = []string{" STRATEGY FILE_COPY", " STRATEGY WAL_LOG"}
	}
	for _, template := range []string{"template0", "template1"} {
		for _, strategy := range strategies {
			b.Run(template+strings.ReplaceAll(strategy, " ", "_"), func(b *testing.B) {
				s := *s
				s.strategy = strategy
				for b.Loop() {
					name := fmt.Sprintf("waymark_bench_%d_%d", os.Getpid(), dbCounter.Add(1))
					if err := s.createDB(b.Context(), name, template); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := s.dropDB(b.Context(), name); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}

func TestObjects(t *testing.T) {
	pool := Pool(t)
	if got := Objects(t, pool); len(got) != 0 {
		t.Errorf("Objects of a new database = %q, want none", got)
	}
	_, err := pool.Exec(context.Background(), `CREATE SCHEMA audit;
CREATE TABLE audit.log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x int);
CREATE VIEW v AS SELECT 1 AS one`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"S audit.log_id_seq", "i audit.log_pkey", "r audit.log", "schema audit", "v public.v"}
	if diff := cmp.Diff(want, Objects(t, pool)); diff != "" {
		t.Errorf("Objects (-want +got):\n%s", diff)
	}
}

// TestServerVersion logs the server's version() (make test-matrix reads
// the line) and checks that a cluster started for the tests runs the
// version WAYMARK_PG_VERSION asks for, and that ServerVersion agrees with
// the server.
func TestServerVersion(t *testing.T) {
	t.Parallel()
	pool := Pool(t)
	var version string
	var num int
	if err := pool.QueryRow(t.Context(), "SELECT version(), current_setting('server_version_num')::int").Scan(&version, &num); err != nil {
		t.Fatal(err)
	}
	t.Logf("server version(): %s", version)
	if got := ServerVersion(t); got != num {
		t.Errorf("ServerVersion = %d; the server says %d", got, num)
	}
	spec := os.Getenv(pgcluster.EnvVersion)
	if spec == "" || shared(t).cluster == nil || os.Getenv(pgcluster.EnvBinDir) != "" {
		return // the version was not chosen through the variable
	}
	r, err := pgfetch.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := r.Server()
	if got := fmt.Sprintf("%d.%d", num/10000, num%10000); got != want {
		t.Errorf("%s=%s: the server is PostgreSQL %s; want %s", pgcluster.EnvVersion, spec, got, want)
	}
}
