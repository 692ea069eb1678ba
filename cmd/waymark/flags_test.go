package main_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestLimitFlags: apply's -lock-timeout and -statement-timeout reach the
// steps' sessions, and bad values are usage errors naming the flag.
func TestLimitFlags(t *testing.T) {
	c := newCLI(t, "")
	c.mkdir("migrations")
	c.write("migrations/v001_limits.up.sql", "CREATE TABLE limits AS SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement;\n")
	c.write("migrations/v001_limits.down.sql", "DROP TABLE limits;\n")
	r := c.run("apply", "-lock-timeout", "-1s")
	want(t, r, 2)
	contains(t, "negative -lock-timeout", r.stderr, "-lock-timeout -1s: want 0 or more")
	r = c.run("apply", "-lock-timeout-retries", "-2")
	want(t, r, 2)
	contains(t, "negative retries", r.stderr, "-lock-timeout-retries -2")
	if h := c.history(); h != nil {
		t.Fatalf("a refused apply wrote history %v", h)
	}

	want(t, c.run("apply", "-lock-timeout", "1500ms", "-statement-timeout", "2m", "-lock-timeout-retries", "2"), 0)
	var lock, statement string
	if err := c.pool().QueryRow(context.Background(), "SELECT lock, statement FROM limits").Scan(&lock, &statement); err != nil {
		t.Fatal(err)
	}
	if lock != "1500ms" || statement != "2min" {
		t.Errorf("the step ran with lock_timeout %q, statement_timeout %q; want 1500ms, 2min", lock, statement)
	}
}

// TestPlanFlags: a version added below the database's is refused as out of
// order until -allow-out-of-order; an edited applied file is drift until
// -ignore-drift; files behind the database are refused by plan until
// -allow-newer-database.
func TestPlanFlags(t *testing.T) {
	c := newCLI(t, "")
	c.mkdir("migrations")
	c.write("migrations/v002_b.up.sql", "CREATE TABLE b (x int);\n")
	want(t, c.run("apply"), 0)

	c.write("migrations/v001_a.up.sql", "CREATE TABLE a (x int);\n")
	r := c.run("plan")
	want(t, r, 3)
	contains(t, "plan out of order", r.stderr, "v001_a.up.sql", "was never applied", "apply it with -allow-out-of-order")
	want(t, c.run("apply"), 3)
	r = c.run("status", "-allow-out-of-order")
	want(t, r, 0)
	contains(t, "status -allow-out-of-order", r.stdout, "1 pending")
	want(t, c.run("apply", "-allow-out-of-order"), 0)
	if h := c.history(); len(h) != 2 || h[0] != "1" || h[1] != "2" {
		t.Fatalf("history after -allow-out-of-order = %v, want [1 2]", h)
	}

	c.write("migrations/v002_b.up.sql", "CREATE TABLE b (x bigint);\n")
	r = c.run("status", "-detailed-exitcode")
	want(t, r, 3)
	contains(t, "status with drift", r.stdout, "v002_b.up.sql", "checksum drift")
	want(t, c.run("status", "-detailed-exitcode", "-ignore-drift"), 0)
	want(t, c.run("check", "-ignore-drift"), 0)

	c.write("migrations/v002_b.up.sql", "CREATE TABLE b (x int);\n")
	c.write("migrations/v003_c.up.sql", "CREATE TABLE c (x int);\n")
	want(t, c.run("apply"), 0)
	c.remove("migrations/v003_c.up.sql")
	r = c.run("plan")
	want(t, r, 3)
	contains(t, "plan with the database ahead", r.stderr, "3")
	want(t, c.run("plan", "-allow-newer-database"), 0)
}

func (c *cli) remove(name string) {
	c.t.Helper()
	if err := os.Remove(filepath.Join(c.dir, name)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cli) mkdir(name string) {
	c.t.Helper()
	if err := os.MkdirAll(filepath.Join(c.dir, name), 0o755); err != nil {
		c.t.Fatal(err)
	}
}
