package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
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
	realBin, err := FindBinDir()
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
	mkdir(t, filepath.Join(old, "9.6", "bin"))
	mkdir(t, filepath.Join(old, "10", "bin"))
	for _, v := range []string{"9.6", "10"} {
		writeScript(t, filepath.Join(old, v, "bin", "initdb"), "exit 0")
		writeScript(t, filepath.Join(old, v, "bin", "postgres"), "exit 0")
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

	onPath := func(dir string) func(string) (string, error) {
		return func(name string) (string, error) {
			if dir == "" {
				return "", errors.New("not found")
			}
			return filepath.Join(dir, name), nil
		}
	}
	tests := []struct {
		name     string
		lookPath func(string) (string, error)
		root     string
		want     string
		notFound bool
	}{
		{"newest complete version, sorted as numbers", onPath(""), root, filepath.Join(root, "15", "bin"), false},
		{"10 is newer than 9.6", onPath(""), old, filepath.Join(old, "10", "bin"), false},
		{"PATH wins over the tree", onPath(filepath.Join(old, "9.6", "bin")), root, filepath.Join(old, "9.6", "bin"), false},
		{"PATH symlinks resolve to the real directory", onPath(links), old, filepath.Join(root, "10", "bin"), false},
		{"initdb on PATH without postgres is ignored", onPath(lonely), old, filepath.Join(old, "10", "bin"), false},
		{"nothing anywhere", onPath(""), filepath.Join(root, "missing"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findBinDir(tt.lookPath, tt.root)
			if tt.notFound {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("findBinDir = %q, %v; want ErrNotFound", got, err)
				}
				if !strings.Contains(err.Error(), "apt-get install -y postgresql") ||
					!strings.Contains(err.Error(), "WAYMARK_TEST_DATABASE_URL") {
					t.Errorf("error %q does not say how to get PostgreSQL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("findBinDir = %q; want %q", got, tt.want)
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
