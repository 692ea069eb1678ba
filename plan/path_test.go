package plan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
)

// pathFiles are four reversible versions.
var pathFiles = map[string]string{
	"v1_a.up.sql": "CREATE TABLE a (id int);\n", "v1_a.down.sql": "DROP TABLE a;\n",
	"v2_b.up.sql": "CREATE TABLE b (id int);\n", "v2_b.down.sql": "DROP TABLE b;\n",
	"v3_c.up.sql": "CREATE TABLE c (id int);\n", "v3_c.down.sql": "DROP TABLE c;\n",
	"v4_d.up.sql": "CREATE TABLE d (id int);\n", "v4_d.down.sql": "DROP TABLE d;\n",
}

// Plans that Compute makes are their own path, with and without the files.
func TestCheckPathAcceptsComputedPlans(t *testing.T) {
	set := testsets.Map(t, pathFiles)
	for _, tt := range []struct {
		name    string
		applied []int64
		target  plan.Target
		opts    *plan.Options
	}{
		{"up from nothing", nil, plan.Latest(), nil},
		{"up part of the way", []int64{1}, plan.To(3), nil},
		{"down to nothing", []int64{1, 2, 3, 4}, plan.DownTo(0), nil},
		{"down to a version", []int64{1, 2, 3}, plan.DownTo(1), nil},
		{"down to a version never applied", []int64{1, 3, 4}, plan.DownTo(2), &plan.Options{AllowOutOfOrder: true}},
		{"out of order", []int64{1, 3}, plan.Latest(), &plan.Options{AllowOutOfOrder: true}},
		{"out of order below the top only", []int64{1, 3, 4}, plan.Latest(), &plan.Options{AllowOutOfOrder: true}},
		{"nothing to do", []int64{1, 2, 3, 4}, plan.Latest(), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plan.Compute(set, plantest.Applied(set, tt.applied...), tt.target, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.CheckPath(nil, tt.opts); err != nil {
				t.Errorf("CheckPath without files: %v", err)
			}
			if err := p.CheckPath(set, tt.opts); err != nil {
				t.Errorf("CheckPath with the files: %v", err)
			}
		})
	}
	// Migrate's plan when there is nothing to do carries no state.
	if err := (&plan.Plan{From: 4, To: 4}).CheckPath(set, nil); err != nil {
		t.Errorf("an empty plan at 4 without a state: %v", err)
	}
	// A database ahead of the files (a rolling deploy).
	newer := testsets.Map(t, map[string]string{"v1_a.up.sql": pathFiles["v1_a.up.sql"], "v2_b.up.sql": pathFiles["v2_b.up.sql"]})
	st := plantest.Applied(set, 1, 3)
	opts := &plan.Options{AllowNewerDatabase: true, AllowOutOfOrder: true}
	p, err := plan.Compute(newer, st, plan.Latest(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckPath(newer, opts); err != nil || len(p.Steps) != 1 {
		t.Errorf("plan of %v against a newer database: CheckPath = %v", p.Versions(), err)
	}
}

// A plan edited by hand is refused, each with an error naming the
// version.
func TestCheckPathRefusesEditedPlans(t *testing.T) {
	set := testsets.Map(t, pathFiles)
	compute := func(applied []int64, target plan.Target) *plan.Plan {
		p, err := plan.Compute(set, plantest.Applied(set, applied...), target, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name      string
		p         *plan.Plan
		withFiles bool // only the files tell
		version   int64
		detail    string
	}{
		{"up: first step deleted", func() *plan.Plan { p := compute(nil, plan.To(3)); p.Steps = p.Steps[1:]; return p }(),
			true, 1, "a step deleted from it"},
		{"up: middle step deleted", func() *plan.Plan {
			p := compute(nil, plan.To(3))
			p.Steps = append(p.Steps[:1:1], p.Steps[2])
			return p
		}(),
			true, 2, "a step deleted from it"},
		{"up: last step deleted", func() *plan.Plan { p := compute(nil, plan.To(3)); p.Steps = p.Steps[:2]; return p }(),
			false, 3, "its last step applies 2"},
		{"up: a step added beyond its end", func() *plan.Plan {
			p := compute(nil, plan.To(2))
			p.Steps = append(p.Steps, compute(nil, plan.Latest()).Steps[3])
			return p
		}(), false, 2, "its last step applies 4"},
		{"up: an applied version", func() *plan.Plan {
			p := compute([]int64{1}, plan.To(3))
			p.Steps = append([]plan.Step{compute(nil, plan.To(1)).Steps[0]}, p.Steps...)
			return p
		}(), false, 1, "has it applied"},
		{"up: From edited", func() *plan.Plan { p := compute([]int64{1}, plan.To(3)); p.From = 0; return p }(),
			false, 0, "the state it was made from is at 1"},
		{"down: a step deleted", func() *plan.Plan { p := compute([]int64{1, 2, 3}, plan.DownTo(0)); p.Steps = p.Steps[1:]; return p }(),
			false, 3, "does not undo it"},
		{"down: To edited", func() *plan.Plan { p := compute([]int64{1, 2, 3}, plan.DownTo(1)); p.To = 2; return p }(),
			false, 2, "not above the plan's end"},
		{"up: a step's SQL swapped with the files' other script", func() *plan.Plan {
			p := compute(nil, plan.To(1))
			m, _ := set.Lookup(1)
			p.Steps[0].SQL, p.Steps[0].Checksum = m.Down.SQL, m.Down.Checksum
			return p
		}(), true, 1, "not the files' up script"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.CheckPath(set, nil)
			var pe *plan.Error
			if !errors.Is(err, plan.ErrNotPath) || !errors.As(err, &pe) || pe.Version != tt.version || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("CheckPath with the files = %v; want plan.ErrNotPath about version %d saying %q", err, tt.version, tt.detail)
			}
			err = tt.p.CheckPath(nil, nil)
			if tt.withFiles && err != nil {
				t.Errorf("CheckPath without files = %v; the plan alone cannot tell", err)
			}
			if !tt.withFiles && !errors.Is(err, plan.ErrNotPath) {
				t.Errorf("CheckPath without files = %v; want plan.ErrNotPath", err)
			}
		})
	}
}

// The case: steps 2 and 3 of an unsigned saved plan 0 to 3, step
// 1 deleted by hand. It loads; checked against the files, it is refused.
func TestLoadedPlanWithADeletedStep(t *testing.T) {
	set := testsets.Map(t, pathFiles)
	p, err := plan.Compute(set, plan.State{}, plan.To(3), nil)
	if err != nil {
		t.Fatal(err)
	}
	edited := deleteStep(t, p, 0)
	loaded, err := plan.Load(bytes.NewReader(edited), nil)
	if err != nil {
		t.Fatalf("Load of the edited plan: %v (the plan alone cannot tell)", err)
	}
	if err := loaded.CheckFiles(set); err != nil {
		t.Fatalf("CheckFiles: %v; every remaining step matches its file", err)
	}
	if err := loaded.CheckPath(set, nil); !errors.Is(err, plan.ErrNotPath) || !strings.Contains(err.Error(), "plan: version 1 (m/v1_a.up.sql)") {
		t.Errorf("CheckPath = %v; want plan.ErrNotPath naming version 1 and its file", err)
	}

	// A down plan tells by itself: Load refuses it.
	down, err := plan.Compute(set, plantest.Applied(set, 1, 2, 3), plan.DownTo(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Load(bytes.NewReader(deleteStep(t, down, 1)), nil); !errors.Is(err, plan.ErrNotPath) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("Load of a down plan with a step deleted = %v; want plan.ErrNotPath naming version 2", err)
	}
}

// deleteStep saves p unsigned, deletes its i-th step from the JSON as an
// editor would, and returns the file's bytes.
func deleteStep(t *testing.T, p *plan.Plan, i int) []byte {
	t.Helper()
	var saved bytes.Buffer
	if err := plan.Save(&saved, p, nil); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(saved.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	steps := doc["steps"].([]any)
	doc["steps"] = append(steps[:i:i], steps[i+1:]...)
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Load refuses anything after the plan's JSON, signed or not; white space
// is fine.
func TestLoadRefusesTrailingData(t *testing.T) {
	set := testsets.Map(t, pathFiles)
	p, err := plan.Compute(set, plan.State{}, plan.To(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("0123456789abcdef0123")
	for _, tt := range []struct {
		name string
		key  []byte
	}{{"unsigned", nil}, {"signed", key}} {
		var saved bytes.Buffer
		if err := plan.Save(&saved, p, &plan.SaveOptions{Key: tt.key}); err != nil {
			t.Fatal(err)
		}
		if _, err := plan.Load(bytes.NewReader(append(bytes.Clone(saved.Bytes()), "\n\t \r\n"...)), &plan.LoadOptions{Key: tt.key}); err != nil {
			t.Errorf("%s plan with white space after it: %v", tt.name, err)
		}
		for _, tail := range []string{"x", "{}", `{"format":"waymark.plan/v2"}`, "\n-- DROP TABLE a;\n", "\x00"} {
			data := append(bytes.Clone(saved.Bytes()), tail...)
			_, err := plan.Load(bytes.NewReader(data), &plan.LoadOptions{Key: tt.key})
			if !errors.Is(err, plan.ErrTrailingData) || errors.Is(err, plan.ErrSignature) {
				t.Errorf("%s plan with %q appended: Load = %v; want plan.ErrTrailingData", tt.name, tail, err)
			}
			var q plan.Plan
			if err := json.Unmarshal(data, &q); err == nil {
				t.Errorf("%s plan with %q appended: json.Unmarshal accepted it", tt.name, tail)
			}
		}
	}
}
