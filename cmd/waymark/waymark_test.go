package main_test

// These tests build the waymark binary and run it, as a user or a CI job
// would, against a database of their own from internal/pgtest.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/source"
)

var bin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if bin.dir != "" {
		os.RemoveAll(bin.dir)
	}
	os.Exit(code)
}

// waymark returns the path of the built binary.
func waymark(t *testing.T) string {
	t.Helper()
	bin.once.Do(func() {
		bin.dir, bin.err = os.MkdirTemp("", "waymark-bin-")
		if bin.err != nil {
			return
		}
		bin.path = filepath.Join(bin.dir, "waymark")
		out, err := exec.Command("go", "build", "-o", bin.path, ".").CombinedOutput()
		if err != nil {
			bin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if bin.err != nil {
		t.Fatal(bin.err)
	}
	return bin.path
}

// result is what a run of the binary printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cli runs the binary in dir with env (KEY=value) added to a clean
// environment.
type cli struct {
	t   *testing.T
	dir string
	env []string
}

// newCLI returns a runner in a new directory holding a copy of the set
// testdata/<set> as migrations/, with DATABASE_URL set to a new database.
func newCLI(t *testing.T, set string) *cli {
	t.Helper()
	dir := t.TempDir()
	if set != "" {
		copySet(t, filepath.Join(testsets.Dir(t), set), filepath.Join(dir, "migrations"))
	}
	return &cli{t: t, dir: dir, env: []string{"DATABASE_URL=" + pgtest.ConnString(t)}}
}

func copySet(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	return c.exec(waymark(c.t), args...)
}

func (c *cli) exec(name string, args ...string) result {
	c.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	cmd.Env = append([]string{"PATH=" + filepath.Dir(waymark(c.t)) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + c.dir}, c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// want fails the test unless r exited with code.
func want(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %v", code, r)
	}
}

func contains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

func (c *cli) pool() *pgxpool.Pool {
	c.t.Helper()
	url := strings.TrimPrefix(c.env[0], "DATABASE_URL=")
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(pool.Close)
	return pool
}

// history returns the applied versions, "3!" for a dirty one.
func (c *cli) history() []string {
	c.t.Helper()
	rows, err := c.pool().Query(context.Background(), "SELECT version::text || CASE WHEN dirty IS NULL THEN '' ELSE '!' END FROM waymark_history ORDER BY version")
	if err != nil {
		if strings.Contains(err.Error(), "42P01") {
			return nil
		}
		c.t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		if strings.Contains(err.Error(), "42P01") {
			return nil
		}
		c.t.Fatal(err)
	}
	return vs
}

func (c *cli) write(name, content string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cli) read(name string) string {
	c.t.Helper()
	data, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		c.t.Fatal(err)
	}
	return string(data)
}

func TestHelpAndUsage(t *testing.T) {
	c := newCLI(t, "")
	r := c.run("help")
	want(t, r, 0)
	contains(t, "help", r.stdout, "status", "plan", "apply", "resolve", "new", "Exit codes")
	r = c.run("help", "apply")
	want(t, r, 0)
	contains(t, "help apply", r.stdout, "-plan", "-database", "-detailed-exitcode", "Usage: waymark apply [flags]")
	want(t, c.run(), 2)
	r = c.run("frobnicate")
	want(t, r, 2)
	contains(t, "unknown command", r.stderr, `unknown command "frobnicate"`)
	r = c.run("status", "-no-such-flag")
	want(t, r, 2)
	contains(t, "bad flag", r.stderr, "-no-such-flag")
	r = c.run("plan", "-to", "x")
	want(t, r, 2)
	contains(t, "bad target", r.stderr, `-to "x": want a version number`)

	c.env = nil // no DATABASE_URL
	r = c.run("status", "-dir", filepath.Join(testsets.Dir(t), "sample"))
	want(t, r, 2)
	contains(t, "no database", r.stderr, "pass -database URL or set DATABASE_URL")
	r = c.run("status", "-json", "-dir", filepath.Join(testsets.Dir(t), "sample"), "-database", "postgres://127.0.0.1:1/none?connect_timeout=5")
	want(t, r, 1)
	var doc struct {
		Outcome  string `json:"outcome"`
		ExitCode int    `json:"exit_code"`
		Error    string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Outcome != "failed" || doc.ExitCode != 1 || doc.Error == "" {
		t.Errorf("-json error document = %+v (%v)\n%v", doc, err, r)
	}
}

func TestStatusPlanApply(t *testing.T) {
	c := newCLI(t, "sample")
	r := c.run("status")
	want(t, r, 0)
	contains(t, "status", r.stdout, "database at version 0, files up to 4: 4 pending", "users_email_index", "migrations/v003_users_email_index.up.sql")
	want(t, c.run("status", "-detailed-exitcode"), 4)
	if h := c.history(); h != nil {
		t.Fatalf("status wrote the history: %v", h)
	}

	r = c.run("plan", "-to", "2")
	want(t, r, 0)
	contains(t, "plan", r.stdout, "plan: up from 0 to 2 (2 steps)")
	want(t, c.run("plan", "-detailed-exitcode"), 4)

	r = c.run("apply", "-to", "2", "-detailed-exitcode")
	want(t, r, 4)
	contains(t, "apply", r.stdout, "applied: up 1 create_users", "done: up from 0 to 2 (2 steps)")
	r = c.run("apply", "-json")
	want(t, r, 0)
	var doc struct {
		Outcome string `json:"outcome"`
		From    int64  `json:"from"`
		To      int64  `json:"to"`
		Steps   []struct {
			Version  int64  `json:"version"`
			Duration string `json:"duration"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%v", err, r)
	}
	if doc.Outcome != "changed" || doc.From != 2 || doc.To != 4 || len(doc.Steps) != 2 || doc.Steps[0].Version != 3 || doc.Steps[0].Duration == "" {
		t.Errorf("apply -json = %+v", doc)
	}
	r = c.run("apply", "-detailed-exitcode")
	want(t, r, 0)
	contains(t, "apply", r.stdout, "nothing to do: the database is at version 4")
	want(t, c.run("plan", "-detailed-exitcode"), 0)
	want(t, c.run("status", "-detailed-exitcode"), 0)

	r = c.run("status", "-json")
	want(t, r, 0)
	var st struct {
		Current  int64 `json:"current"`
		Versions []struct {
			State     string `json:"state"`
			AppliedAt string `json:"applied_at"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("%v\n%v", err, r)
	}
	if st.Current != 4 || len(st.Versions) != 4 || st.Versions[3].State != "applied" || st.Versions[3].AppliedAt == "" {
		t.Errorf("status -json = %+v", st)
	}

	r = c.run("plan", "-down-to", "0", "-o", "down.json")
	want(t, r, 0)
	r = c.run("apply", "-plan", "down.json")
	want(t, r, 0)
	contains(t, "apply down", r.stdout, "done: down from 4 to 0 (4 steps)")
	if h := c.history(); len(h) != 0 {
		t.Errorf("history after going down: %v", h)
	}
}

// TestCIRecipe runs the CI recipe of docs/ci.md, cmd/waymark/ci.sh: plan and
// review; a migration file edited before the apply job is refused; the
// restored file applies cleanly; a second apply of the same plan is stale.
func TestCIRecipe(t *testing.T) {
	script, err := filepath.Abs("ci.sh")
	if err != nil {
		t.Fatal(err)
	}
	c := newCLI(t, "sample")
	c.env = append(c.env, "WAYMARK_PLAN_KEY=ci-secret-0123456789abcdef")

	r := c.exec("bash", script, "plan")
	want(t, r, 0)
	review := c.read("plan.txt")
	contains(t, "plan.txt", review,
		"plan: up from 0 to 4 (4 steps)",
		"step 3 of 4: up 3 users_email_index, NO TRANSACTION",
		"  3 | CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);",
		"note    text DEFAULT 'n/a; paid'")
	contains(t, "plan.md", c.read("plan.md"), "```\nplan: up from 0 to 4")
	contains(t, "plan.json", c.read("plan.json"), `"signature": "hmac-sha256:`, `CHECK (total >= 0)`)

	// Someone edits a migration after the review.
	orig := c.read("migrations/v004_orders.up.sql")
	c.write("migrations/v004_orders.up.sql", strings.Replace(orig, "numeric(12, 2)", "numeric(14, 2)", 1))
	r = c.exec("bash", script, "apply")
	want(t, r, 3)
	contains(t, "refusal", r.stderr, "migrations/v004_orders.up.sql", "file changed since the plan was made", "waymark plan")
	if h := c.history(); h != nil {
		t.Fatalf("a refused apply wrote the history: %v", h)
	}

	// Someone edits the saved plan itself, checksum recomputed: the
	// signature tells.
	c.write("migrations/v004_orders.up.sql", orig)
	saved := c.read("plan.json")
	c.write("plan.json", strings.Replace(saved, `"from": 0`, `"from": 1`, 1))
	r = c.exec("bash", script, "apply")
	want(t, r, 3)
	contains(t, "signature", r.stderr, "plan signature does not verify")
	c.write("plan.json", saved)

	r = c.exec("bash", script, "apply")
	want(t, r, 0)
	contains(t, "apply", r.stdout, "done: up from 0 to 4 (4 steps)")
	if diff := strings.Join(c.history(), " "); diff != "1 2 3 4" {
		t.Errorf("history = %s", diff)
	}

	// The same plan again: the database has moved on.
	r = c.exec("bash", script, "apply")
	want(t, r, 3)
	contains(t, "stale", r.stderr, "stale plan", "1 added", "4 added")
}

// TestIncident: a CREATE UNIQUE INDEX CONCURRENTLY fails on duplicates and
// leaves its version dirty; the on-call engineer repairs and resolves it
// with the command, no Go program needed.
func TestIncident(t *testing.T) {
	c := newCLI(t, "")
	c.write("v1_users.up.sql", "CREATE TABLE users (id int, email text);\nINSERT INTO users VALUES (1, 'a@example.com'), (2, 'a@example.com');\n")
	c.write("v2_email_key.up.sql", "-- waymark:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n")
	if err := os.Mkdir(filepath.Join(c.dir, "migrations"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"v1_users.up.sql", "v2_email_key.up.sql"} {
		if err := os.Rename(filepath.Join(c.dir, f), filepath.Join(c.dir, "migrations", f)); err != nil {
			t.Fatal(err)
		}
	}
	r := c.run("apply")
	want(t, r, 1)
	contains(t, "failure", r.stderr, "migrations/v2_email_key.up.sql:2:1:", "23505", "left dirty",
		"hint: version 2 is dirty", "'waymark resolve 2 applied'", "'waymark resolve 2 not-applied'")
	contains(t, "failure", r.stdout, "applied: up 1 users", "stopped after 1 of 2 steps")

	r = c.run("status", "-detailed-exitcode")
	want(t, r, 3)
	contains(t, "status", r.stdout, "2        dirty", "plans are refused", "hint: version 2 is dirty")
	r = c.run("apply")
	want(t, r, 3)
	contains(t, "refused apply", r.stderr, "dirty version", "waymark resolve 2 not-applied")

	// The repair: drop the invalid index, remove the duplicate, resolve.
	if _, err := c.pool().Exec(context.Background(), "DROP INDEX users_email_key; DELETE FROM users WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	want(t, c.run("resolve", "1", "applied"), 3) // not dirty
	r = c.run("resolve", "2", "not-applied", "-json")
	want(t, r, 0)
	contains(t, "resolve", r.stdout, `"version": 2`, `"now": "not-applied"`)
	r = c.run("apply")
	want(t, r, 0)
	if h := strings.Join(c.history(), " "); h != "1 2" {
		t.Errorf("history = %s", h)
	}
	want(t, c.run("resolve", "2", "maybe"), 2)
}

// TestRollingDeploy: a newer release migrated; the old binary's apply (as
// at boot) succeeds with a warning, and its status shows the newer version.
func TestRollingDeploy(t *testing.T) {
	c := newCLI(t, "sample")
	c.write("migrations/v005_payments.up.sql", "CREATE TABLE payments (id int);\n")
	want(t, c.run("apply"), 0)
	if err := os.Remove(filepath.Join(c.dir, "migrations/v005_payments.up.sql")); err != nil {
		t.Fatal(err)
	}
	r := c.run("apply")
	want(t, r, 0)
	contains(t, "old apply", r.stdout, "nothing to do: the database is at version 5, ahead of these migrations (up to 4)")
	contains(t, "old apply", r.stderr, "level=WARN", "ahead")
	r = c.run("status")
	want(t, r, 0)
	contains(t, "status", r.stdout, "5        missing", "source ends at 4")
	r = c.run("plan", "-to", "4")
	want(t, r, 3)
}

func TestNew(t *testing.T) {
	c := newCLI(t, "sample")
	r := c.run("new", "add phone")
	want(t, r, 0)
	contains(t, "new", r.stdout, "created migrations/v005_add_phone.up.sql", "created migrations/v005_add_phone.down.sql")
	contains(t, "up file", c.read("migrations/v005_add_phone.up.sql"), "waymark:no-transaction")
	// Until it has SQL, the set refuses to load: a new file cannot be
	// applied empty by mistake.
	r = c.run("status")
	want(t, r, 1)
	contains(t, "status", r.stdout, "v005_add_phone.up.sql: up script has no statements")
	r = c.run("new", "-json", "second")
	want(t, r, 0)
	contains(t, "new -json", r.stdout, `"up": "migrations/v006_second.up.sql"`)
	c.write("migrations/v005_add_phone.up.sql", "ALTER TABLE users ADD COLUMN phone text;\n")
	c.write("migrations/v006_second.up.sql", "SELECT 1;\n")
	if _, err := source.FromDir(filepath.Join(c.dir, "migrations")); err != nil {
		t.Errorf("the new files do not load once filled in: %v", err)
	}
	want(t, c.run("new", "bad/name"), 2)
}

// TestProgressOnTerminal runs apply under a pseudo-terminal (script(1)):
// progress lines appear, and never with -json nor without a terminal.
func TestProgressOnTerminal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("script(1) options differ outside util-linux")
	}
	scriptCmd, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script(1) from util-linux is needed to run under a terminal: %v", err)
	}
	c := newCLI(t, "sample")
	r := c.exec(scriptCmd, "-qec", waymark(t)+" apply -to 2", "/dev/null")
	want(t, r, 0)
	contains(t, "terminal", r.stdout, "[1/2] up 1 create_users ...", "[2/2] up 2 add_email", " ok ")
	r = c.exec(scriptCmd, "-qec", waymark(t)+" apply -json", "/dev/null")
	want(t, r, 0)
	if strings.Contains(r.stdout, "[1/2]") {
		t.Errorf("progress in -json mode:\n%s", r.stdout)
	}
	want(t, c.run("apply", "-down-to", "0"), 0)
	r = c.run("apply")
	want(t, r, 0)
	if strings.Contains(r.stdout, "[1/4]") {
		t.Errorf("progress without a terminal:\n%s", r.stdout)
	}
}

// TestDocsShowTheCIRecipe keeps the CI recipe of docs/ci.md the script
// that TestCIRecipe runs.
func TestDocsShowTheCIRecipe(t *testing.T) {
	script, err := os.ReadFile("ci.sh")
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(guide, []byte("```bash\n"+string(script)+"```\n")) {
		t.Error("docs/ci.md does not show cmd/waymark/ci.sh as it is, in a ```bash block")
	}
}
