package execute_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
)

// silentBound is what the package doc promises for a run with limits whose
// network goes silent: the longest limit plus 5 s before the session
// checks on the late reply, 5 s for the check, 10 s for the release of the
// lock, plus slack for a busy machine.
func silentBound(limit time.Duration) time.Duration {
	return limit + 5*time.Second + 5*time.Second + 10*time.Second + 5*time.Second
}

// A network that goes silent (a proxy that stops forwarding without
// closing) while step 10 runs: with StatementTimeout set and no deadline,
// Migrate returns within the documented bound; the error says the outcome
// of version 10 is unknown and how to find out, and claims neither a
// cancel nor a rollback; step 10 did commit on the server.
func TestSilentNetworkDuringAStep(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark's own machinery (a silent network, a restart, a pooler gone), not of the PostgreSQL version; make test runs it")
	}
	for _, limits := range []struct {
		name     string
		opts     execute.Options
		deadline time.Duration // of the context; 0: none
		backend  *pgxbackend.Options
	}{
		{"StatementTimeout", execute.Options{StatementTimeout: 2 * time.Second}, 0, nil},
		{"LockTimeout", execute.Options{LockTimeout: 2 * time.Second}, 0, nil},
		// Under a lease, the release tries until the lease would have
		// expired (LeaseTTL after the last renewal).
		{"Lease", execute.Options{StatementTimeout: 2 * time.Second}, 0, &pgxbackend.Options{Lock: pgxbackend.LockLease, LeaseTTL: 3 * time.Second}},
		// No limits: the context's deadline ends the wait, and the cancel
		// request, unanswered too, is not reported as a cancel.
		{"Deadline", execute.Options{}, 4 * time.Second, nil},
	} {
		t.Run(limits.name, func(t *testing.T) {
			url := pgtest.ConnString(t)
			direct := poolFor(t, url)
			proxy := pgtest.StartProxy(t, url)
			files := map[string]string{}
			for v := 1; v <= 12; v++ {
				sql := fmt.Sprintf("CREATE TABLE t%d (id int);", v)
				if v == 10 {
					sql += "\nSELECT pg_sleep(1);"
				}
				files[fmt.Sprintf("v%02d_t%d.up.sql", v, v)] = sql
			}
			set := mapSet(t, files)
			pool := poolFor(t, proxy.ConnString())
			// Before the pool closes (cleanups run last first): a run still
			// waiting on the silent proxy then sees its connection end.
			t.Cleanup(proxy.Close)
			opts := limits.opts
			// Silent once the server runs step 10: its commit is then made,
			// and its reply lost.
			opts.Progress = func(e execute.Event) {
				if e.Step.Version == 10 && !e.Done {
					go func() {
						for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
							var n int
							err := direct.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND strpos(query, 'pg_sleep(1)') > 0 AND pid <> pg_backend_pid()").Scan(&n)
							if err == nil && n > 0 {
								break
							}
						}
						proxy.Silence()
					}()
				}
			}
			ctx := context.Background()
			if limits.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, limits.deadline)
				defer cancel()
			}
			type outcome struct {
				res *execute.Result
				err error
			}
			done := make(chan outcome, 1)
			start := time.Now()
			go func() {
				res, err := execute.Migrate(ctx, pgxbackend.New(pool, limits.backend), set, plan.Latest(), &opts)
				done <- outcome{res, err}
			}()
			bound := silentBound(2 * time.Second)
			var res *execute.Result
			var err error
			select {
			case o := <-done:
				res, err = o.res, o.err
			case <-time.After(bound):
				t.Fatalf("Migrate still waiting after %v (the bound)", bound)
			}
			took := time.Since(start)
			t.Logf("Migrate returned after %v: %v", took.Round(time.Millisecond), err)
			var ce *backend.ConnectionError
			var se *execute.StepError
			if !errors.As(err, &se) || se.Version != 10 || !errors.As(err, &ce) || ce.Outcome != backend.OutcomeUnknown {
				t.Fatalf("Migrate = %v, want a StepError for version 10 with a ConnectionError of unknown outcome", err)
			}
			msg := err.Error()
			for _, want := range []string{"version 10", "unknown", "waymark status"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			for _, lie := range []string{"cancelled", "rolled back", "rolled the step back"} {
				if strings.Contains(msg, lie) {
					t.Errorf("error %q claims %q, which waymark did not see", msg, lie)
				}
			}
			if n := scalar[int](t, direct, "SELECT count(*)::int FROM waymark_history"); n != 10 {
				t.Errorf("the history has %d versions, want 10 (step 10 committed on the server)", n)
			}
			for _, s := range res.Steps {
				if s.Version >= 10 {
					t.Errorf("Result.Steps claims version %d", s.Version)
				}
			}
		})
	}
}

// An immediate stop of the server right after a step committed without
// waiting for the disk: the Result vouches only for steps that survive
// the crash, lists the others as unconfirmed, and the error does not say
// that the lock may still be held (it cannot outlive the server). Running
// again finishes the job.
func TestCrashLeavesStepsUnconfirmed(t *testing.T) {
	cluster := pgtest.OwnCluster(t)
	url := cluster.ConnString("postgres")
	files := map[string]string{}
	for v := 1; v <= 6; v++ {
		files[fmt.Sprintf("v%d_t%d.up.sql", v, v)] = fmt.Sprintf("CREATE TABLE t%d (id int);", v)
	}
	set := mapSet(t, files)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	opts := &execute.Options{Progress: func(e execute.Event) {
		if e.Done && e.Step.Version == 3 {
			if err := cluster.Crash(); err != nil {
				t.Error(err)
			}
		}
	}}
	res, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), opts)
	pool.Close()
	t.Logf("Migrate: %v\nsteps %v, unconfirmed %v", err, applied(res), versionsOf(res.Unconfirmed))
	if !errors.Is(err, backend.ErrConnectionLost) {
		t.Fatalf("Migrate during a crash = %v, want a lost connection", err)
	}
	if errors.Is(err, backend.ErrLockMayBeHeld) || strings.Contains(err.Error(), "may still be held") {
		t.Errorf("error %q says the lock may still be held, after the server stopped", err)
	}
	if err := cluster.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	pool = poolFor(t, url)
	var recorded []int64
	if scalar[bool](t, pool, "SELECT to_regclass('waymark_history') IS NOT NULL") {
		recorded = scalar[[]int64](t, pool, "SELECT coalesce(array_agg(version ORDER BY version), '{}') FROM waymark_history")
	}
	t.Logf("after the restart the history holds %v", recorded)
	has := map[int64]bool{}
	for _, v := range recorded {
		has[v] = true
	}
	for _, v := range applied(res) {
		if !has[v] {
			t.Errorf("Result.Steps vouches for version %d, which the crash undid", v)
		}
	}
	reported := map[int64]bool{}
	for _, v := range append(applied(res), versionsOf(res.Unconfirmed)...) {
		reported[v] = true
	}
	for _, v := range recorded {
		if !reported[v] {
			t.Errorf("version %d is applied but the Result lists it neither as a step nor as unconfirmed", v)
		}
	}
	if _, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil); err != nil {
		t.Fatalf("running again: %v", err)
	}
	checkHistory(t, pool, set, 1, 2, 3, 4, 5, 6)
}

func versionsOf(steps []execute.StepResult) []int64 {
	vs := []int64{}
	for _, s := range steps {
		vs = append(vs, s.Version)
	}
	return vs
}
