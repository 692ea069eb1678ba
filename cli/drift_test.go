package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/drift"
	"github.com/waymarkdb/waymark/waymarktest"
)

// shopDir copies the drift package's shop set into a new directory and
// returns it.
func shopDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "migrations")
	if err := os.CopyFS(dir, os.DirFS("../drift/testdata/shop")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDriftCommand(t *testing.T) {
	dir := shopDir(t)
	set := waymarktest.Load(t, os.DirFS(dir), ".")
	url := waymarktest.ConnString(t, set, nil)
	scratch := waymarktest.Server(t)
	args := []string{"drift", "-dir", dir, "-database", url, "-scratch", scratch}

	code, out, errOut := run(t, nil, args...)
	if code != 0 || !strings.Contains(out, "no drift: the database matches its migrations at version 4") {
		t.Fatalf("clean database: exit %d, want 0\n%s%s", code, out, errOut)
	}

	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(t.Context(), "CREATE INDEX orders_status_idx ON orders (status); COMMENT ON COLUMN users.email IS 'login'"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, nil, args...)
	if code != 3 || !strings.Contains(out, "extra   index public.orders.orders_status_idx: CREATE INDEX orders_status_idx ON public.orders USING btree (status) (version 4)") ||
		!strings.Contains(out, `differs column public.users.email comment: expected (none), live login (version 1)`) {
		t.Errorf("drift: exit %d, want 3 naming the index and the comment\n%s%s", code, out, errOut)
	}

	code, out, _ = run(t, nil, append(args, "-json")...)
	var doc struct {
		ExitCode    int `json:"exit_code"`
		Version     int64
		Differences []drift.Difference
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("-json: %v\n%s", err, out)
	}
	if code != 3 || doc.ExitCode != 3 || doc.Version != 4 || len(doc.Differences) != 2 || doc.Differences[0].Name != "public.orders.orders_status_idx" {
		t.Errorf("-json: exit %d, document %+v", code, doc)
	}

	ignore := "index public.orders.orders_status_idx  made during the incident of May 3; kept\n" +
		"column public.users.email  the console sets this comment\n" +
		"view public.gone  an old rule\n"
	if err := os.WriteFile(filepath.Join(dir, drift.IgnoreFile), []byte(ignore), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, nil, args...)
	if code != 0 || !strings.Contains(out, "(2 ignored)") || !strings.Contains(out, "warning: ignore rule line 3: view public.gone (an old rule) matched nothing") {
		t.Errorf("with drift.ignore: exit %d, want 0 with 2 ignored and the unused rule\n%s%s", code, out, errOut)
	}

	if err := os.WriteFile(filepath.Join(dir, drift.IgnoreFile), []byte("tabel public.x typo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, nil, args...)
	if code != 1 || !strings.Contains(errOut, drift.IgnoreFile+`:1: unknown kind "tabel"`) {
		t.Errorf("bad drift.ignore: exit %d, want 1 naming the line\n%s", code, errOut)
	}
}

func TestDriftCommandDirtyHistory(t *testing.T) {
	dir := shopDir(t)
	set := waymarktest.Load(t, os.DirFS(dir), ".")
	url := waymarktest.ConnString(t, set, nil)
	pool, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(t.Context(), "UPDATE waymark_history SET dirty = 'up' WHERE version = 4"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, nil, "drift", "-dir", dir, "-database", url, "-scratch", waymarktest.Server(t))
	if code != 1 || !strings.Contains(errOut, "live history cannot be checked: dirty version: 4") {
		t.Errorf("dirty history: exit %d, want 1 naming version 4\n%s%s", code, out, errOut)
	}
}

func TestSchemaCommand(t *testing.T) {
	dir := shopDir(t)
	scratch := waymarktest.Server(t)
	file := filepath.Join(t.TempDir(), "schema.txt")
	code, out, errOut := run(t, nil, "schema", "-dir", dir, "-scratch", scratch, "-o", file)
	if code != 0 {
		t.Fatalf("schema: exit %d\n%s%s", code, out, errOut)
	}
	first, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(first)
	for _, want := range []string{
		"-- The schema the migrations make at version 4, on PostgreSQL ",
		"table public.users owner (migrator)\n",
		"  comment \"people who order\"\n",
		"  index orders_user_id_idx: CREATE INDEX orders_user_id_idx ON public.orders USING btree (user_id)\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("schema text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "waymark_history") {
		t.Errorf("schema text shows the history table:\n%s", text)
	}

	code, second, errOut := run(t, nil, "schema", "-dir", dir, "-scratch", scratch)
	if code != 0 || second != text {
		t.Errorf("a second run wrote other text (exit %d)\n%s", code, errOut)
	}

	code, at2, _ := run(t, nil, "schema", "-dir", dir, "-scratch", scratch, "-to", "2")
	if code != 0 || !strings.HasPrefix(at2, "-- The schema the migrations make at version 2,") || strings.Contains(at2, "touch") {
		t.Errorf("schema -to 2: exit %d\n%s", code, at2)
	}

	code, _, errOut = run(t, nil, "schema", "-dir", dir, "-to", "7")
	if code != 2 || !strings.Contains(errOut, "-to 7: no such version in the migrations (latest 4)") {
		t.Errorf("schema -to 7: exit %d, want 2\n%s", code, errOut)
	}
}

func TestFleetDriftCommand(t *testing.T) {
	dir := shopDir(t)
	set := waymarktest.Load(t, os.DirFS(dir), ".")
	clean, drifted := waymarktest.ConnString(t, set, nil), waymarktest.ConnString(t, set, nil)
	pool, err := pgxpool.New(t.Context(), drifted)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(t.Context(), "ALTER TABLE orders DISABLE TRIGGER orders_touch"); err != nil {
		t.Fatal(err)
	}
	targets := filepath.Join(t.TempDir(), "targets")
	if err := os.WriteFile(targets, []byte("clean "+clean+"\ndrifted "+drifted+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, nil, "fleet", "drift", "-dir", dir, "-targets", targets, "-scratch", waymarktest.Server(t))
	if code != 3 || !strings.Contains(out, "2 targets: 1 drifted, 1 without drift, 0 not checked (1 expected schema built") ||
		!strings.Contains(out, "drifted: drift: 1 difference") || !strings.Contains(out, "differs trigger public.orders.orders_touch enabled: expected origin, live disabled (version 3)") ||
		!strings.Contains(out, "clean: no drift at version 4") {
		t.Errorf("fleet drift: exit %d, want 3\n%s%s", code, out, errOut)
	}
	code, _, errOut = run(t, nil, "fleet", "drift", "-dir", dir, "-targets", targets, "-to", "2")
	if code != 2 || !strings.Contains(errOut, "-to and -down-to are for fleet plan and apply") {
		t.Errorf("fleet drift -to: exit %d, want 2\n%s", code, errOut)
	}
}
