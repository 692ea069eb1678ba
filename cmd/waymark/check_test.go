package main_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/waymarkdb/waymark/internal/pgtest"
)

// waymark check: the demo's set has one hazard, a step without a lock
// timeout; the runner's -lock-timeout accepts it. Measured on a scratch
// database, the predictions are confirmed.
func TestCheck(t *testing.T) {
	c := newCLI(t, "sample")
	c.env = nil // no database: plan from the empty schema
	r := c.run("check", "-dir", "migrations")
	want(t, r, 3)
	contains(t, "check's report", r.stdout, "migrations/v002_add_email.up.sql", "missing-lock-timeout", "1 to fix")

	r = c.run("check", "-dir", "migrations", "-lock-timeout", "5s")
	want(t, r, 0)

	r = c.run("check", "-dir", "migrations", "-lock-timeout", "5s", "-scratch", pgtest.ConnString(t))
	want(t, r, 0)
	contains(t, "the measured review", r.stdout, "confirmed")

	r = c.run("check", "-dir", "migrations", "-json")
	want(t, r, 3)
	contains(t, "check -json", r.stdout, `"steps"`, `"missing-lock-timeout"`)

	r = c.run("check", "-dir", "migrations", "-server-version", "9")
	want(t, r, 2)
	contains(t, "check without a database", c.run("check", "-dir", "migrations", "-lock-timeout", "5s").stderr,
		"check: rules for PostgreSQL 14, the default")
}

// TestCheckKnowsTheServer: with a database, check judges for its server's
// major version, and says so; -server-version still decides.
func TestCheckKnowsTheServer(t *testing.T) {
	c := newCLI(t, "sample")
	var major int
	if err := c.pool().QueryRow(context.Background(), "SELECT current_setting('server_version_num')::int / 10000").Scan(&major); err != nil {
		t.Fatal(err)
	}
	r := c.run("check", "-lock-timeout", "5s")
	want(t, r, 0)
	contains(t, "check with DATABASE_URL", r.stderr, fmt.Sprintf("check: rules for PostgreSQL %d, the version of the -database server", major))
	contains(t, "check with DATABASE_URL", r.stdout, fmt.Sprintf("rules for PostgreSQL %d;", major))
	r = c.run("check", "-lock-timeout", "5s", "-json")
	want(t, r, 0)
	contains(t, "check -json", r.stdout, fmt.Sprintf(`"server_version": %d0000`, major))
	other := 14
	if major == 14 {
		other = 16
	}
	r = c.run("check", "-lock-timeout", "5s", "-server-version", fmt.Sprint(other))
	want(t, r, 0)
	contains(t, "check -server-version", r.stderr, fmt.Sprintf("check: rules for PostgreSQL %d, -server-version", other))
}
