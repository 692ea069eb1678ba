package main_test

import (
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
}
