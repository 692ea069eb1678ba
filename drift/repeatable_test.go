package drift_test

import (
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/drift"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/waymarktest"
)

// The expected schema has the repeatable scripts: a database the set made
// has no drift, a view changed by hand is drift, and a changed file is a
// warning as well as a difference.
func TestRepeatables(t *testing.T) {
	files := map[string]string{
		"v1_users.up.sql": "CREATE TABLE users (id int, active bool);",
		"r_view.sql":      "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users WHERE active;",
	}
	set := testsets.Map(t, files)
	pool := waymarktest.Pool(t, set, nil)
	opts := &drift.Options{Scratch: waymarktest.Server(t)}
	r, err := drift.Check(t.Context(), pool, set, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Drifted() || len(r.Warnings) > 0 {
		t.Fatalf("a database the set made, repeatable script included, reports drift:\n%s", r)
	}
	files["r_view.sql"] = "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users WHERE active IS TRUE;"
	r, err = drift.Check(t.Context(), pool, testsets.Map(t, files), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Drifted() || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "repeatable scripts are not the files'") {
		t.Errorf("a changed repeatable script: drifted %v, warnings %q:\n%s", r.Drifted(), r.Warnings, r)
	}
}
