package waymarktest_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/waymarktest"
)

// TestRoundTripGoodSets runs the check on the repository's good sets,
// the demo's among them: every down script there undoes its up script.
func TestRoundTripGoodSets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		set                   string
		checked, irreversible []int64
	}{
		{"sample", []int64{1, 2, 3, 4}, nil},
		{"mixed", []int64{1, 2, 3, 8}, []int64{5}},
		{"gaps", []int64{1, 5, 20230101120000}, nil},
		{"unsorted", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, nil},
		{"irreversible", []int64{1, 3}, []int64{2}},
		{"notx", []int64{1, 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			t.Parallel()
			rep := waymarktest.RoundTrip(t, testsets.Load(t, tt.set), nil)
			want := &waymarktest.Report{Checked: tt.checked, Irreversible: tt.irreversible}
			if diff := cmp.Diff(want, rep); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// base is version 1 of every set of TestRoundTripCatches.
const base = `CREATE TABLE users (id bigint PRIMARY KEY, email text, score int);
DO $$ BEGIN CREATE ROLE waymarktest_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;`

// TestRoundTripCatches gives the check version 2 scripts whose down script
// forgets one thing its up script did, and requires the failure to name
// the down script and show the thing; with a correct down script the same
// up script passes.
func TestRoundTripCatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		up        string
		badDown   string // forgets something
		goodDown  string
		wantInErr []string // in the failure message (the diff)
	}{
		{"index",
			"CREATE INDEX users_email_idx ON users (email);\nCREATE INDEX users_score_idx ON users (score);",
			"DROP INDEX users_score_idx;",
			"DROP INDEX users_score_idx; DROP INDEX users_email_idx;",
			[]string{"users_email_idx", "CREATE INDEX users_email_idx ON public.users USING btree (email)"}},
		{"column default",
			"ALTER TABLE users ALTER COLUMN score SET DEFAULT 0;",
			"SELECT 1;",
			"ALTER TABLE users ALTER COLUMN score DROP DEFAULT;",
			[]string{"Default:", `"0"`}},
		{"constraint",
			"ALTER TABLE users ADD CONSTRAINT users_score_positive CHECK (score > 0);",
			"SELECT 1;",
			"ALTER TABLE users DROP CONSTRAINT users_score_positive;",
			[]string{"users_score_positive", "CHECK ((score > 0))"}},
		{"type",
			"CREATE TYPE mood AS ENUM ('sad', 'happy');\nCREATE TABLE moods (m mood);",
			"DROP TABLE moods;",
			"DROP TABLE moods; DROP TYPE mood;",
			[]string{`Name:`, `"mood"`, `"enum"`}},
		{"function",
			"CREATE FUNCTION double(x int) RETURNS int LANGUAGE sql AS 'SELECT x * 2';",
			"SELECT 1;",
			"DROP FUNCTION double(int);",
			[]string{`"double"`, "CREATE OR REPLACE FUNCTION public.double(x integer)"}},
		{"trigger",
			"CREATE TRIGGER users_same BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();",
			"SELECT 1;",
			"DROP TRIGGER users_same ON users;",
			[]string{"users_same", "CREATE TRIGGER users_same BEFORE UPDATE ON public.users"}},
		{"grant",
			"GRANT SELECT, UPDATE ON users TO waymarktest_reader;",
			"REVOKE UPDATE ON users FROM waymarktest_reader;",
			"REVOKE SELECT, UPDATE ON users FROM waymarktest_reader;",
			[]string{"waymarktest_reader=r/"}},
		{"column grant",
			"GRANT UPDATE (email) ON users TO waymarktest_reader;",
			"SELECT 1;",
			"REVOKE UPDATE (email) ON users FROM waymarktest_reader;",
			[]string{"waymarktest_reader=w/"}},
		{"column",
			"ALTER TABLE users ADD COLUMN nick text NOT NULL DEFAULT '';",
			"ALTER TABLE users ALTER COLUMN nick DROP NOT NULL;",
			"ALTER TABLE users DROP COLUMN nick;",
			[]string{`"nick"`}},
		{"nullability",
			"ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
			"SELECT 1;",
			"ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
			[]string{"NotNull"}},
		{"comment",
			"COMMENT ON COLUMN users.email IS 'login';",
			"SELECT 1;",
			"COMMENT ON COLUMN users.email IS NULL;",
			[]string{`"login"`}},
		{"policy",
			"ALTER TABLE users ENABLE ROW LEVEL SECURITY;\nCREATE POLICY own ON users USING (id > 0);",
			"DROP POLICY own ON users;",
			"DROP POLICY own ON users; ALTER TABLE users DISABLE ROW LEVEL SECURITY;",
			[]string{"RowSecurity"}},
		{"view",
			"CREATE VIEW emails AS SELECT email FROM users;",
			"SELECT 1;",
			"DROP VIEW emails;",
			[]string{`"emails"`, "FROM public.users"}},
		{"sequence",
			"CREATE SEQUENCE tickets START 100;",
			"SELECT 1;",
			"DROP SEQUENCE tickets;",
			[]string{`"tickets"`}},
		{"schema",
			"CREATE SCHEMA audit;",
			"SELECT 1;",
			"DROP SCHEMA audit;",
			[]string{`"audit"`}},
		{"enum value",
			"CREATE TYPE state AS ENUM ('new');\nALTER TYPE state ADD VALUE 'old';",
			"SELECT 1;",
			"DROP TYPE state;",
			[]string{`"new"`, `"old"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, good := range []bool{false, true} {
				down := tt.badDown
				if good {
					down = tt.goodDown
				}
				set := testsets.Map(t, map[string]string{
					"v1_base.up.sql":   base,
					"v1_base.down.sql": "DROP TABLE users;",
					"v2_x.up.sql":      tt.up,
					"v2_x.down.sql":    down,
				})
				rep, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), set, nil)
				if good {
					if err != nil {
						t.Fatalf("with a correct down script: %v", err)
					}
					if diff := cmp.Diff([]int64{1, 2}, rep.Checked); diff != "" {
						t.Errorf("Checked (-want +got):\n%s", diff)
					}
					continue
				}
				var rtErr *waymarktest.RoundTripError
				if !errors.As(err, &rtErr) || !errors.Is(err, waymarktest.ErrDownIncomplete) {
					t.Fatalf("err = %v; want a *RoundTripError for ErrDownIncomplete", err)
				}
				if rtErr.Version != 2 || rtErr.Down != "m/v2_x.down.sql" || rtErr.Up != "m/v2_x.up.sql" || rtErr.Step != "down" {
					t.Errorf("error names version %d, step %q, scripts %q and %q; want 2, down, m/v2_x.up.sql, m/v2_x.down.sql",
						rtErr.Version, rtErr.Step, rtErr.Up, rtErr.Down)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "m/v2_x.down.sql: down script does not undo m/v2_x.up.sql") {
					t.Errorf("message does not start with the down script's path:\n%s", msg)
				}
				for _, want := range tt.wantInErr {
					if !strings.Contains(msg, want) {
						t.Errorf("message does not show %q:\n%s", want, msg)
					}
				}
				if diff := cmp.Diff([]int64{1}, rep.Checked); diff != "" {
					t.Errorf("Checked (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// fatalRecorder is a testing.TB that records the first failure and ends
// the goroutine there, as Fatal does, or collects Errorf's messages.
type fatalRecorder struct {
	testing.TB
	msg    string
	errors []string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *fatalRecorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestRoundTripFailsTheTest checks that RoundTrip reports the error
// through the test, and that the database is kept for a look.
func TestRoundTripFailsTheTest(t *testing.T) {
	t.Parallel()
	set := testsets.Map(t, map[string]string{
		"v1_a.up.sql":   "CREATE TABLE a (id int); CREATE INDEX a_id ON a (id);",
		"v1_a.down.sql": "DROP INDEX a_id;",
	})
	r := &fatalRecorder{TB: t}
	rep := waymarktest.RoundTrip(r, set, nil)
	if len(r.errors) != 1 || !strings.HasPrefix(r.errors[0], "m/v1_a.down.sql: down script does not undo m/v1_a.up.sql") {
		t.Errorf("RoundTrip reported %q; want one error naming m/v1_a.down.sql", r.errors)
	}
	if len(rep.Checked) != 0 {
		t.Errorf("Checked = %v; want none", rep.Checked)
	}
}

// TestUpNotRepeatable has an up script whose result depends on rows its
// down script leaves behind: the schema is the same after the down, but
// the second up makes an index the first did not.
func TestUpNotRepeatable(t *testing.T) {
	t.Parallel()
	set := testsets.Map(t, map[string]string{
		"v1_runs.up.sql":   "CREATE TABLE runs (n int);",
		"v1_runs.down.sql": "DROP TABLE runs;",
		"v2_t.up.sql": `INSERT INTO runs VALUES (1);
CREATE TABLE t (id int);
DO $$ BEGIN IF (SELECT count(*) FROM runs) > 1 THEN CREATE INDEX t_id ON t (id); END IF; END $$;`,
		"v2_t.down.sql": "DROP TABLE t;",
	})
	_, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), set, nil)
	var rtErr *waymarktest.RoundTripError
	if !errors.As(err, &rtErr) || !errors.Is(err, waymarktest.ErrUpNotRepeatable) || rtErr.Version != 2 || rtErr.Step != "up again" {
		t.Fatalf("err = %v; want ErrUpNotRepeatable for version 2", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "m/v2_t.up.sql: applied again after m/v2_t.down.sql") || !strings.Contains(msg, "t_id") {
		t.Errorf("message does not name the up script and show the index:\n%s", msg)
	}
}

// TestDataLost has a down script that recreates its table instead of
// altering it: the schema is right, the rows are gone. Only a Seed shows
// it.
func TestDataLost(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"v1_users.up.sql":   "CREATE TABLE users (id int PRIMARY KEY, name text);",
		"v1_users.down.sql": "DROP TABLE users;",
		"v2_nick.up.sql":    "ALTER TABLE users ADD COLUMN nick text;",
		"v2_nick.down.sql":  "DROP TABLE users; CREATE TABLE users (id int PRIMARY KEY, name text);",
	}
	seeded := map[int64]bool{}
	seed := func(ctx context.Context, db *pgxpool.Pool, version int64) error {
		seeded[version] = true
		_, err := db.Exec(ctx, "INSERT INTO users (id, name) VALUES ($1, 'x')", version)
		return err
	}
	opts := &waymarktest.RoundTripOptions{Seed: seed}
	if _, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), testsets.Map(t, files), nil); err != nil {
		t.Fatalf("without Seed: %v", err)
	}
	_, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), testsets.Map(t, files), opts)
	var rtErr *waymarktest.RoundTripError
	if !errors.As(err, &rtErr) || !errors.Is(err, waymarktest.ErrDataLost) || rtErr.Version != 2 {
		t.Fatalf("err = %v; want ErrDataLost for version 2", err)
	}
	want := "m/v2_nick.down.sql: down script loses rows:\n  public.users: 0 rows after the down script; want 1 (0 before version 2, 1 added by Seed)\n"
	if err.Error() != want {
		t.Errorf("message:\n%s\nwant:\n%s", err, want)
	}
	// Version 1's row went with its down script, which dropped the table
	// (so the version is still checked, with nothing to lose); version 2's
	// was lost by its own.
	if !seeded[1] || !seeded[2] {
		t.Errorf("Seed ran for %v; want versions 1 and 2", seeded)
	}

	files["v2_nick.down.sql"] = "ALTER TABLE users DROP COLUMN nick;"
	rep, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), testsets.Map(t, files), opts)
	if err != nil || len(rep.Checked) != 2 {
		t.Errorf("with a down script that keeps the rows: %v, %+v", err, rep)
	}
}

// TestScriptFails requires a failing script to be reported with its
// position and the step.
func TestScriptFails(t *testing.T) {
	t.Parallel()
	_, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), testsets.Load(t, "four"), nil)
	var stepErr *execute.StepError
	var rtErr *waymarktest.RoundTripError
	if !errors.As(err, &rtErr) || !errors.As(err, &stepErr) || rtErr.Version != 2 || rtErr.Step != "up" {
		t.Fatalf("err = %v; want a RoundTripError wrapping an execute.StepError for version 2", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "waymarktest: round trip of version 2: up: four/v2_two.up.sql:3:") {
		t.Errorf("message %q does not name the step and the file's position", msg)
	}

	set := testsets.Map(t, map[string]string{
		"v1_a.up.sql":   "CREATE TABLE a (id int);",
		"v1_a.down.sql": "DROP TABLE nope;",
	})
	_, err = waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), set, nil)
	if !errors.As(err, &rtErr) || rtErr.Step != "down" || !strings.Contains(err.Error(), "m/v1_a.down.sql:1:") {
		t.Errorf("err = %v; want the down step of version 1 failing at m/v1_a.down.sql:1", err)
	}
}

// TestRoundTripHistoryOptions runs the demo set with its history in a
// schema of its own, which waymark creates with the first version, and
// with a lease for the lock, whose table waymark creates too: the check
// must not take them for something version 1's down script forgot.
func TestRoundTripHistoryOptions(t *testing.T) {
	t.Parallel()
	for _, b := range []*pgxbackend.Options{
		{Schema: "meta", Table: "migrations", AppKey: "shop"},
		{Lock: pgxbackend.LockLease},
		{Schema: "meta", Lock: pgxbackend.LockLease},
	} {
		rep := waymarktest.RoundTrip(t, testsets.Load(t, "sample"), &waymarktest.RoundTripOptions{Backend: b})
		if diff := cmp.Diff([]int64{1, 2, 3, 4}, rep.Checked); diff != "" {
			t.Errorf("Backend %+v: Checked (-want +got):\n%s", b, diff)
		}
	}
}

// With repeatable scripts, the versions are checked without them (a down
// script need not drop a view that no version of its own made), and the
// scripts are applied at the end, twice.
func TestRoundTripRepeatables(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"v1_users.up.sql":   "CREATE TABLE users (id int, active bool);",
		"v1_users.down.sql": "DROP TABLE users;",
		"v2_email.up.sql":   "ALTER TABLE users ADD COLUMN email text;",
		"v2_email.down.sql": "ALTER TABLE users DROP COLUMN email;",
		"r_a_fn.sql":        "CREATE OR REPLACE FUNCTION is_active(u users) RETURNS bool LANGUAGE sql AS $$ SELECT u.active $$;",
		"r_b_view.sql":      "CREATE OR REPLACE VIEW active_emails AS SELECT email FROM users u WHERE is_active(u);",
	}
	rep := waymarktest.RoundTrip(t, testsets.Map(t, files), nil)
	want := &waymarktest.Report{Checked: []int64{1, 2}, Repeatables: []string{"a_fn", "b_view"}}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	// A repeatable script that cannot run twice is caught.
	files["r_c_once.sql"] = "CREATE OR REPLACE VIEW counted AS SELECT 1 AS n;\nDO $$ BEGIN IF EXISTS (SELECT FROM pg_class WHERE relname = 'c_marker') THEN CREATE TABLE c_second (); ELSE CREATE TABLE c_marker (); END IF; END $$;"
	_, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), testsets.Map(t, files), nil)
	var rtErr *waymarktest.RoundTripError
	if !errors.As(err, &rtErr) || !errors.Is(err, waymarktest.ErrUpNotRepeatable) || rtErr.Step != "repeatable again" || !strings.Contains(err.Error(), "c_second") {
		t.Errorf("err = %v; want ErrUpNotRepeatable for the repeatable scripts, showing c_second", err)
	}
}
