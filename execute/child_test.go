package execute_test

// The race and fault tests run this test binary again as separate OS
// processes: each child runs one Migrate (or holds the lock) against the
// database it is given and reports as one JSON line on stdout.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// childEnv carries a child's spec; its presence makes TestMain run the
// child instead of the tests.
const childEnv = "WAYMARK_EXECUTE_CHILD"

// childSpec is what a child does.
type childSpec struct {
	// URL is the database; Dir the migration directory.
	URL, Dir string
	// Lock is pgxbackend's lock mode: "auto", "advisory" or "lease".
	Lock string
	// LeaseTTL is pgxbackend's Options.LeaseTTL, or 0.
	LeaseTTL time.Duration
	// Timeout bounds the child's work.
	Timeout time.Duration
	// Hold, if set, makes the child take the lock, report, and hold it
	// until it is killed.
	Hold bool
}

// childReport is what a child reports.
type childReport struct {
	Steps int
	// Kind classifies the error: "" (none), "lock-lost", "lock-timeout",
	// "step", "other".
	Kind, Err string
}

func runChild(specJSON string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), spec.Timeout)
	defer cancel()
	rep := childReport{}
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(rep) }()
	pool, err := pgxpool.New(ctx, spec.URL)
	if err != nil {
		rep.Kind, rep.Err = "other", err.Error()
		return 1
	}
	defer pool.Close()
	mode := map[string]pgxbackend.LockMode{"auto": pgxbackend.LockAuto, "advisory": pgxbackend.LockAdvisory, "lease": pgxbackend.LockLease}[spec.Lock]
	db := pgxbackend.New(pool, &pgxbackend.Options{Lock: mode, LeaseTTL: spec.LeaseTTL})
	if spec.Hold {
		sess, err := db.TryLock(ctx)
		if err != nil {
			rep.Kind, rep.Err = "other", err.Error()
			return 1
		}
		_ = json.NewEncoder(os.Stdout).Encode(childReport{Kind: "holding"})
		<-ctx.Done()
		_ = sess.Unlock(context.Background())
		return 0
	}
	set, err := source.FromDir(spec.Dir)
	if err != nil {
		rep.Kind, rep.Err = "other", err.Error()
		return 1
	}
	res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	rep.Steps = len(res.Steps)
	if err != nil {
		rep.Err = err.Error()
		switch {
		case errors.Is(err, backend.ErrLockLost):
			rep.Kind = "lock-lost"
		case errors.Is(err, execute.ErrLockTimeout):
			rep.Kind = "lock-timeout"
		case errors.Is(err, execute.ErrStepFailed):
			rep.Kind = "step"
		default:
			rep.Kind = "other"
		}
		return 1
	}
	return 0
}

// writeSet writes files into a new directory for children to load.
func writeSet(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, sql := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// child is a running child process.
type child struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// startChild starts a child with spec.
func startChild(t *testing.T, spec childSpec) *child {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	c.cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	c.cmd.Stdout = &c.out
	c.cmd.Stderr = os.Stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// wait waits for the child and returns its report.
func (c *child) wait(t *testing.T) childReport {
	t.Helper()
	_ = c.cmd.Wait() // its exit code says what the report says
	var rep childReport
	if err := json.Unmarshal(c.out.Bytes(), &rep); err != nil {
		return childReport{Kind: "other", Err: fmt.Sprintf("no report (%v): %q", err, c.out.String())}
	}
	return rep
}

// race runs n children with spec at once and returns their reports.
func race(t *testing.T, n int, spec childSpec) []childReport {
	t.Helper()
	children := make([]*child, n)
	for i := range children {
		children[i] = startChild(t, spec)
	}
	reports := make([]childReport, n)
	var wg sync.WaitGroup
	for i, c := range children {
		wg.Go(func() { reports[i] = c.wait(t) })
	}
	wg.Wait()
	return reports
}

// startHolder starts a child that takes the lock and holds it until it is
// killed, and returns once the child says it holds the lock.
func startHolder(t *testing.T, spec childSpec) *exec.Cmd {
	t.Helper()
	spec.Hold = true
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var rep childReport
	if err := json.NewDecoder(out).Decode(&rep); err != nil || rep.Kind != "holding" {
		t.Fatalf("holder: %+v, %v", rep, err)
	}
	return cmd
}
