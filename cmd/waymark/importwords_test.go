package main_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestImportSaysWhatDidNotConvertCleanly: a statement on the tool's own
// history table is a warning naming file and line; a script wrapped in
// BEGIN; ... COMMIT; is said to become a no-transaction step, and -unwrap
// makes it an ordinary one, which a failure rolls back whole; an ignored
// file is named without -v; many irreversible versions are one line, in
// the report and in the refusal to go down.
func TestImportSaysWhatDidNotConvertCleanly(t *testing.T) {
	c := newCLI(t, "")
	c.mkdir("db/migrate")
	c.write("db/migrate/1_users.up.sql", "BEGIN;\nCREATE TABLE users (id int PRIMARY KEY);\nINSERT INTO users VALUES (1);\nCOMMIT;\n")
	c.write("db/migrate/2_dupes.up.sql", "BEGIN;\nCREATE TABLE dupes (id int PRIMARY KEY);\nINSERT INTO dupes VALUES (1), (1);\nCOMMIT;\n")
	c.write("db/migrate/3_version.up.sql", "CREATE TABLE settings (k text);\nALTER TABLE schema_migrations ADD COLUMN data_version int;\n")
	for v := 4; v <= 8; v++ {
		c.write(fmt.Sprintf("db/migrate/%d_t%d.up.sql", v, v), fmt.Sprintf("CREATE TABLE t%d (id int);\n", v))
	}
	c.write("db/migrate/README.md", "how we migrate\n")

	r := c.run("import", "golang-migrate", "-from", "db/migrate", "-dry-run")
	want(t, r, 0)
	contains(t, "import report", r.stdout,
		"  2 scripts wrap their SQL in BEGIN; ... COMMIT; and run as no-transaction steps, which a failure part-way leaves dirty: -unwrap makes them ordinary transactional steps",
		"warnings (1):\n  db/migrate/3_version.up.sql:2:13: it uses golang-migrate's own history table schema_migrations, which waymark does not create",
		"  8 versions (1-8): irreversible: golang-migrate has no down file for it",
		"ignored (1 file, which golang-migrate never runs on PostgreSQL):\n  db/migrate/README.md: not a migration file")
	noGoAPI(t, "import report", r)
	if n := strings.Count(r.stdout, "irreversible: "); n != 1 {
		t.Errorf("the irreversible versions take %d lines, want 1:\n%v", n, r)
	}
	r = c.run("import", "golang-migrate", "-from", "db/migrate", "-dry-run", "-json")
	want(t, r, 0)
	var doc struct {
		Warnings []struct {
			Path    string `json:"path"`
			Line    int    `json:"line"`
			Version int64  `json:"version"`
		} `json:"warnings"`
		Migrations []struct {
			Up struct {
				Wrapped bool `json:"wrapped"`
			} `json:"up"`
		} `json:"migrations"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%v", err, r)
	}
	if len(doc.Warnings) != 1 || doc.Warnings[0].Path != "db/migrate/3_version.up.sql" || doc.Warnings[0].Line != 2 || doc.Warnings[0].Version != 3 || !doc.Migrations[0].Up.Wrapped {
		t.Errorf("import -json: %+v", doc)
	}

	// -unwrap: ordinary transactional steps. Version 2 fails on its second
	// statement and is rolled back whole: nothing of it, and not dirty.
	c.remove("db/migrate/3_version.up.sql")
	r = c.run("import", "golang-migrate", "-from", "db/migrate", "-unwrap")
	want(t, r, 0)
	contains(t, "import -unwrap", r.stdout, "2 scripts wrapped in BEGIN; ... COMMIT; unwrapped: they run in waymark's transaction")
	contains(t, "unwrapped file", c.read("migrations/v2_dupes.up.sql"), "/* BEGIN; (unwrapped: waymark runs the step in its transaction) */\nCREATE TABLE dupes")
	r = c.run("apply")
	want(t, r, 1)
	contains(t, "apply", r.stderr, "migrations/v2_dupes.up.sql:3:1:", "23505")
	if strings.Contains(r.stderr, "dirty") {
		t.Errorf("an unwrapped step left its version dirty:\n%v", r)
	}
	if h := strings.Join(c.history(), " "); h != "1" {
		t.Errorf("history = %s, want 1", h)
	}
	var dupes bool
	if err := c.pool().QueryRow(t.Context(), "SELECT to_regclass('dupes') IS NOT NULL").Scan(&dupes); err != nil || dupes {
		t.Errorf("the failed step left its table (%v, %v)", dupes, err)
	}

	// The refusal to go down through the irreversible versions: one line.
	c.write("migrations/v2_dupes.up.sql", "CREATE TABLE dupes (id int);\n")
	want(t, c.run("apply"), 0)
	r = c.run("apply", "-down-to", "0")
	want(t, r, 3)
	contains(t, "refusal", r.stderr, "plan: versions 1, 2, 4-8: irreversible version: none has a down script, so the database cannot go below 8")
	if n := strings.Count(r.stderr, "irreversible"); n != 1 {
		t.Errorf("the refusal takes %d lines for the irreversible versions, want 1:\n%v", n, r)
	}
}
