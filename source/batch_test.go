package source_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/source"
)

// TestBatchDirective: a statement marked waymark:batch carries its options,
// and the script is resumable when every statement is a batch.
func TestBatchDirective(t *testing.T) {
	const sql = `-- waymark:no-transaction
-- waymark:batch pause=50ms lock-timeout=2s statement-timeout=1m
UPDATE big SET b = a
 WHERE id IN (SELECT id FROM big WHERE b IS NULL LIMIT 10000);
-- waymark:batch
DELETE FROM big_old WHERE id IN (SELECT id FROM big_old LIMIT 500);
`
	sc, err := source.ParseScript("v4_backfill.up.sql", []byte(sql), source.Up)
	if err != nil {
		t.Fatal(err)
	}
	want := []source.Batch{
		{Pause: 50 * time.Millisecond, LockTimeout: 2 * time.Second, StatementTimeout: time.Minute,
			Pos: source.Position{Path: "v4_backfill.up.sql", Line: 2, Column: 1, Offset: 26, Statement: 1}},
		{Pos: source.Position{Path: "v4_backfill.up.sql", Line: 5, Column: 1, Offset: 175, Statement: 2}},
	}
	if diff := cmp.Diff(want, sc.Batches); diff != "" {
		t.Errorf("Batches (-want +got):\n%s", diff)
	}
	if b, ok := sc.Batch(2); !ok || b != want[1] {
		t.Errorf("Batch(2) = %+v, %v", b, ok)
	}
	if !sc.Resumable() {
		t.Error("a script of batches only is not resumable")
	}
	mixed, err := source.ParseScript("v5.up.sql", []byte("-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY i ON big (b);\n-- waymark:batch\nUPDATE big SET c = 1 WHERE c IS NULL AND id < 10;\n"), source.Up)
	if err != nil {
		t.Fatal(err)
	}
	if mixed.Resumable() || len(mixed.Batches) != 1 || mixed.Batches[0].Pos.Statement != 2 {
		t.Errorf("mixed script: Resumable %v, Batches %+v; want false and statement 2", mixed.Resumable(), mixed.Batches)
	}
}

func TestBatchDirectiveErrors(t *testing.T) {
	const nt = "-- waymark:no-transaction\n"
	for _, bad := range []struct{ reason, sql, want string }{
		{"a transactional script cannot commit each batch", "-- waymark:batch\nUPDATE t SET a = 1 WHERE a IS NULL;",
			"v1.up.sql:1:1: invalid directive: waymark:batch: each batch commits on its own, so the script must run outside a transaction"},
		{"an option it does not know", nt + "-- waymark:batch size=10\nUPDATE t SET a = 1;", `waymark:batch: unknown option "size" (known: pause, lock-timeout, statement-timeout)`},
		{"a duration that is not one", nt + "-- waymark:batch pause=soon\nUPDATE t SET a = 1;", "waymark:batch: pause=soon: want a positive duration"},
		{"a zero timeout", nt + "-- waymark:batch lock-timeout=0s\nUPDATE t SET a = 1;", "lock-timeout=0s: want a positive duration"},
		{"an option twice", nt + "-- waymark:batch pause=1s pause=2s\nUPDATE t SET a = 1;", "pause given twice"},
		{"nothing to repeat", nt + "SELECT 1;\n-- waymark:batch\n", "v1.up.sql:3:1: invalid directive: waymark:batch: no statement follows it"},
		{"a statement that reports no rows", nt + "-- waymark:batch\nVACUUM t;", `not "VACUUM"`},
		{"two directives on one statement", nt + "-- waymark:batch\n-- waymark:batch pause=1s\nUPDATE t SET a = 1;", "a statement takes one batch directive"},
	} {
		_, err := source.ParseScript("v1.up.sql", []byte(bad.sql), source.Up)
		if !errors.Is(err, source.ErrDirective) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: ParseScript = %v, want ErrDirective saying %q", bad.reason, err, bad.want)
		}
	}
}
