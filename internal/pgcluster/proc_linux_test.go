package pgcluster

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerDiesWithCaller kills a process that started a cluster, without
// letting it stop the cluster, and checks that the server goes too. When
// running as root this also checks that the parent-death signal survives
// the switch to the unprivileged user.
func TestServerDiesWithCaller(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark under load or of its own machinery, not of the PostgreSQL version; make test runs it")
	}
	if _, err := FindBinDir(t.Context(), nil); err != nil && testing.Short() {
		t.Skip(err)
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashChildEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's report: %v", err)
	}
	var pid int
	var dir string
	if _, err := fmt.Sscanf(line, "postmaster %d %s", &pid, &dir); err != nil {
		t.Fatalf("child reported %q: %v", line, err)
	}
	pids := append([]int{pid}, childPIDs(t, pid)...)
	t.Cleanup(func() {
		for _, p := range pids { // survivors, if the test failed
			if alive(p) {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
		os.RemoveAll(dir) // the child could not remove it
	})
	if !alive(pid) {
		t.Fatalf("server %d is not running before the kill", pid)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	deadline := time.Now().Add(15 * time.Second)
	for _, p := range pids {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(p) {
			t.Errorf("server process %d still running 15s after its parent was killed", p)
		}
	}
	log, err := os.ReadFile(filepath.Join(dir, "postgres.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "received immediate shutdown request") {
		t.Errorf("server log does not show the SIGQUIT from the parent-death signal:\n%s", log)
	}
}

// alive reports whether process pid exists and is not a zombie (a killed
// postmaster is reparented to PID 1, which may never reap it).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	state, _, ok := parseStat(b)
	return ok && state != 'Z'
}

// childPIDs returns the live child processes of pid.
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		if state, ppid, ok := parseStat(b); ok && ppid == pid && state != 'Z' {
			pids = append(pids, p)
		}
	}
	return pids
}

// parseStat reads the state and parent PID from /proc/<pid>/stat:
// "pid (comm) state ppid ...", where comm may hold spaces and parentheses.
func parseStat(b []byte) (state byte, ppid int, ok bool) {
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}
