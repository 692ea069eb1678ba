package waymarktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/source"
)

// dbExists asks the admin connection whether database name exists.
func dbExists(t testing.TB, name string) bool {
	t.Helper()
	var ok bool
	err := getServer(t).admin.QueryRow(context.Background(),
		"SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&ok)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func currentDatabase(t testing.TB, connString string) string {
	t.Helper()
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

// fakeTB is a testing.TB whose failure a test decides and whose cleanups
// it runs.
type fakeTB struct {
	testing.TB
	failed   bool
	cleanups []func()
	logs     []string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Failed() bool      { return f.failed }
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.TB.Errorf(format, args...)
}
func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestDatabaseDroppedUnlessFailed(t *testing.T) {
	t.Parallel()
	set := testsets.Load(t, "sample")
	for _, failed := range []bool{false, true} {
		f := &fakeTB{TB: t}
		connString := ConnString(f, set, nil)
		name := currentDatabase(t, connString)
		// A connection the test forgot to close must not stop the drop.
		leaked, err := pgx.Connect(t.Context(), connString)
		if err != nil {
			t.Fatal(err)
		}
		defer leaked.Close(context.Background())
		if !dbExists(t, name) {
			t.Fatalf("database %s does not exist during the test", name)
		}
		f.failed = failed
		f.runCleanups()
		if got := dbExists(t, name); got != failed {
			t.Errorf("test failed %v: database %s exists after the test: %v", failed, name, got)
		}
		logged := strings.Join(f.logs, "\n")
		if failed {
			if !strings.Contains(logged, "kept the database of the failed test, "+name) || !strings.Contains(logged, "psql") {
				t.Errorf("log of a failed test does not name its kept database %s:\n%s", name, logged)
			}
			if err := getServer(t).dropDB(t.Context(), name); err != nil {
				t.Fatal(err)
			}
		} else if logged != "" {
			t.Errorf("a passing test logged: %s", logged)
		}
	}
}

func TestTemplateName(t *testing.T) {
	files := map[string]string{
		"v1_a.up.sql": "CREATE TABLE a (id int);", "v1_a.down.sql": "DROP TABLE a;",
		"v2_b.up.sql": "CREATE TABLE b (id int);",
	}
	set := testsets.Map(t, files)
	name := templateName(set, 2, nil, "")
	if !regexp.MustCompile(`^waymarktest_tpl_[0-9a-f]{24}$`).MatchString(name) || len(name) > 63 {
		t.Fatalf("templateName = %q; want waymarktest_tpl_<24 hex digits>, at most 63 bytes", name)
	}
	edited := func(file, sql string) *source.Set {
		m := map[string]string{}
		for k, v := range files {
			m[k] = v
		}
		m[file] = sql
		return testsets.Map(t, m)
	}
	tests := []struct {
		what string
		got  string
		same bool
	}{
		{"the same set again", templateName(testsets.Map(t, files), 2, nil, ""), true},
		{"default options spelt out", templateName(set, 2, &pgxbackend.Options{Table: pgxbackend.DefaultTable}, ""), true},
		{"a lease TTL", templateName(set, 2, &pgxbackend.Options{LeaseTTL: time.Minute}, ""), true},
		{"a lease for the lock", templateName(set, 2, &pgxbackend.Options{Lock: pgxbackend.LockLease}, ""), false},
		{"an edited down script", templateName(edited("v1_a.down.sql", "DROP TABLE a; -- edited"), 2, nil, ""), true},
		{"a version above the target", templateName(edited("v3_c.up.sql", "SELECT 1;"), 2, nil, ""), true},
		{"an edited up script", templateName(edited("v2_b.up.sql", "CREATE TABLE b (id bigint);"), 2, nil, ""), false},
		{"an edited up script below the target", templateName(edited("v1_a.up.sql", "CREATE TABLE a (id bigint);"), 2, nil, ""), false},
		{"another target", templateName(set, 1, nil, ""), false},
		{"another history table", templateName(set, 2, &pgxbackend.Options{Table: "history"}, ""), false},
		{"another history schema", templateName(set, 2, &pgxbackend.Options{Schema: "meta"}, ""), false},
		{"another app key", templateName(set, 2, &pgxbackend.Options{AppKey: "billing"}, ""), false},
		{"a prerequisites script", templateName(set, 2, nil, "CREATE EXTENSION citext;"), false},
		{"a repeatable script, at the latest version", templateName(edited("r_v.sql", "CREATE VIEW v AS SELECT 1;"), 2, nil, ""), false},
	}
	withView := edited("r_v.sql", "CREATE VIEW v AS SELECT 1;")
	if templateName(withView, 1, nil, "") != templateName(set, 1, nil, "") {
		t.Error("a repeatable script changes the name of a template below the latest version, which does not apply it")
	}
	if templateName(withView, 2, nil, "") == templateName(edited("r_v.sql", "CREATE VIEW v AS SELECT 2;"), 2, nil, "") {
		t.Error("an edited repeatable script keeps the template's name")
	}
	for _, tt := range tests {
		if (tt.got == name) != tt.same {
			t.Errorf("%s: name %s, first %s; want the same: %v", tt.what, tt.got, name, tt.same)
		}
	}
}

// TestTemplateBuildFailure requires the migration's own error, with its
// file and line, for every test that asks for a set that does not apply.
func TestTemplateBuildFailure(t *testing.T) {
	t.Parallel()
	set := testsets.Load(t, "four") // v2 inserts into a column that does not exist
	s := getServer(t)
	for range 2 {
		_, err := s.template(t.Context(), set, 4, nil, "")
		if err == nil || !strings.Contains(err.Error(), "four/v2_two.up.sql:3:") {
			t.Errorf("template of set four: %v; want the error of four/v2_two.up.sql:3", err)
		}
	}
	name := templateName(set, 4, nil, "")
	for _, db := range []string{name, name + buildSuffix} {
		if dbExists(t, db) {
			t.Errorf("database %s exists after the template's build failed", db)
		}
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	s := getServer(t)
	ctx := t.Context()
	now := time.Now()
	old := now.Add(-KeptMaxAge - time.Hour)
	nonce := fmt.Sprintf("%d%d", os.Getpid(), now.UnixNano())
	oldTest := fmt.Sprintf("waymarktest_%d_%s_1", old.Unix(), nonce)
	newTest := fmt.Sprintf("waymarktest_%d_%s_2", now.Unix(), nonce)
	hex := fmt.Sprintf("%024x", now.UnixNano()+int64(os.Getpid())<<40)
	oldTemplate := "waymarktest_tpl_a" + hex[1:]
	newTemplate := "waymarktest_tpl_b" + hex[1:]
	// Ready clones of the warm pool: of a template that stays, made now
	// and long ago; of one that the sweep drops; of one that is gone.
	ready := func(tpl string, at time.Time) string {
		return fmt.Sprintf("%s%d_%d_%d", readyPrefixOf(tpl), at.Unix(), os.Getpid(), dbCounter.Add(1))
	}
	readyNew := ready(newTemplate, now)
	readyOld := ready(newTemplate, now.Add(-TemplateMaxAge-time.Hour))
	readyOfOld := ready(oldTemplate, now)
	readyOrphan := ready("waymarktest_tpl_c"+hex[1:], now)
	for _, name := range []string{oldTest, newTest, oldTemplate, newTemplate, readyNew, readyOld, readyOfOld, readyOrphan} {
		if err := s.createDB(ctx, name, "template0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.dropTemplate(context.Background(), name); s.dropDB(context.Background(), name) })
	}
	for name, built := range map[string]time.Time{oldTemplate: now.Add(-TemplateMaxAge - time.Hour), newTemplate: now.Add(-time.Hour)} {
		sql := "ALTER DATABASE " + name + " WITH IS_TEMPLATE true ALLOW_CONNECTIONS false; COMMENT ON DATABASE " + name +
			" IS '" + builtComment + built.UTC().Format(time.RFC3339) + "'"
		if _, err := s.admin.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	s.sweep(ctx, now)
	for name, want := range map[string]bool{oldTest: false, newTest: true, oldTemplate: false, newTemplate: true,
		readyNew: true, readyOld: false, readyOfOld: false, readyOrphan: false} {
		if got := dbExists(t, name); got != want {
			t.Errorf("after the sweep, database %s exists: %v; want %v", name, got, want)
		}
	}
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
	notFound := fmt.Errorf("%w on PATH", errNotFoundForTest)
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

// child runs this test binary again, running only test name, with the
// extra environment env, and returns its output; it fails the test if the
// child does not pass.
func child(t *testing.T, ctx context.Context, name string, env ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s (%q): %v\n%s", name, env, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("child did not pass %s:\n%s", name, out)
	}
	return string(out)
}

// TestDatabaseURL runs a child with WAYMARK_TEST_DATABASE_URL pointing at
// the server this process uses, in both forms, and checks that the child
// made its database there and dropped it.
func TestDatabaseURL(t *testing.T) {
	if os.Getenv(urlChildEnv) != "" {
		urlChild(t)
		return
	}
	t.Parallel()
	s := getServer(t)
	for _, form := range []struct{ name, url string }{
		{"keyword/value", s.adminConn},
		{"URL", toURL(t, s.adminConn)},
	} {
		t.Run(form.name, func(t *testing.T) {
			t.Parallel()
			out := child(t, t.Context(), "TestDatabaseURL", urlChildEnv+"=1", EnvURL+"="+form.url)
			m := regexp.MustCompile(`child database: (\S+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("child did not report its database:\n%s", out)
			}
			if dbExists(t, m[1]) {
				t.Errorf("child's database %s still exists", m[1])
			}
		})
	}
}

const urlChildEnv = "WAYMARKTEST_URL_CHILD"

// urlChild is TestDatabaseURL in the child process.
func urlChild(t *testing.T) {
	url := os.Getenv(EnvURL)
	connString := ConnString(t, nil, nil)
	name := currentDatabase(t, connString)
	if getServer(t).throwaway {
		t.Errorf("started a cluster although %s is set", EnvURL)
	}
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

// BenchmarkCreateDB measures creating (and dropping) one empty database
// per iteration with each strategy.
func BenchmarkCreateDB(b *testing.B) {
	s := getServer(b)
	strategies := []string{""}
	if s.version >= 150000 {
		strategies = []string{" STRATEGY FILE_COPY", " STRATEGY WAL_LOG"}
	}
	for _, strategy := range strategies {
		b.Run("template0"+strings.ReplaceAll(strategy, " ", "_"), func(b *testing.B) {
			s := &server{admin: s.admin, strategy: strategy}
			for b.Loop() {
				name := fmt.Sprintf("waymarktest_bench_%d_%d", os.Getpid(), dbCounter.Add(1))
				if err := s.createDB(b.Context(), name, "template0"); err != nil {
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

// TestCloneStrategy checks the choice of CREATE DATABASE's strategy by
// version and fsync, and that the kit's own server gets the one its
// settings call for.
func TestCloneStrategy(t *testing.T) {
	for _, tt := range []struct {
		version int
		fsync   bool
		want    string
	}{
		{140011, false, ""},
		{140011, true, ""},
		{150018, false, " STRATEGY FILE_COPY"},
		{150018, true, " STRATEGY WAL_LOG"},
		{180001, false, " STRATEGY FILE_COPY"},
	} {
		if got := cloneStrategy(tt.version, tt.fsync); got != tt.want {
			t.Errorf("cloneStrategy(%d, %v) = %q; want %q", tt.version, tt.fsync, got, tt.want)
		}
	}
	s := getServer(t)
	var fsync bool
	if err := s.admin.QueryRow(t.Context(), "SELECT current_setting('fsync')::bool").Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if want := cloneStrategy(s.version, fsync); s.strategy != want {
		t.Errorf("the server (version %d, fsync %v) clones with %q; want %q", s.version, fsync, s.strategy, want)
	}
}
