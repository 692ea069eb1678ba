package hazard_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

// A versioned migration that uses what a repeatable script creates is
// warned about; one that drops it, a use inside a string, and the
// repeatable scripts themselves are not.
func TestVersionedUsesRepeatable(t *testing.T) {
	set := testsets.Map(t, map[string]string{
		"v1_users.up.sql":    "CREATE TABLE users (id int, active bool);",
		"v2_backfill.up.sql": "CREATE TABLE report AS SELECT * FROM public.active_users;\nSELECT 'active_users';\nINSERT INTO report SELECT id FROM users WHERE Is_Active(users);",
		"v3_drop.up.sql":     "DROP VIEW IF EXISTS active_users;",
		"r_fn.sql":           "CREATE OR REPLACE FUNCTION public.is_active(u users) RETURNS bool LANGUAGE sql AS $$ SELECT u.active $$;",
		"r_view.sql":         "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users u WHERE is_active(u);",
	})
	r, err := hazard.Check(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	type hit struct {
		Path      string
		Line, Col int
	}
	var got []hit
	for _, f := range r.Findings() {
		if f.Rule == hazard.RuleUsesRepeatable {
			got = append(got, hit{f.Pos.Path, f.Pos.Line, f.Pos.Column})
			if f.Severity != hazard.SeverityWarning {
				t.Errorf("%v: severity %v", f, f.Severity)
			}
		}
	}
	want := []hit{{"m/v2_backfill.up.sql", 1, 45}, {"m/v2_backfill.up.sql", 3, 47}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if !errors.Is(r.Err(), hazard.ErrHazard) {
		t.Errorf("Err = %v", r.Err())
	}
	// The same through a plan, as `waymark check` does.
	p, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := hazard.CheckPlan(p, &hazard.Options{Set: set})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range pr.Findings() {
		if f.Rule == hazard.RuleUsesRepeatable {
			n++
		}
	}
	if n != 2 {
		t.Errorf("CheckPlan found %d uses, want 2:\n%s", n, pr)
	}
}
