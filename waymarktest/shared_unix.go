//go:build unix

package waymarktest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/waymarkdb/waymark/internal/pgcluster"
)

// The throwaway cluster is shared by the test processes of one run (the
// test binaries that one go test command starts: they have the same
// parent). Its registry is a directory in the temporary directory, named
// by a hash of the user, the parent's PID and the WAYMARK_PG_* variables
// (which choose the server binaries), holding:
//
//	lock        flock'ed (exclusive) by whoever changes the registry
//	alive       flock'ed (exclusive) by the supervisor for its whole life
//	leases      flock'ed (shared) by every process using the cluster
//	state       the cluster's connection string (JSON), written by the supervisor
//	supervisor.log
//
// The supervisor is a copy of the test binary, started by the first
// process (see init), in a session of its own with its output in the log,
// so that it outlives that process and go test does not wait for it. It
// starts the cluster (whose server dies with it), writes state, and then
// checks the leases: once no process has held one for idleGrace, or none
// holds one and the run's go test command has exited, it takes the lock,
// checks again, removes the registry, stops the server and exits. A flock
// is released by the kernel when its process dies, so a crashed test
// process does not keep the cluster running, and a supervisor that dies
// takes the server with it (on Linux, through pgcluster's parent-death
// signal) and leaves a registry the next process sees is dead.

// Environment of the supervisor process.
const (
	envSupervisor = "WAYMARKTEST_SUPERVISOR"      // the registry directory
	envRunPID     = "WAYMARKTEST_SUPERVISOR_RUN"  // PID of the process whose children share the cluster
	envIdle       = "WAYMARKTEST_SUPERVISOR_IDLE" // idleGrace, as a time.Duration string
)

// envKey, when set, goes into the registry's name: processes with
// different values use different clusters. The kit's tests use it to keep
// the clusters of their child processes apart.
const envKey = "WAYMARKTEST_CLUSTER_KEY"

// idleGrace is how long the supervisor keeps an unused cluster while the
// run's go test command is still going (it may be building the next test
// binary). Tests of the kit shorten it.
var idleGrace = 10 * time.Second

func init() {
	if dir := os.Getenv(envSupervisor); dir != "" {
		os.Exit(supervise(dir))
	}
}

// clusterState is the registry's state file.
type clusterState struct {
	ConnString string `json:"conn_string,omitempty"`
	Error      string `json:"error,omitempty"`
	NotFound   bool   `json:"not_found,omitempty"` // Error wraps pgcluster.ErrNotFound
	PID        int    `json:"pid"`                 // the supervisor's
}

// binariesMissing reports whether err says that the PostgreSQL server
// binaries were not found.
func binariesMissing(err error) bool { return errors.Is(err, pgcluster.ErrNotFound) }

// leaseFile is this process's lease on the shared cluster, held until the
// process exits.
var leaseFile *os.File

// sharedCluster returns the admin connection string of the throwaway
// cluster shared by this run's test processes, starting it if none is
// running, and holds a lease on it for the rest of the process's life.
func sharedCluster(ctx context.Context) (string, error) {
	dir := registryDir()
	for {
		lock, err := lockRegistry(ctx, dir)
		if errors.Is(err, errStaleLock) {
			continue
		}
		if err != nil {
			return "", err
		}
		connString, err := attach(ctx, dir)
		lock.Close()
		return connString, err
	}
}

// attach returns the cluster's connection string and takes a lease, while
// the caller holds the registry lock; it starts a supervisor when there is
// no live one.
func attach(ctx context.Context, dir string) (string, error) {
	st, err := readState(dir)
	if err == nil && st.ConnString != "" && supervisorAlive(dir) {
		return st.ConnString, takeLease(dir)
	}
	os.Remove(filepath.Join(dir, "state"))
	if st, err = startSupervisor(ctx, dir); err != nil {
		return "", err
	}
	return st.ConnString, takeLease(dir)
}

// registryDir returns the registry directory of this run.
func registryDir() string { return registryDirFor(os.Getppid(), os.Getenv(envKey)) }

// registryDirFor returns the registry directory of the test processes
// that are children of process run and have envKey set to key.
func registryDirFor(run int, key string) string {
	var vars []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "WAYMARK_PG_") {
			vars = append(vars, kv)
		}
	}
	slices.Sort(vars)
	id := fmt.Sprintf("uid %d\nrun %d\nkey %s\n%s", os.Geteuid(), run, key, strings.Join(vars, "\n"))
	sum := sha256.Sum256([]byte(id))
	return filepath.Join(os.TempDir(), "waymarktest-"+hex.EncodeToString(sum[:8]))
}

var errStaleLock = errors.New("registry lock file was removed")

// lockRegistry creates dir if needed and takes its lock, waiting for it as
// long as ctx allows. errStaleLock means the supervisor removed the
// registry meanwhile: try again.
func lockRegistry(ctx context.Context, dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("waymarktest: %w", err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("waymarktest: %w", err)
	}
	if err := flockWait(ctx, f, syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("waymarktest: lock %s: %w", path, err)
	}
	// The lock counts only if the file is still the registry's.
	fi, err1 := f.Stat()
	di, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(fi, di) {
		f.Close()
		return nil, errStaleLock
	}
	return f, nil
}

// flockWait takes lock how on f, polling so that ctx can end the wait.
func flockWait(ctx context.Context, f *os.File, how int) error {
	delay := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// tryFlock takes lock how on the file at path without waiting. It returns
// the open file holding the lock, or nil when someone else holds a
// conflicting one.
func tryFlock(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, nil
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// supervisorAlive reports whether a supervisor holds the registry's alive
// lock.
func supervisorAlive(dir string) bool {
	f, err := tryFlock(filepath.Join(dir, "alive"), syscall.LOCK_SH)
	if err != nil {
		return false
	}
	if f == nil {
		return true // held
	}
	f.Close()
	return false
}

// takeLease takes this process's shared lock on the registry's leases, once.
func takeLease(dir string) error {
	if leaseFile != nil {
		return nil
	}
	f, err := tryFlock(filepath.Join(dir, "leases"), syscall.LOCK_SH)
	if err == nil && f == nil {
		err = errors.New("the supervisor is stopping the cluster") // cannot happen under the registry lock
	}
	if err != nil {
		return fmt.Errorf("waymarktest: take a lease on the shared cluster: %w", err)
	}
	leaseFile = f
	return nil
}

func readState(dir string) (*clusterState, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state"))
	if err != nil {
		return nil, err
	}
	var st clusterState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// writeState writes the state file atomically.
func writeState(dir string, st *clusterState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "state.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "state"))
}

// startSupervisor starts a supervisor for the registry dir and waits until
// it has written the state: the cluster's connection string, or why it
// could not start it.
func startSupervisor(ctx context.Context, dir string) (*clusterState, error) {
	logPath := filepath.Join(dir, "supervisor.log")
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("waymarktest: %w", err)
	}
	defer log.Close()       // the supervisor has its own copy
	exe := "/proc/self/exe" // this very binary, even if its file was removed
	if runtime.GOOS != "linux" {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("waymarktest: start the cluster's supervisor: %w", err)
		}
	}
	grace := idleGrace
	if d, err := time.ParseDuration(os.Getenv(envIdle)); err == nil {
		grace = d // a test of the kit asks for another grace
	}
	cmd := exec.Command(exe)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOCOVERDIR=") || strings.HasPrefix(kv, "WAYMARKTEST_SUPERVISOR")
	}), envSupervisor+"="+dir, envRunPID+"="+strconv.Itoa(os.Getppid()), envIdle+"="+grace.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("waymarktest: start the cluster's supervisor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := readState(dir); err == nil {
			if st.Error != "" {
				return nil, &startError{st.Error, st.NotFound}
			}
			return st, nil
		}
		select {
		case err := <-exited:
			if st, rerr := readState(dir); rerr == nil && st.ConnString == "" && st.Error != "" {
				continue // reported above on the next round
			}
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("waymarktest: the cluster's supervisor exited (%v) before the cluster was ready:\n%s", err, out)
		case <-ctx.Done():
			cmd.Process.Signal(syscall.SIGTERM)
			return nil, fmt.Errorf("waymarktest: waiting for the throwaway cluster: %w (log: %s)", ctx.Err(), logPath)
		case <-tick.C:
		}
	}
}

// startError is why the supervisor could not start the cluster, as it
// wrote it in the state file.
type startError struct {
	msg      string
	notFound bool // the error wrapped pgcluster.ErrNotFound
}

func (e *startError) Error() string { return e.msg }

// Is reports whether target is pgcluster.ErrNotFound and the supervisor's
// error wrapped it.
func (e *startError) Is(target error) bool { return e.notFound && target == pgcluster.ErrNotFound }

// staleAge is how old a cluster directory without a running server must be
// before sweepStale removes it (a cluster being created has no server
// yet, for a few seconds).
const staleAge = 10 * time.Minute

// sweepStale removes the cluster directories in base (pgcluster's
// waymark-pg-*) that are older than staleAge and whose server is not
// running: those a supervisor that was killed left behind, which in
// /dev/shm hold memory until the machine restarts.
func sweepStale(base string, now time.Time, logf func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(base, "waymark-pg-*"))
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || now.Sub(fi.ModTime()) < staleAge || serverRunning(dir) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			logf("remove the stale cluster %s: %v", dir, err)
			continue
		}
		logf("removed the stale cluster %s", dir)
	}
}

// serverRunning reports whether the cluster in dir has a server process:
// the PID on the first line of data/postmaster.pid is alive.
func serverRunning(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// supervise is the supervisor process's main function.
func supervise(dir string) int {
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
	}
	alive, err := tryFlock(filepath.Join(dir, "alive"), syscall.LOCK_EX)
	if err != nil || alive == nil {
		logf("another supervisor is alive (%v)", err)
		return 1
	}
	grace, err := time.ParseDuration(os.Getenv(envIdle))
	if err != nil {
		grace = idleGrace
	}
	runPID, _ := strconv.Atoi(os.Getenv(envRunPID))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	base := memoryDir()
	if base != "" {
		sweepStale(base, time.Now(), logf)
	}
	c, err := pgcluster.Start(ctx, &pgcluster.Options{Logf: logf, TempDir: base})
	cancel()
	if err != nil {
		logf("%v", err)
		writeState(dir, &clusterState{Error: err.Error(), NotFound: errors.Is(err, pgcluster.ErrNotFound), PID: os.Getpid()})
		return 1
	}
	if err := writeState(dir, &clusterState{ConnString: c.ConnString("postgres"), PID: os.Getpid()}); err != nil {
		logf("%v", err)
		c.Stop()
		return 1
	}
	logf("cluster ready; run %d, idle grace %v", runPID, grace)

	leases := filepath.Join(dir, "leases")
	var idleSince time.Time
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case sig := <-stop:
			logf("%v: stopping", sig)
			return shutdown(dir, c, logf)
		case <-tick.C:
		}
		if !unused(leases) {
			idleSince = time.Time{}
			continue
		}
		if idleSince.IsZero() {
			idleSince = time.Now()
		}
		runGone := runPID <= 1 || syscall.Kill(runPID, 0) == syscall.ESRCH
		if !runGone && time.Since(idleSince) < grace {
			continue
		}
		// Decide under the registry lock, so that no process attaches
		// between the last check and the removal of the state.
		lock, err := lockRegistry(context.Background(), dir)
		if err != nil {
			logf("lock the registry: %v", err)
			return shutdown(dir, c, logf)
		}
		if !unused(leases) {
			lock.Close()
			idleSince = time.Time{}
			continue
		}
		logf("no test process left (run gone: %v): stopping", runGone)
		code := shutdown(dir, c, logf)
		lock.Close()
		return code
	}
}

// unused reports whether no process holds a lease.
func unused(leases string) bool {
	f, err := tryFlock(leases, syscall.LOCK_EX)
	if f != nil {
		f.Close()
	}
	return err == nil && f != nil
}

// shutdown removes the registry's files and stops the cluster.
func shutdown(dir string, c *pgcluster.Cluster, logf func(string, ...any)) int {
	for _, name := range []string{"state", "leases", "alive", "supervisor.log", "lock"} {
		os.Remove(filepath.Join(dir, name))
	}
	os.Remove(dir)
	if err := c.Stop(); err != nil {
		logf("%v", err)
		return 1
	}
	return 0
}

// processAlive reports whether process pid is running.
func processAlive(pid int) bool {
	return pid > 0 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
