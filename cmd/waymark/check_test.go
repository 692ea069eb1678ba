package main_test

import (
	"context"
	"fmt"
	"strings"
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

// waymark check -from: in a pull request's CI, only the versions above
// the base branch's are checked, from the schema the older ones build,
// and only their findings decide the exit code.
func TestCheckFrom(t *testing.T) {
	c := newCLI(t, "")
	c.env = nil // no database, as in a pull request's CI
	c.mkdir("migrations")
	// Old versions with findings that were accepted long ago in spirit
	// but not in the files.
	c.write("migrations/v1_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);")
	c.write("migrations/v2_index.up.sql", "CREATE INDEX users_email_idx ON users (email);")
	c.write("migrations/v3_name.up.sql", "SET LOCAL lock_timeout = '5s';\nALTER TABLE users ADD COLUMN name text;")

	r := c.run("check", "-dir", "migrations")
	want(t, r, 3)
	contains(t, "check from the empty schema", r.stdout, "v2_index.up.sql", "create-index-not-concurrently")

	r = c.run("check", "-dir", "migrations", "-from", "2")
	want(t, r, 0)
	contains(t, "check -from 2", r.stdout, "from 2 to 3 (1 step)", "0 findings")
	if strings.Contains(r.stdout, "v2_index") {
		t.Errorf("check -from 2 reports version 2:\n%s", r.stdout)
	}

	// A new version's hazard on a table an old version made: the rules
	// know the table existed.
	c.write("migrations/v4_users_name_idx.up.sql", "SET LOCAL lock_timeout = '5s';\nCREATE INDEX users_name_idx ON users (name);")
	r = c.run("check", "-dir", "migrations", "-from", "3")
	want(t, r, 3)
	contains(t, "check -from 3", r.stdout, "v4_users_name_idx.up.sql", "create-index-not-concurrently", "from 3 to 4")

	// Measured on a scratch database brought to version 3.
	r = c.run("check", "-dir", "migrations", "-from", "3", "-scratch", pgtest.ConnString(t))
	want(t, r, 3)
	contains(t, "check -from 3 -scratch", r.stdout, "confirmed    ShareLock on users", "confirmed    scans users")

	r = c.run("check", "-dir", "migrations", "-from", "7")
	want(t, r, 2)
	contains(t, "unknown -from", r.stderr, "-from 7: no such version in the files")
	r = c.run("check", "-dir", "migrations", "-from", "3", "-database", pgtest.ConnString(t))
	want(t, r, 2)
	contains(t, "-from with -database", r.stderr, "give one of them")
}

// waymark check -scratch: a statement that fails on the scratch database
// keeps its measurement (the locks, the INVALID index it left), in text
// and JSON, with the error; the exit code is 1.
func TestCheckKeepsAFailingStatementsReport(t *testing.T) {
	c := newCLI(t, "")
	c.env = nil
	c.mkdir("migrations")
	c.write("migrations/v1_users.up.sql", "CREATE TABLE users (id int PRIMARY KEY, email text);\nINSERT INTO users SELECT g, 'same@example.com' FROM generate_series(1, 20) g;")
	c.write("migrations/v2_email_key.up.sql", "-- waymark:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);")
	r := c.run("check", "-dir", "migrations", "-from", "1", "-scratch", pgtest.ConnString(t))
	want(t, r, 1)
	contains(t, "the partial review", r.stdout, "ShareUpdateExclusiveLock on users", "leaves index users_email_key invalid",
		"failed       ERROR: could not create unique index", "the measurement stopped")
	contains(t, "the error", r.stderr, "v2_email_key.up.sql:2:1", "statement failed on the scratch database")

	r = c.run("check", "-dir", "migrations", "-from", "1", "-scratch", pgtest.ConnString(t), "-json")
	want(t, r, 1)
	contains(t, "the partial review in JSON", r.stdout, `"failed": "ERROR: could not create unique index`, `"invalid_indexes"`, `"error": "`)
}

// waymark check -prerequisites: a set that alters a table another tool
// made is measured after the script makes it, and the rules know the
// table existed.
func TestCheckPrerequisites(t *testing.T) {
	c := newCLI(t, "")
	c.env = nil
	c.mkdir("migrations")
	c.mkdir("migrations/prerequisites")
	c.write("migrations/prerequisites/setup.sql", "CREATE TABLE schema_migrations (version bigint NOT NULL, dirty boolean NOT NULL);")
	c.write("migrations/v1_adopt.up.sql", "SET LOCAL lock_timeout = '5s';\nALTER TABLE schema_migrations ADD COLUMN note text DEFAULT random()::text;")

	r := c.run("check", "-dir", "migrations", "-scratch", pgtest.ConnString(t))
	want(t, r, 1)
	contains(t, "without the prerequisites", r.stderr, "schema_migrations")

	r = c.run("check", "-dir", "migrations", "-scratch", pgtest.ConnString(t), "-prerequisites", "migrations/prerequisites/setup.sql")
	want(t, r, 3)
	contains(t, "with the prerequisites", r.stdout, "confirmed    rewrites schema_migrations", "add-column-volatile-default")

	r = c.run("check", "-dir", "migrations", "-prerequisites", "migrations/prerequisites/nope.sql")
	want(t, r, 1)
	contains(t, "a missing prerequisites file", r.stderr, "-prerequisites", "nope.sql")
	c.write("migrations/prerequisites/bad.sql", "CREATE TABLE broken (;")
	r = c.run("check", "-dir", "migrations", "-scratch", pgtest.ConnString(t), "-prerequisites", "migrations/prerequisites/bad.sql")
	want(t, r, 1)
	contains(t, "a failing prerequisites script", r.stderr, "-prerequisites migrations/prerequisites/bad.sql on the scratch database", "syntax error")
}
