package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goAPI matches Go API in what the command prints (see the cli package's
// TestHintsNameFlags, which checks every message of the code).
var goAPI = regexp.MustCompile(`\b[a-z][a-z0-9]*\.[A-Z]\w*|\bOptions(?:\.[A-Z]\w*|\{)`)

func noGoAPI(t *testing.T, what string, r result) {
	t.Helper()
	for _, s := range []string{r.stdout, r.stderr} {
		if m := goAPI.FindString(s); m != "" {
			t.Errorf("%s names Go API %q:\n%v", what, m, r)
		}
	}
}

// TestHintsNameFlags: the refusals a newcomer meets name the flags and
// commands that get past them, never Go API.
func TestHintsNameFlags(t *testing.T) {
	c := newCLI(t, "sample")
	want(t, c.run("apply"), 0)

	// Going down needs -down-to.
	r := c.run("plan", "-to", "1")
	want(t, r, 3)
	contains(t, "plan -to 1", r.stderr, "waymark plan: target 1: needs steps in the other direction", "going down must be asked for with -down-to 1")
	if strings.Contains(r.stderr, "plan: plan:") {
		t.Errorf("plan names itself twice:\n%v", r)
	}
	noGoAPI(t, "plan -to 1", r)
	r = c.run("apply", "-down-to", "1", "-json")
	want(t, r, 0)
	r = c.run("plan", "-down-to", "3")
	want(t, r, 3)
	contains(t, "plan -down-to 3", r.stderr, "-down-to only goes down; go up with -to 3")
	noGoAPI(t, "plan -down-to 3", r)
	want(t, c.run("apply"), 0)

	// Drift names -ignore-drift, in status (text and JSON) and plan.
	c.write("migrations/v002_add_email.up.sql", c.read("migrations/v002_add_email.up.sql")+"-- edited\n")
	for _, args := range [][]string{{"status"}, {"status", "-json"}, {"plan"}, {"apply"}} {
		r = c.run(args...)
		contains(t, strings.Join(args, " "), r.stdout+r.stderr, "-ignore-drift")
		noGoAPI(t, strings.Join(args, " "), r)
	}
	want(t, c.run("plan", "-ignore-drift"), 0)

	// A version the files lack names -allow-newer-database.
	c.remove("migrations/v004_orders.up.sql")
	c.remove("migrations/v004_orders.down.sql")
	r = c.run("plan", "-ignore-drift")
	want(t, r, 3)
	contains(t, "plan", r.stderr, "plan with -allow-newer-database")
	noGoAPI(t, "plan", r)
}

// TestErrorOnce: a failed step is printed once, with its hint; no log line
// repeats it. status names itself once.
func TestErrorOnce(t *testing.T) {
	c := newCLI(t, "")
	c.mkdir("migrations")
	c.write("migrations/v1_t.up.sql", "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1), (1);\n")
	c.write("migrations/v2_idx.up.sql", "-- waymark:no-transaction\nCREATE TABLE u (id int);\nINSERT INTO u VALUES (1), (1);\nCREATE UNIQUE INDEX CONCURRENTLY u_id ON u (id);\n")
	r := c.run("apply")
	want(t, r, 1)
	if n := strings.Count(r.stderr, "23505"); n != 1 {
		t.Errorf("the failure is printed %d times, want once:\n%v", n, r)
	}
	if strings.Contains(r.stderr, "level=ERROR") {
		t.Errorf("a log line repeats the failure:\n%v", r)
	}

	// A no-transaction step left dirty: its hint names resolve, once.
	c.write("migrations/v1_t.up.sql", "CREATE TABLE t (id int PRIMARY KEY);\n")
	r = c.run("apply")
	want(t, r, 1)
	if n := strings.Count(r.stderr, "23505"); n != 1 {
		t.Errorf("the failure is printed %d times, want once:\n%v", n, r)
	}
	contains(t, "dirty failure", r.stderr, "left dirty: repair the database, then record what it holds with 'waymark resolve 2 applied' or 'waymark resolve 2 not-applied'")
	noGoAPI(t, "dirty failure", r)
	r = c.run("status")
	contains(t, "status of a dirty version", r.stdout, "record the outcome with 'waymark resolve 2 applied'")
	noGoAPI(t, "status of a dirty version", r)

	// The same through fleet apply.
	c2 := newCLI(t, "")
	c2.mkdir("migrations")
	c2.write("migrations/v1_t.up.sql", "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1), (1);\n")
	r = c2.run("fleet", "apply")
	want(t, r, 1)
	if n := strings.Count(r.stdout+r.stderr, "23505"); n != 1 {
		t.Errorf("fleet apply prints the failure %d times, want once:\n%v", n, r)
	}
	if strings.Contains(r.stderr, "level=ERROR") {
		t.Errorf("a log line repeats the failure:\n%v", r)
	}

	// status reading a table that is not a history: the command's name once.
	c2.exec1("CREATE TABLE not_history (x int)")
	r = c2.run("status", "-table", "not_history")
	want(t, r, 1)
	contains(t, "status", r.stderr, "waymark status: pgxbackend: ")
	if strings.Contains(r.stderr, "status: read state") {
		t.Errorf("status repeats its name:\n%v", r)
	}
}

// TestNewCreatesDir: new creates the directory it is told about.
func TestNewCreatesDir(t *testing.T) {
	c := newCLI(t, "")
	r := c.run("new", "create users")
	want(t, r, 0)
	contains(t, "new", r.stdout, "created directory migrations\n", "created migrations/v001_create_users.up.sql")
	r = c.run("new", "-dir", "db/schema", "-json", "first")
	want(t, r, 0)
	contains(t, "new -json", r.stdout, `"created_dir": "db/schema"`, `"up": "db/schema/v001_first.up.sql"`)
	r = c.run("new", "second")
	want(t, r, 0)
	if strings.Contains(r.stdout, "directory") {
		t.Errorf("new says it created a directory that existed:\n%v", r)
	}
	// A bad name creates nothing, not even the directory.
	want(t, c.run("new", "-dir", "other", "bad/name"), 2)
	if _, err := os.Stat(filepath.Join(c.dir, "other")); err == nil {
		t.Errorf("new with a bad name created its directory")
	}
}

// TestStatusWithBadFile: a bad down script of a pending version does not
// hide the database's state; the file problem is listed beside it.
func TestStatusWithBadFile(t *testing.T) {
	c := newCLI(t, "sample")
	want(t, c.run("apply", "-to", "2"), 0)
	c.write("migrations/v004_orders.down.sql", "DROP INDEX CONCURRENTLY orders_user_id;\n")
	r := c.run("status")
	want(t, r, 1)
	contains(t, "status", r.stdout,
		"status: database at version 2, files up to 4: 2 applied, 2 pending; plans are refused",
		"  3        pending  users_email_index",
		"  4        pending  orders",
		"file problems (1 file left out above; fix them first):\n  migrations/v004_orders.down.sql:1:1: ")
	if r.stderr != "" {
		t.Errorf("status prints the problem again on standard error:\n%v", r)
	}
	r = c.run("status", "-json")
	want(t, r, 1)
	var doc struct {
		Current      int64    `json:"current"`
		Refused      bool     `json:"refused"`
		FileProblems []string `json:"file_problems"`
		Versions     []struct {
			Version int64  `json:"version"`
			State   string `json:"state"`
			Path    string `json:"path"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%v", err, r)
	}
	if doc.Current != 2 || !doc.Refused || len(doc.FileProblems) != 1 || len(doc.Versions) != 4 ||
		doc.Versions[3].State != "pending" || doc.Versions[3].Path != "migrations/v004_orders.up.sql" {
		t.Errorf("status -json = %+v", doc)
	}

	// A bad up file takes its version out of the comparison.
	c.write("migrations/v004_orders.down.sql", "DROP TABLE orders;\n")
	c.write("migrations/v003_users_email_index.up.sql", "CREATE INDEX CONCURRENTLY users_email_key ON users (email);\n")
	r = c.run("status")
	want(t, r, 1)
	contains(t, "status", r.stdout, "database at version 2", "  3        bad-file  users_email_index  -", "  4        pending", "migrations/v003_users_email_index.up.sql:1:1: ")

	// A bad up file of an applied version: the version is shown with its
	// file, not as a file that is missing.
	c.write("migrations/v003_users_email_index.up.sql", "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY users_email_key ON users (email);\n")
	c.write("migrations/v001_create_users.up.sql", "CREATE TABLE users (id int);\nCREATE INDEX CONCURRENTLY users_id ON users (id);\n")
	r = c.run("status")
	want(t, r, 1)
	contains(t, "status", r.stdout, "1 applied, 2 pending, 1 bad-file; plans are refused",
		"  1        bad-file  create_users", "migrations/v001_create_users.up.sql:2:1: ", "  2        applied")
	if strings.Contains(r.stdout, "its file is missing") {
		t.Errorf("a bad file reads as a missing one:\n%v", r)
	}

	// A directory that cannot be read is an error, as before.
	r = c.run("status", "-dir", "nowhere")
	want(t, r, 1)
	contains(t, "status", r.stderr, "nowhere")
}
