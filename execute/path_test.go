package execute_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

// withoutStep saves p unsigned, deletes its i-th step from the JSON by
// hand and loads it back.
func withoutStep(t *testing.T, p *plan.Plan, i int) *plan.Plan {
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
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := plan.Load(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatalf("Load of the plan without step %d: %v", i+1, err)
	}
	return loaded
}

// Run runs exactly a plan's path: steps 2 and 3 of a saved plan 0 to 3,
// step 1 deleted by hand, are refused given the files, before anything
// runs; a down plan with a step deleted is refused even without them.
func TestPostgresRunRefusesAPlanThatIsNotItsPath(t *testing.T) {
	ctx := context.Background()
	files := maps.Clone(releaseFiles)
	files["v3_c.up.sql"] = "CREATE TABLE c (id int);\n"
	files["v3_c.down.sql"] = "DROP TABLE c;\n"
	set := testsets.Map(t, files)
	pool := pgtest.Pool(t)
	db := pgxbackend.New(pool, nil)
	p, err := plan.Build(ctx, db, set, plan.To(3), nil)
	if err != nil {
		t.Fatal(err)
	}
	edited := withoutStep(t, p, 0)
	res, err := execute.Run(ctx, db, edited, &execute.Options{Files: set})
	var pe *plan.Error
	if !errors.Is(err, execute.ErrBadPlan) || !errors.Is(err, plan.ErrNotPath) || !errors.As(err, &pe) || pe.Version != 1 {
		t.Fatalf("Run of the plan without step 1 = %v; want ErrBadPlan wrapping plan.ErrNotPath about version 1", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "not the path from 0 to 3") || !strings.Contains(msg, "m/v1_a.up.sql") {
		t.Errorf("message %q does not say what is wrong", msg)
	}
	if len(res.Steps) != 0 {
		t.Errorf("Result lists %d steps", len(res.Steps))
	}
	checkHistory(t, pool, set)
	checkNoLeftovers(t, pool)

	// The whole plan runs; then a down plan with a step deleted, without
	// the files.
	if _, err := execute.Run(ctx, db, p, &execute.Options{Files: set}); err != nil {
		t.Fatal(err)
	}
	down, err := plan.Build(ctx, db, set, plan.DownTo(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	down.Steps = down.Steps[1:] // 2 and 1, not 3
	if _, err := execute.Run(ctx, db, down, nil); !errors.Is(err, execute.ErrBadPlan) || !errors.Is(err, plan.ErrNotPath) {
		t.Fatalf("Run of a down plan without its first step = %v; want ErrBadPlan wrapping plan.ErrNotPath", err)
	}
	checkHistory(t, pool, set, 1, 2, 3)
}
