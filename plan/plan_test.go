package plan_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/memory"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
	"github.com/waymarkdb/waymark/source"
)

// testSet has versions 1, 2, 3, 5 and 8; 5 is irreversible and 3 runs
// outside a transaction (testdata/mixed).
func testSet(t testing.TB) *source.Set {
	t.Helper()
	return testsets.Load(t, "mixed")
}

// state builds a state from versions; a negative version is applied dirty
// (up), and 100+ is a version the set does not have.
func state(set *source.Set, versions ...int64) plan.State {
	var st plan.State
	for _, v := range versions {
		dirty := source.Direction(0)
		if v < 0 {
			v, dirty = -v, source.Up
		}
		r := backend.Record{Version: v, Dirty: dirty, Checksum: source.ChecksumOf("unknown")}
		if m, ok := set.Lookup(v); ok {
			r.Name, r.Checksum = m.Name, m.Up.Checksum
		}
		st.Records = append(st.Records, r)
	}
	return st
}

type outcome struct {
	From, To  int64
	Direction source.Direction
	Versions  []int64
}

// refusal is one expected reason for an error.
type refusal struct {
	Err     error
	Version int64
	Path    string
}

func refusals(t *testing.T, err error) []refusal {
	t.Helper()
	var list plan.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %q is a %T, want a plan.ErrorList", err, err)
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != len(list) {
		t.Errorf("the list of %d reasons prints as %d lines", len(list), len(lines))
	}
	var out []refusal
	for _, pe := range list {
		if !strings.HasPrefix(pe.Error(), "plan: ") {
			t.Errorf("message %q does not start with \"plan: \"", pe)
		}
		out = append(out, refusal{pe.Err, pe.Version, pe.Path})
	}
	return out
}

var errCmp = cmp.Comparer(func(a, b error) bool { return a == b })

func TestCompute(t *testing.T) {
	set := testSet(t)
	tests := []struct {
		name   string
		state  plan.State
		target plan.Target
		opts   *plan.Options
		want   *outcome
		errs   []refusal
	}{
		{"empty database to latest", state(set), plan.Latest(), nil,
			&outcome{0, 8, source.Up, []int64{1, 2, 3, 5, 8}}, nil},
		{"zero target is latest", state(set), plan.Target{}, nil,
			&outcome{0, 8, source.Up, []int64{1, 2, 3, 5, 8}}, nil},
		{"part way to latest", state(set, 1, 2), plan.Latest(), nil,
			&outcome{2, 8, source.Up, []int64{3, 5, 8}}, nil},
		{"up to a middle version", state(set, 1), plan.To(3), nil,
			&outcome{1, 3, source.Up, []int64{2, 3}}, nil},
		{"already at latest", state(set, 1, 2, 3, 5, 8), plan.Latest(), nil,
			&outcome{8, 8, 0, nil}, nil},
		{"already at the target", state(set, 1, 2), plan.To(2), nil,
			&outcome{2, 2, 0, nil}, nil},
		{"To(0) on an empty database", state(set), plan.To(0), nil,
			&outcome{0, 0, 0, nil}, nil},
		{"down to a middle version", state(set, 1, 2, 3, 5, 8), plan.DownTo(5), nil,
			&outcome{8, 5, source.Down, []int64{8}}, nil},
		{"down to 0 through reversible versions", state(set, 1, 2, 3), plan.DownTo(0), nil,
			&outcome{3, 0, source.Down, []int64{3, 2, 1}}, nil},
		{"down to where the database is", state(set, 1, 2), plan.DownTo(2), nil,
			&outcome{2, 2, 0, nil}, nil},
		{"down to 0 on an empty database", state(set), plan.DownTo(0), nil,
			&outcome{0, 0, 0, nil}, nil},
		{"down to a version that was never applied", state(set, 1, 3), plan.DownTo(2), &plan.Options{AllowOutOfOrder: true},
			&outcome{3, 1, source.Down, []int64{3}}, nil},

		{"unknown target", state(set), plan.To(4), nil, nil,
			[]refusal{{plan.ErrUnknownTarget, 4, ""}}},
		{"negative target", state(set), plan.DownTo(-1), nil, nil,
			[]refusal{{plan.ErrUnknownTarget, -1, ""}}},
		{"up target below the database needs down", state(set, 1, 2, 3), plan.To(1), nil, nil,
			[]refusal{{plan.ErrDirection, 1, ""}}},
		{"To(0) on a migrated database needs down", state(set, 1), plan.To(0), nil, nil,
			[]refusal{{plan.ErrDirection, 0, ""}}},
		{"down target above the database needs up", state(set, 1), plan.DownTo(3), nil, nil,
			[]refusal{{plan.ErrDirection, 3, ""}}},
		{"down through an irreversible version", state(set, 1, 2, 3, 5, 8), plan.DownTo(2), nil, nil,
			[]refusal{{plan.ErrIrreversible, 5, "mixed/v5_five.up.sql"}}},
		{"unknown version in the middle", state(set, 1, 4), plan.Latest(), nil, nil,
			[]refusal{{plan.ErrOutOfOrder, 2, "mixed/v2_two.up.sql"}, {plan.ErrOutOfOrder, 3, "mixed/v3_idx.up.sql"}, {plan.ErrUnknownVersion, 4, ""}}},
		{"newer database refused by default", state(set, 1, 2, 3, 5, 8, 100), plan.Latest(), nil, nil,
			[]refusal{{plan.ErrUnknownVersion, 100, ""}}},
		{"newer database tolerated", state(set, 1, 2, 3, 5, 8, 100), plan.Latest(), &plan.Options{AllowNewerDatabase: true},
			&outcome{100, 100, 0, nil}, nil},
		{"tolerance covers a newer release's unfinished step", state(set, 1, 2, 3, 5, 8, -100), plan.Latest(), &plan.Options{AllowNewerDatabase: true},
			&outcome{100, 100, 0, nil}, nil},
		{"tolerance does not cover versions inside the source's range", state(set, 1, 4), plan.Latest(), &plan.Options{AllowNewerDatabase: true, AllowOutOfOrder: true}, nil,
			[]refusal{{plan.ErrUnknownVersion, 4, ""}}},
		{"tolerance does not allow going down through unknown versions", state(set, 1, 2, 3, 5, 8, 100), plan.DownTo(5), &plan.Options{AllowNewerDatabase: true}, nil,
			[]refusal{{plan.ErrUnknownVersion, 100, ""}}},
		{"out of order refused", state(set, 1, 3), plan.Latest(), nil, nil,
			[]refusal{{plan.ErrOutOfOrder, 2, "mixed/v2_two.up.sql"}}},
		{"out of order allowed", state(set, 1, 3), plan.Latest(), &plan.Options{AllowOutOfOrder: true},
			&outcome{3, 8, source.Up, []int64{2, 5, 8}}, nil},
		{"out of order below an up target", state(set, 1, 3), plan.To(5), &plan.Options{AllowOutOfOrder: true},
			&outcome{3, 5, source.Up, []int64{2, 5}}, nil},
		{"out of order only: the plan ends where it started", state(set, 1, 3, 5, 8), plan.Latest(), &plan.Options{AllowOutOfOrder: true},
			&outcome{8, 8, source.Up, []int64{2}}, nil},
		{"dirty version", state(set, 1, 2, -3), plan.Latest(), nil, nil,
			[]refusal{{plan.ErrDirty, 3, "mixed/v3_idx.up.sql"}}},
		{"dirty version blocks down too", state(set, 1, 2, -3), plan.DownTo(0), nil, nil,
			[]refusal{{plan.ErrDirty, 3, "mixed/v3_idx.up.sql"}}},
		{"dirty version blocks a no-op", state(set, 1, 2, 3, 5, -8), plan.Latest(), nil, nil,
			[]refusal{{plan.ErrDirty, 8, "mixed/v8_eight.up.sql"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plan.Compute(set, tt.state, tt.target, tt.opts)
			if tt.errs != nil {
				if err == nil {
					t.Fatalf("Compute succeeded with\n%v", p)
				}
				if diff := cmp.Diff(tt.errs, refusals(t, err), errCmp); diff != "" {
					t.Errorf("refusals (-want +got):\n%s\nerror:\n%v", diff, err)
				}
				for _, r := range tt.errs {
					if !errors.Is(err, r.Err) {
						t.Errorf("errors.Is(err, %v) = false", r.Err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			got := &outcome{p.From, p.To, p.Direction, nil}
			if !p.Empty() {
				got.Versions = p.Versions()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if !p.State.Equal(tt.state) {
				t.Errorf("plan state = %v, want %v", p.State, tt.state)
			}
		})
	}
}

func TestComputeDrift(t *testing.T) {
	set := testSet(t)
	st := state(set, 1, 2)
	st.Records[1].Checksum = source.ChecksumOf("CREATE TABLE two (id bigint);")
	_, err := plan.Compute(set, st, plan.Latest(), nil)
	if !errors.Is(err, plan.ErrDrift) {
		t.Fatalf("Compute with a changed file = %v, want ErrDrift", err)
	}
	m, _ := set.Lookup(2)
	want := fmt.Sprintf("plan: version 2 (mixed/v2_two.up.sql): checksum drift: applied with checksum %s, the file now has %s",
		st.Records[1].Checksum.Short(), m.Up.Checksum.Short())
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start with %q", err, want)
	}
	// Going down through a changed file is refused too: its down script
	// was written for the up script that is in the file, not the applied one.
	if _, err := plan.Compute(set, st, plan.DownTo(0), nil); !errors.Is(err, plan.ErrDrift) {
		t.Errorf("Compute down through a changed file = %v, want ErrDrift", err)
	}
	p, err := plan.Compute(set, st, plan.Latest(), &plan.Options{IgnoreDrift: true})
	if err != nil {
		t.Fatalf("Compute with IgnoreDrift: %v", err)
	}
	if diff := cmp.Diff([]int64{3, 5, 8}, p.Versions()); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
}

func TestComputeStateOrderAndDuplicates(t *testing.T) {
	set := testSet(t)
	st := state(set, 2, 1)
	p, err := plan.Compute(set, st, plan.Latest(), nil)
	if err != nil {
		t.Fatalf("Compute of an unsorted state: %v", err)
	}
	if diff := cmp.Diff([]int64{3, 5, 8}, p.Versions()); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if _, err := plan.Compute(set, state(set, 1, 1), plan.Latest(), nil); !errors.Is(err, plan.ErrBadState) {
		t.Errorf("Compute of a state listing a version twice = %v, want ErrBadState", err)
	}
}

func TestComputeUnsortedSet(t *testing.T) {
	set, err := source.FromDir("../testdata/unsorted")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Compute(set, plantest.Applied(set, 1, 2), plan.To(10), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{3, 4, 5, 6, 7, 8, 9, 10}, p.Versions()); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	p, err = plan.Compute(set, plantest.Applied(set, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), plan.DownTo(8), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{10, 9}, p.Versions()); diff != "" {
		t.Errorf("down versions (-want +got):\n%s", diff)
	}
}

func TestSteps(t *testing.T) {
	set := testSet(t)
	p, err := plan.Compute(set, state(set, 1, 2, 3), plan.DownTo(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	m3, _ := set.Lookup(3)
	m2, _ := set.Lookup(2)
	want := []plan.Step{
		{Version: 3, Name: "idx", Direction: source.Down, Path: "mixed/v3_idx.down.sql", Checksum: m3.Down.Checksum, NoTransaction: true, SQL: m3.Down.SQL},
		{Version: 2, Name: "two", Direction: source.Down, Path: "mixed/v2_two.down.sql", Checksum: m2.Down.Checksum, SQL: m2.Down.SQL},
	}
	if diff := cmp.Diff(want, p.Steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

func TestString(t *testing.T) {
	set := testSet(t)
	p, err := plan.Compute(set, state(set, 1), plan.To(5), nil)
	if err != nil {
		t.Fatal(err)
	}
	short := func(v int64) string { m, _ := set.Lookup(v); return m.Up.Checksum.Short() }
	want := "plan: up from 1 to 5 (3 steps)\n" +
		"  up  2  two   mixed/v2_two.up.sql   transaction     sha256:" + short(2) + "\n" +
		"  up  3  idx   mixed/v3_idx.up.sql   no-transaction  sha256:" + short(3) + "\n" +
		"  up  5  five  mixed/v5_five.up.sql  transaction     sha256:" + short(5) + "\n"
	if got := p.String(); got != want {
		t.Errorf("String:\n%s\nwant:\n%s", got, want)
	}
	noop, err := plan.Compute(set, state(set, 1, 2), plan.To(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := noop.String(), "plan: nothing to do, the database is at version 2\n"; got != want {
		t.Errorf("String of a no-op = %q, want %q", got, want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	set := testSet(t)
	st := state(set, 1, 2, 3)
	for i := range st.Records {
		st.Records[i].AppliedAt = time.Date(2026, 11, 23, 10, 0, i, 123456000, time.UTC)
		st.Records[i].Duration = time.Duration(i+1) * 1234567 * time.Nanosecond
	}
	for _, target := range []plan.Target{plan.Latest(), plan.DownTo(1), plan.To(3)} {
		p, err := plan.Compute(set, st, target, nil)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var back plan.Plan
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("Unmarshal: %v\n%s", err, data)
		}
		if diff := cmp.Diff(p, &back); diff != "" {
			t.Errorf("%v: round trip (-want +got):\n%s", target, diff)
		}
	}
}

func TestJSONRefusesEditedPlans(t *testing.T) {
	set := testSet(t)
	p, err := plan.Compute(set, state(set, 1), plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	good := string(data)
	tests := []struct {
		name, old, new, want string
	}{
		{"edited SQL", "CREATE TABLE two (id int);", "DROP TABLE one;", "SQL does not match its checksum"},
		{"other format", `"format":"waymark.plan/v3"`, `"format":"waymark.plan/v9"`, "format"},
		{"unknown field", `"from":1`, `"from":1,"force":true`, "unknown field"},
		{"steps out of order", `"version":2,`, `"version":9,`, "out of order"},
		{"wrong direction", `"direction":"up","path":"mixed/v3`, `"direction":"down","path":"mixed/v3`, "goes down in a plan going up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(good, tt.old, tt.new, 1)
			if bad == good {
				t.Fatalf("test did not change the JSON: %s", good)
			}
			var q plan.Plan
			err := json.Unmarshal([]byte(bad), &q)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Unmarshal = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	set := testSet(t)
	db := memory.New(nil)
	ctx := context.Background()
	p, err := plan.Build(ctx, db, set, plan.To(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2}, p.Versions()); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if got := db.Executed(); len(got) != 0 {
		t.Errorf("Build ran SQL: %q", got)
	}
	if st, _ := db.ReadState(ctx); len(st) != 0 {
		t.Errorf("Build wrote history: %v", st)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := plan.Build(cancelled, db, set, plan.Latest(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Build with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestTargetString(t *testing.T) {
	for target, want := range map[plan.Target]string{plan.Latest(): "latest", plan.To(3): "up to 3", plan.DownTo(0): "down to 0", plan.To(0): "up to 0"} {
		if got := target.String(); got != want {
			t.Errorf("String = %q, want %q", got, want)
		}
	}
}

// TestStateEqual pins what makes two states the same: versions, checksums
// and dirty markers, but not when or how fast they were applied.
func TestStateEqual(t *testing.T) {
	set := testSet(t)
	base := state(set, 1, 2, 3)
	same := state(set, 1, 2, 3)
	same.Records[1].AppliedAt = time.Now()
	same.Records[1].Duration = time.Hour
	same.Records[2].Name = "renamed"
	dirty := state(set, 1, 2, -3)
	checksum := state(set, 1, 2, 3)
	checksum.Records[0].Checksum = source.ChecksumOf("edited")
	for _, tt := range []struct {
		name  string
		other plan.State
		want  bool
	}{
		{"itself", base, true},
		{"other times, durations and names", same, true},
		{"a dirty marker", dirty, false},
		{"a checksum", checksum, false},
		{"a version fewer", state(set, 1, 2), false},
		{"another version", state(set, 1, 2, 5), false},
		{"empty", plan.State{}, false},
	} {
		if got := base.Equal(tt.other); got != tt.want {
			t.Errorf("Equal(%s) = %v, want %v", tt.name, got, tt.want)
		}
		if got := tt.other.Equal(base); got != tt.want {
			t.Errorf("Equal(%s), reversed = %v, want %v", tt.name, got, tt.want)
		}
	}
}
