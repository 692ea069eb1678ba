//go:build unix

package waymarktest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/source"
)

var errNotFoundForTest = pgcluster.ErrNotFound

// The environment of the child processes of the tests below.
const (
	childEnv   = "WAYMARKTEST_CHILD"       // which child: template, hold
	childNonce = "WAYMARKTEST_CHILD_NONCE" // makes the child's set new
)

// nonceSet is a set no process has asked for before the nonce was made.
func nonceSet(t testing.TB, nonce string) *source.Set {
	return testsets.Map(t, map[string]string{
		"v1_a.up.sql":   "-- " + nonce + "\nCREATE TABLE a (id int);",
		"v1_a.down.sql": "DROP TABLE a;",
		"v2_b.up.sql":   "CREATE TABLE b (id int);\nSELECT pg_sleep(0.5); -- the others must wait for the build",
	})
}

// TestChild is the body of the child processes of the tests below.
func TestChild(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("runs only as a child process of TestTemplateAcrossProcesses and TestSharedClusterOutlivesNoCrashedProcess")
	case "template":
		connString := ConnString(t, nonceSet(t, os.Getenv(childNonce)), nil)
		tp := getServer(t).templates[templateName(nonceSet(t, os.Getenv(childNonce)), 2, nil, "")]
		fmt.Printf("child built=%v server=%q db=%s\n", tp.built, getServer(t).adminConn, currentDatabase(t, connString))
	case "hold":
		fmt.Printf("child server=%q\n", Server(t))
		time.Sleep(time.Minute) // until the parent kills it
	}
}

// children runs n children of kind concurrently, with their cluster
// apart from this process's (key), and returns their outputs.
func children(t *testing.T, n int, kind, key string, env ...string) []string {
	outs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			outs[i] = childOutput(t, kind, key, env...)
		})
	}
	wg.Wait()
	return outs
}

func childOutput(t *testing.T, kind, key string, env ...string) string {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), append(env, childEnv+"="+kind, envKey+"="+key, envIdle+"=500ms")...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestChild") {
		t.Errorf("child %s: %v\n%s", kind, err, out)
	}
	return string(out)
}

// TestTemplateAcrossProcesses starts three test processes at once that ask
// for the same new set: one builds its template and the others wait for
// it and clone it; each gets a database of its own, on one shared cluster
// (unless WAYMARK_TEST_DATABASE_URL names a server), which stops when they
// have exited.
func TestTemplateAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark under load or of its own machinery, not of the PostgreSQL version; make test runs it")
	}
	t.Parallel()
	nonce := fmt.Sprintf("nonce %d %d", os.Getpid(), time.Now().UnixNano())
	key := "template " + nonce
	outs := children(t, 3, "template", key, childNonce+"="+nonce)
	if t.Failed() {
		return
	}
	re := regexp.MustCompile(`child built=(true|false) server=("[^"]*") db=(\S+)`)
	builders, servers, dbs := 0, map[string]bool{}, map[string]bool{}
	for _, out := range outs {
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("child did not report:\n%s", out)
		}
		if m[1] == "true" {
			builders++
		}
		servers[m[2]] = true
		dbs[m[3]] = true
	}
	if builders != 1 || len(dbs) != 3 || len(servers) != 1 {
		t.Errorf("%d children built the template (want 1), they had %d databases (want 3) on %d servers (want 1):\n%s",
			builders, len(dbs), len(servers), strings.Join(outs, "\n"))
	}
	if os.Getenv(EnvURL) != "" {
		return
	}
	for s := range servers {
		waitStopped(t, s, key)
	}
}

// TestSharedClusterOutlivesNoCrashedProcess kills a child holding the
// shared cluster and requires the cluster to stop all the same.
func TestSharedClusterOutlivesNoCrashedProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark under load or of its own machinery, not of the PostgreSQL version; make test runs it")
	}
	if os.Getenv(EnvURL) != "" {
		t.Skip("the throwaway cluster is not used when " + EnvURL + " is set")
	}
	t.Parallel()
	key := fmt.Sprintf("hold %d %d", os.Getpid(), time.Now().UnixNano())
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=hold", envKey+"="+key, envIdle+"=500ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var server string
	for lines.Scan() {
		if s, ok := strings.CutPrefix(lines.Text(), "child server="); ok {
			server = s
			break
		}
	}
	if server == "" {
		t.Fatalf("child did not report its server")
	}
	// The cluster lives as long as the child holds it.
	time.Sleep(time.Second)
	if err := ping(server); err != nil {
		t.Fatalf("the cluster stopped while the child held it: %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	waitStopped(t, server, key)
}

func ping(quoted string) error {
	var connString string
	fmt.Sscanf(quoted, "%q", &connString)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, connString)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// waitStopped waits until the cluster at the quoted connection string no
// longer answers and its files and its registry (of the children of this
// process with key) are gone.
func waitStopped(t *testing.T, quoted, key string) {
	t.Helper()
	var connString string
	fmt.Sscanf(quoted, "%q", &connString)
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		t.Fatal(err)
	}
	registry := registryDirFor(os.Getpid(), key) // the children's
	deadline := time.Now().Add(time.Minute)
	for {
		_, dirErr := os.Stat(cfg.Host)
		_, regErr := os.Stat(registry)
		pingErr := ping(quoted)
		if os.IsNotExist(dirErr) && os.IsNotExist(regErr) && pingErr != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after its last user exited, the cluster in %s is still there (ping: %v, registry %s: %v)",
				cfg.Host, pingErr, registry, regErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSweepStale(t *testing.T) {
	base := t.TempDir()
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprint(exited.Process.Pid)
	now := time.Now()
	mk := func(name, pid string, age time.Duration) string {
		dir := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if pid != "" {
			if err := os.WriteFile(filepath.Join(dir, "data", "postmaster.pid"), []byte(pid+"\n/data\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(dir, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	want := map[string]bool{ // still there after the sweep
		mk("waymark-pg-dead", dead, time.Hour):                       false,
		mk("waymark-pg-never-started", "", time.Hour):                false,
		mk("waymark-pg-running", fmt.Sprint(os.Getpid()), time.Hour): true,
		mk("waymark-pg-starting", "", time.Minute):                   true,
		mk("not-a-cluster", "", time.Hour):                           true,
	}
	sweepStale(base, now, t.Logf)
	for dir, kept := range want {
		if _, err := os.Stat(dir); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", filepath.Base(dir), err == nil, kept)
		}
	}
}

func TestStartError(t *testing.T) {
	missing := &startError{"pgcluster: PostgreSQL server binaries (initdb, postgres) not found on PATH", true}
	if !errors.Is(missing, pgcluster.ErrNotFound) || !binariesMissing(missing) || missing.Error() != missing.msg {
		t.Errorf("%v: not ErrNotFound", missing)
	}
	if other := (&startError{"initdb: exit status 1", false}); errors.Is(other, pgcluster.ErrNotFound) {
		t.Errorf("%v is ErrNotFound", other)
	}
}
