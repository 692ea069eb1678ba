package fleet_test

// Tests of the fleet's logic (order, policies, canaries, the report) on
// the in-memory backend; fleet_test.go runs fleets against PostgreSQL.

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend/memory"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/fleet"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// threeSet has versions 1 to 3, each with a down script.
func threeSet(t *testing.T) *source.Set {
	return testsets.Map(t, map[string]string{
		"v1_one.up.sql": "CREATE TABLE one (id int)", "v1_one.down.sql": "DROP TABLE one",
		"v2_two.up.sql": "CREATE TABLE two (id int)", "v2_two.down.sql": "DROP TABLE two",
		"v3_three.up.sql": "CREATE TABLE three (id int)", "v3_three.down.sql": "DROP TABLE three",
	})
}

// memTargets returns a target on an in-memory backend per name; the
// scripts containing fail[name] fail on that target.
func memTargets(names []string, fail map[string]string) []fleet.Target {
	targets := make([]fleet.Target, len(names))
	for i, name := range names {
		bad := fail[name]
		targets[i] = fleet.Target{Name: name, DB: memory.New(&memory.Options{Fail: func(sql string) error {
			if bad != "" && strings.Contains(sql, bad) {
				return errors.New("broken on purpose")
			}
			return nil
		}})}
	}
	return targets
}

// outcomes returns target name -> outcome of a report.
func outcomes(rep *fleet.Report) map[string]string {
	m := map[string]string{}
	for _, r := range rep.Results {
		m[r.Target] = r.Outcome.String()
	}
	return m
}

func TestStopPolicy(t *testing.T) {
	targets := memTargets([]string{"a", "b", "c", "d"}, map[string]string{"b": "two"})
	rep, err := fleet.Run(context.Background(), targets, threeSet(t), plan.Latest(), &fleet.Options{Parallel: 1})
	want := map[string]string{"a": "applied", "b": "failed", "c": "skipped", "d": "skipped"}
	if diff := cmp.Diff(want, outcomes(rep)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	b := rep.Results[1]
	if b.From != 0 || b.To != 1 || len(b.Steps) != 1 {
		t.Errorf("b: from %d to %d with %d steps, want 0 to 1 with 1 (v1 applied, v2 failed)", b.From, b.To, len(b.Steps))
	}
	if !errors.Is(rep.Stopped, fleet.ErrStopped) {
		t.Errorf("Stopped = %v, want ErrStopped", rep.Stopped)
	}
	var se *execute.StepError
	var list fleet.ErrorList
	if !errors.As(err, &list) || len(list) != 2 || !errors.Is(err, fleet.ErrTargetFailed) || !errors.Is(err, fleet.ErrNotStarted) ||
		!errors.Is(err, fleet.ErrStopped) || !errors.As(err, &se) || se.Version != 2 {
		t.Errorf("error = %v; want an ErrorList: b failed at version 2 (a StepError), 2 of 4 not started (ErrStopped)", err)
	}
	if want := "fleet: target b: failed: m/v2_two.up.sql: broken on purpose\nfleet: not started: 2 of 4 targets: stopped after a target failed"; err.Error() != want {
		t.Errorf("error message:\n%s\nwant:\n%s", err, want)
	}
}

func TestContinuePolicy(t *testing.T) {
	targets := memTargets([]string{"a", "b", "c", "d", "e"}, map[string]string{"b": "two", "d": "three"})
	rep, err := fleet.Run(context.Background(), targets, threeSet(t), plan.Latest(), &fleet.Options{Parallel: 2, OnError: fleet.Continue})
	want := map[string]string{"a": "applied", "b": "failed", "c": "applied", "d": "failed", "e": "applied"}
	if diff := cmp.Diff(want, outcomes(rep)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	var list fleet.ErrorList
	if !errors.As(err, &list) || len(list) != 2 || list[0].Target != "b" || list[1].Target != "d" || errors.Is(err, fleet.ErrNotStarted) {
		t.Errorf("error = %v; want b and d failed, nothing left unstarted", err)
	}
	if rep.Stopped != nil {
		t.Errorf("Stopped = %v, want nil", rep.Stopped)
	}
	if got := rep.Summary(); !strings.HasPrefix(got, "fleet: 5 targets, latest: 3 applied, 0 no-op, 2 failed; slowest ") {
		t.Errorf("summary = %q", got)
	}
}

// A failing canary leaves every other target unstarted, whatever the
// policy; canaries that succeed run before every other target.
func TestCanaries(t *testing.T) {
	t.Run("fail", func(t *testing.T) {
		targets := memTargets([]string{"a", "b", "c", "d"}, map[string]string{"c": "two"})
		rep, err := fleet.Run(context.Background(), targets, threeSet(t), plan.Latest(),
			&fleet.Options{Canaries: []string{"c"}, OnError: fleet.Continue})
		want := map[string]string{"a": "skipped", "b": "skipped", "c": "failed", "d": "skipped"}
		if diff := cmp.Diff(want, outcomes(rep)); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if !errors.Is(err, fleet.ErrCanaryFailed) || !errors.Is(rep.Stopped, fleet.ErrCanaryFailed) || !rep.Results[2].Canary {
			t.Errorf("error = %v, Stopped = %v; want ErrCanaryFailed", err, rep.Stopped)
		}
		// The targets not started were not touched.
		for _, i := range []int{0, 1, 3} {
			if st, _ := targets[i].DB.ReadState(context.Background()); len(st) != 0 {
				t.Errorf("%s has a history: %v", targets[i].Name, st)
			}
		}
	})
	t.Run("succeed", func(t *testing.T) {
		names := []string{"a", "b", "c", "d", "e", "f"}
		var mu sync.Mutex
		var events []string
		rep, err := fleet.Run(context.Background(), memTargets(names, nil), threeSet(t), plan.Latest(),
			&fleet.Options{Canaries: []string{"e", "c"}, Parallel: 4, Progress: func(e fleet.Event) {
				mu.Lock()
				defer mu.Unlock()
				if e.Result == nil {
					events = append(events, "start "+e.Target)
				} else {
					events = append(events, "end "+e.Target)
				}
			}})
		if err != nil || rep.Count(fleet.Applied) != 6 {
			t.Fatalf("%v\n%v", err, rep)
		}
		first := strings.Join(events[:4], " ")
		for _, e := range []string{"start c", "start e", "end c", "end e"} {
			if !strings.Contains(first, e) {
				t.Errorf("events %q: the canaries did not run alone first", events)
			}
		}
	})
}

func TestProgress(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e"}
	var events []fleet.Event
	_, err := fleet.Run(context.Background(), memTargets(names, nil), threeSet(t), plan.Latest(), &fleet.Options{Parallel: 3, Progress: func(e fleet.Event) {
		events = append(events, e) // calls are serialized: no lock needed (-race checks)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2*len(names) {
		t.Fatalf("%d events, want %d", len(events), 2*len(names))
	}
	ended := 0
	for _, e := range events {
		if e.Total != len(names) {
			t.Errorf("event %+v: Total %d", e, e.Total)
		}
		if e.Result != nil {
			ended++
			if e.Result.Outcome != fleet.Applied || e.Result.Target != e.Target {
				t.Errorf("event %+v: result %+v", e, e.Result)
			}
		}
		if e.Done != ended {
			t.Errorf("event %+v: Done %d, want %d", e, e.Done, ended)
		}
	}
}

// A plan the checks refuse is reported as refused, with the version the
// target is at; going down, a failure leaves the version of the step
// that failed.
func TestRefusedAndDown(t *testing.T) {
	ctx := context.Background()
	targets := memTargets([]string{"a", "b"}, map[string]string{"b": "DROP TABLE two"})
	if _, err := fleet.Run(ctx, targets, threeSet(t), plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	changed := testsets.Map(t, map[string]string{
		"v1_one.up.sql": "CREATE TABLE one (id bigint)", "v1_one.down.sql": "DROP TABLE one",
		"v2_two.up.sql": "CREATE TABLE two (id int)", "v2_two.down.sql": "DROP TABLE two",
		"v3_three.up.sql": "CREATE TABLE three (id int)", "v3_three.down.sql": "DROP TABLE three",
	})
	rep, err := fleet.Run(ctx, targets, changed, plan.Latest(), &fleet.Options{OnError: fleet.Continue})
	var list plan.ErrorList
	if r := rep.Results[0]; r.Outcome != fleet.Refused || r.From != 3 || r.To != 3 || !errors.Is(err, fleet.ErrTargetRefused) ||
		!errors.Is(err, plan.ErrDrift) || !errors.As(err, &list) {
		t.Errorf("drifted target: %+v, error %v; want refused at 3 with plan.ErrDrift", r, err)
	}
	rep, err = fleet.Run(ctx, targets, threeSet(t), plan.DownTo(0), &fleet.Options{OnError: fleet.Continue})
	if r := rep.Results[1]; r.Outcome != fleet.Failed || r.From != 3 || r.To != 2 || len(r.Steps) != 1 || !errors.Is(err, execute.ErrStepFailed) {
		t.Errorf("down, failing at 2: %+v, error %v; want failed, from 3 to 2 with 1 step", r, err)
	}
	if r := rep.Results[0]; r.Outcome != fleet.Applied || r.From != 3 || r.To != 0 || len(r.Steps) != 3 {
		t.Errorf("down: %+v; want applied, from 3 to 0", r)
	}
}

func TestBadTargets(t *testing.T) {
	set := threeSet(t)
	db := memory.New(nil)
	const secret = "hunter2-secret"
	tests := []struct {
		name    string
		targets []fleet.Target
		opts    *fleet.Options
		want    []string
	}{
		{"no name", []fleet.Target{{DB: db}}, nil, []string{"fleet: invalid target: target 1: no name"}},
		{"duplicate", []fleet.Target{{Name: "a", DB: db}, {Name: "a", DB: db}}, nil, []string{"fleet: target a: invalid target: the name is used by another target"}},
		{"neither", []fleet.Target{{Name: "a"}}, nil, []string{"fleet: target a: invalid target: neither a backend (DB) nor a connection string (Conn)"}},
		{"both", []fleet.Target{{Name: "a", DB: db, Conn: "postgres://h/d"}}, nil, []string{"fleet: target a: invalid target: both a backend (DB) and a connection string (Conn)"}},
		{"bad connection string", []fleet.Target{{Name: "a", Conn: "postgres://u:" + secret + "@h:notaport/d"}}, nil, []string{"fleet: target a: invalid target: invalid connection string: "}},
		{"options with a DB", []fleet.Target{{Name: "a", DB: db, Backend: &pgxbackend.Options{}}}, nil, []string{"fleet: target a: invalid target: backend options (Backend) are for a connection string (Conn); a DB has its own"}},
		{"unknown canary", []fleet.Target{{Name: "a", DB: db}}, &fleet.Options{Canaries: []string{"b"}}, []string{`fleet: invalid target: canary "b" is not one of the targets`}},
		{"parallel", []fleet.Target{{Name: "a", DB: db}}, &fleet.Options{Parallel: -1}, []string{"fleet: invalid target: Options.Parallel is -1; want 1 or more (0: 4)"}},
		{"several", []fleet.Target{{Name: "a"}, {DB: db}}, nil, []string{"fleet: target a: invalid target: neither", "fleet: invalid target: target 2: no name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for call, run := range map[string]func() (any, error){
				"Run":    func() (any, error) { return fleet.Run(context.Background(), tt.targets, set, plan.Latest(), tt.opts) },
				"Status": func() (any, error) { return fleet.Status(context.Background(), tt.targets, set, tt.opts) },
				"Plan":   func() (any, error) { return fleet.Plan(context.Background(), tt.targets, set, plan.Latest(), tt.opts) },
			} {
				if tt.name == "unknown canary" && call != "Run" {
					continue // only Run has canaries
				}
				rep, err := run()
				if !errors.Is(err, fleet.ErrBadTarget) {
					t.Fatalf("%s: error %v, want ErrBadTarget", call, err)
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != len(tt.want) {
					t.Fatalf("%s: error %q, want %d lines", call, err, len(tt.want))
				}
				for i, w := range tt.want {
					if !strings.HasPrefix(lines[i], w) {
						t.Errorf("%s: line %d = %q, want it to start with %q", call, i+1, lines[i], w)
					}
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%s: the error shows the password: %v", call, err)
				}
				if v, ok := rep.(interface{ String() string }); ok && !isNil(rep) {
					t.Errorf("%s: a report with a refused call: %v", call, v)
				}
			}
		})
	}
}

func isNil(v any) bool {
	switch r := v.(type) {
	case *fleet.Report:
		return r == nil
	case *fleet.StatusReport:
		return r == nil
	case *fleet.PlanReport:
		return r == nil
	}
	return v == nil
}

// The report prints as a table, its errors and a summary line, and
// encodes as JSON.
func TestReportFormats(t *testing.T) {
	stepErr := &execute.StepError{Version: 2, Pos: source.Position{Path: "m/v2_two.up.sql", Line: 1, Column: 14}, Err: errors.New("ERROR: boom (SQLSTATE 42P07)"), Detail: "a detail"}
	rep := &fleet.Report{
		Target:   plan.Latest(),
		Duration: 1500 * time.Millisecond,
		Stopped:  fleet.ErrStopped,
		Results: []fleet.Result{
			{Target: "eu-1", Canary: true, Outcome: fleet.Applied, From: 0, To: 3, Duration: 42 * time.Millisecond,
				Steps: []execute.StepResult{{Version: 1, Name: "one", Direction: source.Up, Duration: 10 * time.Millisecond}, {Version: 2, Direction: source.Up, Duration: time.Millisecond}, {Version: 3, Direction: source.Up, Duration: 2 * time.Millisecond}}},
			{Target: "tenant_b", Outcome: fleet.Failed, From: 1, To: 1, Duration: 1200 * time.Millisecond, Err: stepErr},
			{Target: "tenant_c", Outcome: fleet.NoOp, From: 3, To: 3, Duration: 800 * time.Microsecond},
			{Target: "tenant_d", Outcome: fleet.Skipped, From: -1, To: -1},
		},
	}
	want := `TARGET         OUTCOME  FROM  TO  STEPS  TOOK
eu-1 (canary)  applied  0     3   3      42ms
tenant_b       failed   1     1   0      1.2s
tenant_c       no-op    3     3   0      800µs
tenant_d       skipped  -     -   0      -
tenant_b: m/v2_two.up.sql:1:14: ERROR: boom (SQLSTATE 42P07)
    DETAIL: a detail
fleet: 4 targets, latest: 1 applied, 1 no-op, 1 failed, 1 skipped; slowest tenant_b (1.2s); took 1.5s; not started: stopped after a target failed
`
	if diff := cmp.Diff(want, rep.String()); diff != "" {
		t.Errorf("String (-want +got):\n%s", diff)
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	wantJSON := map[string]any{
		"format": "waymark.fleet/v1", "target": "latest", "targets": 4.0, "applied": 1.0, "no_op": 1.0, "refused": 0.0, "failed": 1.0, "skipped": 1.0,
		"slowest": "tenant_b", "duration": "1.5s", "stopped": "stopped after a target failed",
		"results": []any{
			map[string]any{"target": "eu-1", "canary": true, "outcome": "applied", "from": 0.0, "to": 3.0, "duration": "42ms", "steps": []any{
				map[string]any{"version": 1.0, "name": "one", "direction": "up", "duration": "10ms"},
				map[string]any{"version": 2.0, "direction": "up", "duration": "1ms"},
				map[string]any{"version": 3.0, "direction": "up", "duration": "2ms"},
			}},
			map[string]any{"target": "tenant_b", "outcome": "failed", "from": 1.0, "to": 1.0, "duration": "1.2s", "steps": []any{},
				"error": "m/v2_two.up.sql:1:14: ERROR: boom (SQLSTATE 42P07)\nDETAIL: a detail"},
			map[string]any{"target": "tenant_c", "outcome": "no-op", "from": 3.0, "to": 3.0, "duration": "800µs", "steps": []any{}},
			map[string]any{"target": "tenant_d", "outcome": "skipped", "steps": []any{}},
		},
	}
	if diff := cmp.Diff(wantJSON, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}
