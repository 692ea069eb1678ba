package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Repeatable scripts through the command: status, plan (text and JSON),
// check's warning, apply, and a changed script applied once.
func TestRepeatables(t *testing.T) {
	c := newCLI(t, "")
	dir := filepath.Join(c.dir, "migrations")
	write := func(name, sql string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("v1_users.up.sql", "CREATE TABLE users (id int, active bool);\n")
	write("v2_report.up.sql", "CREATE TABLE report AS SELECT id FROM active_users;\n")
	write("r_active_users.sql", "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users WHERE active;\n")

	r := c.run("check")
	want(t, r, 3)
	contains(t, "check", r.stdout, "versioned-uses-repeatable at 1:39", "r_active_users.sql", "up  R  active_users")
	// The rule's point: on a new database the view does not exist yet.
	r = c.run("apply")
	want(t, r, 1)
	contains(t, "apply", r.stderr, "migrations/v2_report.up.sql:1:39", `relation "active_users" does not exist`)

	write("v2_report.up.sql", "CREATE TABLE report AS SELECT id FROM users WHERE active;\n")
	r = c.run("status")
	want(t, r, 0)
	contains(t, "status", r.stdout, "repeatable scripts 1 pending", "active_users  pending")
	r = c.run("plan")
	want(t, r, 0)
	contains(t, "plan", r.stdout, "plan: up from 1 to 2 (2 steps)", "up  R  active_users  migrations/r_active_users.sql")
	r = c.run("apply")
	want(t, r, 0)
	contains(t, "apply", r.stdout, "applied: up repeatable active_users", "done: up from 1 to 2 (2 steps)")

	write("r_active_users.sql", "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users WHERE active IS TRUE;\n")
	r = c.run("status")
	contains(t, "status after the change", r.stdout, "active_users  changed")
	r = c.run("plan", "-json")
	want(t, r, 0)
	var doc struct {
		Format string `json:"format"`
		Steps  []struct {
			Name       string `json:"name"`
			Repeatable bool   `json:"repeatable"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Format != "waymark.plan/v3" || len(doc.Steps) != 1 || !doc.Steps[0].Repeatable || doc.Steps[0].Name != "active_users" {
		t.Errorf("plan -json: %+v, %v\n%s", doc, err, r.stdout)
	}
	r = c.run("apply", "-json")
	want(t, r, 0)
	contains(t, "apply -json", r.stdout, `"repeatable": true`)
	r = c.run("apply")
	want(t, r, 0)
	contains(t, "apply again", r.stdout, "nothing to do: the database is at version 2")
}
