package main_test

// Adopting waymark through the binary: import another tool's files,
// import its history, baseline. The other tools' tables are built here
// with their own DDL; internal/adopttest has the tools themselves apply
// their sets.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/internal/testsets"
)

// convertTestdata is the directory of package convert's test sets.
func convertTestdata(t *testing.T) string {
	return filepath.Join(filepath.Dir(testsets.Dir(t)), "adopt", "convert", "testdata")
}

func (c *cli) exec1(sql string) {
	c.t.Helper()
	if _, err := c.pool().Exec(context.Background(), sql); err != nil {
		c.t.Fatalf("%s: %v", sql, err)
	}
}

// TestAdoptGoose: a database that goose migrated moves to waymark with two
// commands, and waymark then owns it: up to date, down and up again.
func TestAdoptGoose(t *testing.T) {
	c := newCLI(t, "")
	copySet(t, filepath.Join(convertTestdata(t), "goose"), filepath.Join(c.dir, "db", "goose"))

	r := c.run("import", "goose", "-from", "db/goose", "-to", "migrations", "-dry-run")
	want(t, r, 0)
	contains(t, "import -dry-run", r.stdout, "goose: 6 of 6 migrations converted, from 6 files",
		"v00003_users_email_index: no-transaction: -- +goose NO TRANSACTION", "dry run: would write 12 files to migrations")
	if _, err := os.Stat(filepath.Join(c.dir, "migrations")); !os.IsNotExist(err) {
		t.Fatalf("a dry run wrote: %v", err)
	}
	r = c.run("import", "goose", "-from", "db/goose", "-to", "migrations")
	want(t, r, 0)
	contains(t, "import", r.stdout, "wrote 12 files to migrations",
		"next, in each database goose migrated: waymark import-history goose -from db/goose -dir migrations",
		"ignored (1 file, which goose never runs on PostgreSQL):\n  db/goose/helpers.go: a Go file without a version, not a migration")
	contains(t, "converted file", c.read("migrations/v00005_legacy_sessions.up.sql"), `-- waymark:empty "an empty step in the goose migrations this set was converted from"`)

	// What goose left: the schema of versions 1 to 4 (made here by the
	// same SQL, recorded elsewhere) and its table.
	want(t, c.run("apply", "-to", "4", "-table", "made_by_goose"), 0)
	c.exec1(`CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NULL DEFAULT now(), PRIMARY KEY (id));
INSERT INTO goose_db_version (version_id, is_applied, tstamp) VALUES (0, true, now()), (1, true, '2023-05-06 07:08:09'), (2, true, '2023-05-07 07:08:09'), (3, true, '2023-05-08 07:08:09'), (4, true, '2023-05-09 07:08:09')`)

	r = c.run("import-history", "goose", "-from", "db/goose", "-dry-run")
	want(t, r, 0)
	contains(t, "import-history -dry-run", r.stdout, "dry run: would record 4 versions as applied (goose's versions 1 to 4, from \"goose_db_version\"), without running them:",
		"  3  users_email_index  sha256:", "  applied by goose 2023-05-08T07:08:09Z")
	if h := c.history(); h != nil {
		t.Fatalf("a dry run recorded %v", h)
	}
	r = c.run("import-history", "goose", "-from", "db/goose")
	want(t, r, 0)
	contains(t, "import-history", r.stdout, "recorded 4 versions as applied", `goose's table "goose_db_version" is left as it is: drop it when you are sure`)
	if h := strings.Join(c.history(), " "); h != "1 2 3 4" {
		t.Errorf("history = %s", h)
	}
	r = c.run("status")
	want(t, r, 0)
	contains(t, "status", r.stdout, "database at version 4, files up to 20240311093000: 4 applied, 2 pending",
		"  3               applied  users_email_index  2023-05-08T07:08:09Z  imported")
	r = c.run("status", "-json")
	want(t, r, 0)
	contains(t, "status -json", r.stdout, `"applied_at": "2023-05-08T07:08:09Z",
      "imported": true,`)

	// Once is enough: waymark's history is no longer empty.
	r = c.run("import-history", "goose", "-from", "db/goose")
	want(t, r, 3)
	contains(t, "second import", r.stderr, "the history is not empty")

	want(t, c.run("apply"), 0)
	want(t, c.run("plan", "-detailed-exitcode"), 0)
	want(t, c.run("apply", "-down-to", "0"), 0)
	want(t, c.run("apply"), 0)
	r = c.run("status")
	want(t, r, 0)
	if strings.Contains(r.stdout, "imported") {
		t.Errorf("versions waymark ran show as imported:\n%v", r)
	}
	if h := strings.Join(c.history(), " "); h != "1 2 3 4 5 20240311093000" {
		t.Errorf("history = %s", h)
	}
}

// TestImportRefuses: a file that cannot be converted stops the import
// unless accepted; bad arguments are usage errors.
func TestImportRefuses(t *testing.T) {
	c := newCLI(t, "")
	copySet(t, filepath.Join(convertTestdata(t), "goose"), filepath.Join(c.dir, "goose"))
	c.write("goose/00006_backfill.go", "package migrations\n")

	r := c.run("import", "goose", "-from", "goose")
	want(t, r, 3)
	contains(t, "refused import", r.stdout, "not converted (1 file):\n  goose/00006_backfill.go: a Go migration: waymark runs SQL files only",
		"v00006_backfill: not converted: a Go migration: waymark runs SQL files only; write v00006_backfill.up.sql by hand",
		"wrote nothing: 1 file not converted")
	if _, err := os.Stat(filepath.Join(c.dir, "migrations")); !os.IsNotExist(err) {
		t.Fatalf("a refused import wrote: %v", err)
	}
	r = c.run("import", "goose", "-from", "goose", "-allow-unconverted", "-json")
	want(t, r, 0)
	var doc struct {
		Outcome     string `json:"outcome"`
		Written     bool   `json:"written"`
		Unconverted []struct {
			Path    string `json:"path"`
			Version int64  `json:"version"`
		} `json:"unconverted"`
		Migrations []struct {
			Version int64 `json:"version"`
			Up      *struct {
				Name string `json:"name"`
			} `json:"up"`
		} `json:"migrations"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%v", err, r)
	}
	if !doc.Written || len(doc.Unconverted) != 1 || doc.Unconverted[0].Version != 6 || len(doc.Migrations) != 7 || doc.Migrations[5].Up != nil {
		t.Errorf("import -json = %+v", doc)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "migrations", "v00005_legacy_sessions.up.sql")); err != nil {
		t.Errorf("-allow-unconverted did not write: %v", err)
	}
	// The directory now has .sql files: never mixed.
	r = c.run("import", "goose", "-from", "goose", "-allow-unconverted")
	want(t, r, 3)
	contains(t, "second import", r.stderr, "directory is not empty: it already holds")

	want(t, c.run("import", "liquibase", "-from", "goose"), 2)
	r = c.run("import", "flyway", "-from", "goose", "-to", "elsewhere")
	want(t, r, 1)
	contains(t, "goose files read as Flyway's", r.stderr, "waymark import: goose: no migration files: none named as flyway names them")
	r = c.run("import", "goose")
	want(t, r, 2)
	contains(t, "no -from", r.stderr, "-from: name the directory of goose's migration files")
	r = c.run("import", "golang-migrate", "-from", "goose", "-to", "elsewhere")
	want(t, r, 1)
	contains(t, "goose files read as golang-migrate's", r.stderr, "waymark import: goose: no migration files: none named as golang-migrate names them")
}

// TestImportHistoryRefusesDirty: golang-migrate's dirty flag stops the
// import, naming the version; the flag's tool is the one to clear it.
func TestImportHistoryRefusesDirty(t *testing.T) {
	c := newCLI(t, "")
	copySet(t, filepath.Join(convertTestdata(t), "golang-migrate"), filepath.Join(c.dir, "old"))
	want(t, c.run("import", "golang-migrate", "-from", "old"), 0)
	c.exec1(`CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
INSERT INTO schema_migrations VALUES (3, true)`)
	r := c.run("import-history", "golang-migrate", "-from", "old")
	want(t, r, 3)
	contains(t, "dirty", r.stderr, `adopt: golang-migrate "schema_migrations": dirty state: version 3: a migration failed part-way`)
	if h := c.history(); h != nil {
		t.Errorf("a refused import recorded %v", h)
	}
	r = c.run("import-history", "golang-migrate", "-from", "old", "-from-table", "migrations_of_old")
	want(t, r, 3)
	contains(t, "no table", r.stderr, `"migrations_of_old": no history table`)

	c.exec1(`UPDATE schema_migrations SET dirty = false`)
	r = c.run("import-history", "golang-migrate", "-from", "old", "-json")
	want(t, r, 0)
	var doc struct {
		Recorded []struct {
			Version int64 `json:"version"`
		} `json:"recorded"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Recorded) != 3 {
		t.Errorf("import-history -json = %+v (%v)\n%v", doc, err, r)
	}
}

func TestBaseline(t *testing.T) {
	c := newCLI(t, "sample")
	// The schema of versions 1 and 2 is there, made by hand.
	want(t, c.run("apply", "-to", "2", "-table", "by_hand"), 0)

	r := c.run("baseline", "2", "-dry-run")
	want(t, r, 0)
	contains(t, "dry run", r.stdout, "dry run: would record 2 versions as applied (up to version 2), without running them:", "  1  create_users  sha256:")
	if h := c.history(); h != nil {
		t.Fatalf("a dry run recorded %v", h)
	}
	r = c.run("baseline", "2")
	want(t, r, 0)
	contains(t, "baseline", r.stdout, "recorded 2 versions as applied (up to version 2)")
	r = c.run("apply", "-detailed-exitcode")
	want(t, r, 4)
	contains(t, "apply after the baseline", r.stdout, "done: up from 2 to 4 (2 steps)")

	r = c.run("baseline", "4")
	want(t, r, 3)
	contains(t, "second baseline", r.stderr, "the history is not empty: it has 4 records, up to version 4")
	r = c.run("baseline", "3", "-app-key", "other", "-json", "-dry-run")
	want(t, r, 0)
	contains(t, "baseline -json", r.stdout, `"dry_run": true`, `"version": 3`, `"name": "users_email_index"`)
	r = c.run("baseline", "5", "-app-key", "other")
	want(t, r, 3)
	contains(t, "not a version", r.stderr, "execute: version 5: invalid baseline: not a version of the set (its versions run from 1 to 4)")
	want(t, c.run("baseline"), 2)
	want(t, c.run("baseline", "x"), 2)
}
