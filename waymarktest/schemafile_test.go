package waymarktest_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/drift"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/waymarktest"
)

// TestSchemaFile writes the schema file as waymark schema does (on a
// scratch database of the test server), then checks that SchemaFile
// accepts it, and fails, naming the command, once a migration changes
// it, when it is missing, and for another target.
func TestSchemaFile(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"v1_a.up.sql": "CREATE TABLE a (id int PRIMARY KEY, name text NOT NULL DEFAULT '');",
		"v2_b.up.sql": "CREATE TABLE b (a_id int REFERENCES a); COMMENT ON TABLE b IS 'the b';",
	}
	set := testsets.Map(t, files)
	c := drift.New(&drift.Options{Scratch: waymarktest.Server(t)})
	defer c.Close()
	text, err := c.Schema(t.Context(), set, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "schema.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	r := &fatalRecorder{TB: t}
	waymarktest.SchemaFile(r, set, path, nil)
	if len(r.errors) > 0 || r.msg != "" {
		t.Fatalf("SchemaFile failed on the file waymark schema wrote: %q %s\n%s", r.errors, r.msg, text)
	}

	files["v3_c.up.sql"] = "ALTER TABLE a ADD COLUMN email text;"
	r = &fatalRecorder{TB: t}
	waymarktest.SchemaFile(r, testsets.Map(t, files), path, nil)
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], path+" is out of date; update it with: waymark schema -o "+path) ||
		!strings.HasSuffix(r.errors[0], "(-file +migrations):\n- -- The schema the migrations make at version 2, on PostgreSQL "+
			strconv.Itoa(waymarktest.ServerVersion(t)/10000)+".\n+ -- The schema the migrations make at version 3, on PostgreSQL "+
			strconv.Itoa(waymarktest.ServerVersion(t)/10000)+".\n+   column email text\n") {
		t.Errorf("after a new migration: %q; want one failure naming the command and the new column", r.errors)
	}

	r = &fatalRecorder{TB: t}
	waymarktest.SchemaFile(r, testsets.Map(t, files), path, &waymarktest.SchemaFileOptions{Target: plan.To(2)})
	if len(r.errors) > 0 {
		t.Errorf("at version 2 of the new set: %q; want no failure", r.errors)
	}

	missing := filepath.Join(t.TempDir(), "none.txt")
	r = &fatalRecorder{TB: t}
	waymarktest.SchemaFile(r, set, missing, &waymarktest.SchemaFileOptions{Command: "go run ./cmd/myservice migrate schema -o x"})
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "does not exist; write it with: go run ./cmd/myservice migrate schema -o x") {
		t.Errorf("missing file: %q", r.errors)
	}
}
