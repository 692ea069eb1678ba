package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/cli"
	"github.com/waymarkdb/waymark/internal/pgtest"
)

// apply -plan runs exactly the saved plan's path: a step deleted by hand
// from an unsigned plan, or bytes appended to a signed one, are refused
// (exit 3), and nothing is applied.
func TestApplyPlanRefusesAnEditedPlan(t *testing.T) {
	dir := t.TempDir()
	for name, sql := range map[string]string{
		"v1_a.up.sql": "CREATE TABLE a (id int);\n",
		"v2_b.up.sql": "CREATE TABLE b (id int);\n",
		"v3_c.up.sql": "CREATE TABLE c (id int);\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	url := pgtest.ConnString(t)
	const key = "0123456789abcdef0123456789abcdef"
	env := func(withKey bool) *cli.Config {
		return &cli.Config{Getenv: func(k string) string {
			switch {
			case k == cli.EnvDatabaseURL:
				return url
			case k == cli.EnvPlanKey && withKey:
				return key
			}
			return ""
		}}
	}
	unsigned, signed := filepath.Join(dir, "unsigned.json"), filepath.Join(dir, "signed.json")
	if code, _, stderr := run(t, env(false), "plan", "-dir", dir, "-o", unsigned); code != 0 {
		t.Fatalf("plan -o = %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, env(true), "plan", "-dir", dir, "-o", signed); code != 0 {
		t.Fatalf("plan -o, signed = %d: %s", code, stderr)
	}

	// Step 1 deleted from the unsigned plan.
	data, err := os.ReadFile(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["steps"] = doc["steps"].([]any)[1:]
	if data, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(dir, "edited.json")
	if err := os.WriteFile(edited, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, env(false), "apply", "-dir", dir, "-plan", edited)
	if code != 3 || !strings.Contains(stderr, "version 1") || !strings.Contains(stderr, "not the path from 0 to 3") {
		t.Errorf("apply -plan without step 1 = %d:\n%s\n%s", code, stdout, stderr)
	}

	// Bytes appended to the signed plan.
	data, err = os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	appended := filepath.Join(dir, "appended.json")
	if err := os.WriteFile(appended, append(data, `{"steps": []}`...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run(t, env(true), "apply", "-dir", dir, "-plan", appended)
	if code != 3 || !strings.Contains(stderr, "data after the plan's JSON") {
		t.Errorf("apply -plan of a signed plan with bytes appended = %d:\n%s\n%s", code, stdout, stderr)
	}

	code, stdout, _ = run(t, env(false), "status", "-dir", dir)
	if !strings.Contains(stdout, "database at version 0, files up to 3: 3 pending") {
		t.Errorf("status after the refused plans = %d:\n%s", code, stdout)
	}
	// The plans as saved apply.
	if code, stdout, stderr := run(t, env(true), "apply", "-dir", dir, "-plan", signed); code != 0 {
		t.Errorf("apply -plan of the signed plan = %d:\n%s\n%s", code, stdout, stderr)
	}
}
