package fleet_test

import (
	"testing"

	"github.com/waymarkdb/waymark/fleet"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

// A changed repeatable script puts every target behind in a fleet status,
// is applied once per target by a fleet run, and a fleet plan and status
// made after it have nothing to do.
func TestRepeatables(t *testing.T) {
	ctx := t.Context()
	files := map[string]string{
		"v1_log.up.sql": "CREATE TABLE applied_log (version int NOT NULL);\nINSERT INTO applied_log VALUES (1);\n",
		"r_view.sql":    "CREATE OR REPLACE VIEW answer AS SELECT 1 AS n;\nINSERT INTO applied_log VALUES (100);\n",
	}
	pool, targets := schemaPool(t, "rep", 3)
	if _, err := fleet.Run(ctx, targets, testsets.Map(t, files), plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	files["r_view.sql"] = "CREATE OR REPLACE VIEW answer AS SELECT 2 AS n;\nINSERT INTO applied_log VALUES (100);\n"
	set := testsets.Map(t, files)
	st, err := fleet.Status(ctx, targets, set, nil)
	if err != nil || st.Count("behind") != len(targets) || st.Count("up to date") != 0 {
		t.Fatalf("fleet status with a changed repeatable script: %v, %v; want every target behind", st, err)
	}
	pr, err := fleet.Plan(ctx, targets, set, plan.Latest(), nil)
	if err != nil || len(pr.Groups) != 1 || pr.Groups[0].Plan == nil || len(pr.Groups[0].Plan.Repeatables()) != 1 {
		t.Fatalf("fleet plan after the change: %v, %v", pr, err)
	}
	rep, err := fleet.Run(ctx, targets, set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Outcome != fleet.Applied || r.From != 1 || r.To != 1 || len(r.Steps) != 1 || !r.Steps[0].Repeatable {
			t.Errorf("%s: %+v", r.Target, r)
		}
		if got := logOf(t, pool, r.Target); got[100] != 2 || got[1] != 1 {
			t.Errorf("%s ran %v, want version 1 once and the script twice", r.Target, got)
		}
	}
	pr, err = fleet.Plan(ctx, targets, set, plan.Latest(), nil)
	if err != nil || len(pr.Groups) != 1 || !pr.Groups[0].Plan.Empty() {
		t.Errorf("fleet plan after the run: %v, %v", pr, err)
	}
	if st, err := fleet.Status(ctx, targets, set, nil); err != nil || st.Count("up to date") != len(targets) {
		t.Errorf("fleet status after the run: %v, %v; want every target up to date", st, err)
	}
}
