package status_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/status"
)

// Repeatable scripts applied, changed, pending and removed, read from
// PostgreSQL.
func TestRepeatables(t *testing.T) {
	ctx := context.Background()
	db := pgxbackend.New(pgtest.Pool(t), nil)
	files := map[string]string{
		"v1_t.up.sql":  "CREATE TABLE t (id int);",
		"r_a_same.sql": "CREATE OR REPLACE VIEW a AS SELECT 1 AS one;",
		"r_b_edit.sql": "CREATE OR REPLACE VIEW b AS SELECT 1 AS one;",
		"r_c_gone.sql": "CREATE OR REPLACE VIEW c AS SELECT 1 AS one;",
	}
	if _, err := execute.Migrate(ctx, db, testsets.Map(t, files), plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	files["r_b_edit.sql"] = "CREATE OR REPLACE VIEW b AS SELECT 2 AS one;"
	delete(files, "r_c_gone.sql")
	files["r_d_new.sql"] = "CREATE OR REPLACE VIEW d AS SELECT 1 AS one;"
	r, err := status.Read(ctx, db, testsets.Map(t, files), nil)
	if err != nil {
		t.Fatal(err)
	}
	type rep struct{ Name, State, Path string }
	var got []rep
	for _, e := range r.Repeatables {
		got = append(got, rep{e.Name, e.State.String(), e.Path})
		if (e.State == status.RepeatableApplied || e.State == status.RepeatableRemoved || e.State == status.RepeatableChanged) && e.AppliedAt.IsZero() {
			t.Errorf("%s: no applied_at", e.Name)
		}
	}
	want := []rep{{"a_same", "applied", "m/r_a_same.sql"}, {"b_edit", "changed", "m/r_b_edit.sql"}, {"c_gone", "removed", ""}, {"d_new", "pending", "m/r_d_new.sql"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("repeatables (-want +got):\n%s", diff)
	}
	text := r.String()
	for _, s := range []string{"repeatable scripts 1 applied, 1 changed, 1 pending, 1 removed", "REPEATABLE  STATE", "c_gone      removed"} {
		if !strings.Contains(text, s) {
			t.Errorf("String() lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "up to date") {
		t.Errorf("String() says up to date with a changed script:\n%s", text)
	}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"repeatables":[{"name":"a_same","state":"applied"`) {
		t.Errorf("JSON: %s", js)
	}
}
