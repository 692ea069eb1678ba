package cli_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/cli"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
)

// TestMountedRollbackWithOldBinary: the command mounted in an old binary
// (its embedded set lacks the newer release's version) plans and applies
// -down-to through the down script kept in the history.
func TestMountedRollbackWithOldBinary(t *testing.T) {
	url := pgtest.ConnString(t)
	oldFiles := map[string]string{
		"v1_a.up.sql":   "CREATE TABLE a (id int);\n",
		"v1_a.down.sql": "DROP TABLE a;\n",
	}
	newFiles := maps.Clone(oldFiles)
	newFiles["v2_b.up.sql"] = "CREATE TABLE b (id int);\n"
	newFiles["v2_b.down.sql"] = "DROP TABLE b;\n"
	next := &cli.Config{Name: "svc migrate", Set: testsets.Map(t, newFiles)}
	old := &cli.Config{Name: "svc migrate", Set: testsets.Map(t, oldFiles)}
	if code, out, errOut := run(t, next, "apply", "-database", url); code != 0 {
		t.Fatalf("new binary apply = %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := run(t, old, "plan", "-database", url, "-down-to", "1", "-review")
	if code != 0 || !strings.Contains(out, "history:v2_b.down.sql") || !strings.Contains(out, "FROM THE HISTORY") {
		t.Fatalf("old binary plan -down-to 1 = %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, old, "apply", "-database", url, "-down-to", "1")
	if code != 0 || !strings.Contains(out, "applied: down 2 b") {
		t.Fatalf("old binary apply -down-to 1 = %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, old, "status", "-database", url)
	if code != 0 || !strings.Contains(out, "database at version 1, files up to 1") {
		t.Errorf("status after the rollback = %d\n%s", code, out)
	}
}
