package hazardtest_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/hazard/hazardtest"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// recorder is a testing.TB that keeps what Check reports.
type recorder struct {
	testing.TB
	errors []string
	fatal  string
}

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// check runs Check on files, on a scratch database, with a recorder.
func check(t *testing.T, files map[string]string) *recorder {
	t.Helper()
	rec := &recorder{TB: t}
	set := testsets.Map(t, files)
	conn := pgtest.Conn(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		hazardtest.CheckConn(rec, conn, set, nil)
	}()
	<-done
	return rec
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		files  map[string]string
		errors []string // the start of each error, in order
		fatal  string
	}{
		{name: "safe", files: map[string]string{
			"v1_a.up.sql": "CREATE TABLE t (id int PRIMARY KEY, a int);\nCREATE INDEX ON t (a);",
			"v2_b.up.sql": "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY t_id_a ON t (id, a);",
			"v3_c.up.sql": "SET LOCAL lock_timeout = '2s';\nALTER TABLE t ADD COLUMN b int DEFAULT 0;",
		}},
		{name: "static hazards", files: map[string]string{
			"v1_a.up.sql": "CREATE TABLE t (id int PRIMARY KEY, a int);",
			"v2_b.up.sql": "SET LOCAL lock_timeout = '2s';\nCREATE INDEX ON t (a);\nALTER TABLE t ALTER COLUMN a TYPE bigint;",
		}, errors: []string{
			"m/v2_b.up.sql:2:1: create-index-not-concurrently: CREATE INDEX on existing table t blocks its writes",
			"m/v2_b.up.sql:3:15: alter-column-type: ALTER COLUMN a TYPE integer to bigint rewrites t",
		}},
		{name: "accepted", files: map[string]string{
			"v1_a.up.sql": "CREATE TABLE t (id int PRIMARY KEY, a int);",
			"v2_b.up.sql": "-- waymark:allow missing-lock-timeout \"t is new in this release\"\n-- waymark:allow alter-column-type \"t is new in this release\"\nALTER TABLE t ALTER COLUMN a TYPE bigint;",
		}},
		{name: "a measured hazard no rule predicted", files: map[string]string{
			"v1_a.up.sql": "CREATE TABLE t (id int PRIMARY KEY, a int);",
			"v2_b.up.sql": "DO $$ BEGIN EXECUTE 'CREATE INDEX ON t ' || '(a)'; END $$;",
		}, errors: []string{"m/v2_b.up.sql:1:1: measured-lock: measured: ShareLock on t (no lock predicted); no rule predicted it"}},
		{name: "a measured hazard accepted", files: map[string]string{
			"v1_a.up.sql": "CREATE TABLE t (id int PRIMARY KEY, a int);",
			"v2_b.up.sql": "-- waymark:allow measured-lock \"t is empty\"\nDO $$ BEGIN EXECUTE 'CREATE INDEX ON t ' || '(a)'; END $$;",
		}},
		{name: "an unknown rule", files: map[string]string{
			"v1_a.up.sql": "-- waymark:allow no-such-rule \"x\"\nCREATE TABLE t (id int);",
		}, fatal: "hazardtest: m/v1_a.up.sql:1:1: unknown hazard rule: waymark:allow no-such-rule: no such rule"},
		{name: "a failing migration", files: map[string]string{
			"v1_a.up.sql": "CREATE TABLE t (id int);\nALTER TABLE t ADD COLUMN b no_such_type;",
		}, fatal: "hazardtest: m/v1_a.up.sql:2:28: statement failed on the scratch database: ERROR: type \"no_such_type\" does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := check(t, tt.files)
			if !strings.HasPrefix(rec.fatal, tt.fatal) || (tt.fatal == "") != (rec.fatal == "") {
				t.Errorf("fatal %q, want %q", rec.fatal, tt.fatal)
			}
			if len(rec.errors) != len(tt.errors) {
				t.Fatalf("errors:\n%s\nwant %d", strings.Join(rec.errors, "\n"), len(tt.errors))
			}
			for i, want := range tt.errors {
				if !strings.HasPrefix(rec.errors[i], want) || !strings.Contains(rec.errors[i], "\tsafer: ") {
					t.Errorf("error %d:\n%s\nwant it to start with\n%s", i, rec.errors[i], want)
				}
			}
		})
	}
}

// Check gets its own scratch database.
func TestCheckOwnDatabase(t *testing.T) {
	rec := &recorder{TB: t}
	set := testsets.Map(t, map[string]string{
		"v1_a.up.sql": "CREATE TABLE t (id int PRIMARY KEY, a int);",
		"v2_b.up.sql": "CREATE INDEX t_a ON t (a);",
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		hazardtest.Check(rec, set, nil)
	}()
	<-done
	if rec.fatal != "" || len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "create-index-not-concurrently") {
		t.Errorf("Check = errors %q, fatal %q; want the one blocking index", rec.errors, rec.fatal)
	}
}

// TestPrerequisites: a set that alters a table it does not make is
// measured after the prerequisites script makes it, and the rules know
// the table existed before the set.
func TestPrerequisites(t *testing.T) {
	t.Parallel()
	files := map[string]string{"v1_adopt.up.sql": "SET LOCAL lock_timeout = '5s';\nCREATE INDEX schema_migrations_version_idx ON schema_migrations (version);"}
	rec := &recorder{TB: t}
	set := testsets.Map(t, files)
	conn := pgtest.Conn(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		hazardtest.CheckConn(rec, conn, set, &hazardtest.Options{Prerequisites: "CREATE TABLE schema_migrations (version bigint NOT NULL, dirty boolean NOT NULL);"})
	}()
	<-done
	if rec.fatal != "" || len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "create-index-not-concurrently") {
		t.Errorf("fatal %q, errors %q: want one create-index-not-concurrently", rec.fatal, rec.errors)
	}

	rec = check(t, files) // without it, the first version fails
	if !strings.Contains(rec.fatal, "schema_migrations") {
		t.Errorf("without the prerequisites: fatal %q", rec.fatal)
	}
}
