package waymarktest_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/schema"
	"github.com/waymarkdb/waymark/source"
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

// TestDataChanged has version 2 change the type of users.email and a down
// script that drops and adds the column again instead of changing the
// type back: the schema is the same, the row count too, and every email
// is NULL. The check names the table, the column and a row; a down script
// that changes the type back passes, and so does a type change whose
// values read differently in the two types (numeric(10,2) back to
// integer).
func TestDataChanged(t *testing.T) {
	t.Parallel()
	seed := func(ctx context.Context, db *pgxpool.Pool, version int64) error {
		_, err := db.Exec(ctx, "INSERT INTO users (email, score) VALUES ($1, $2::int), ($3, $4::int)",
			fmt.Sprintf("a%d@example.com", version), version, fmt.Sprintf("b%d@example.com", version), 10*version)
		if err != nil {
			return err
		}
		_, err = db.Exec(ctx, "INSERT INTO notes VALUES ($1)", fmt.Sprint("note ", version))
		return err
	}
	opts := &waymarktest.RoundTripOptions{Seed: seed}
	v1 := "CREATE TABLE users (id bigserial PRIMARY KEY, score int, email text);\nCREATE TABLE notes (body text);"
	tests := []struct {
		name     string
		up, down string
		want     string // the error's message; "" for none
	}{
		{"column dropped and added again",
			"ALTER TABLE users ALTER COLUMN email TYPE varchar(320);",
			"ALTER TABLE users DROP COLUMN email; ALTER TABLE users ADD COLUMN email text;",
			""},
		{"type changed back", "ALTER TABLE users ALTER COLUMN email TYPE varchar(320);",
			"ALTER TABLE users ALTER COLUMN email TYPE text;", ""},
		{"numeric and back", "ALTER TABLE users ALTER COLUMN score TYPE numeric(10,2);",
			"ALTER TABLE users ALTER COLUMN score TYPE int;", ""},
		{"values rewritten", "ALTER TABLE users ADD COLUMN nick text;",
			"ALTER TABLE users DROP COLUMN nick; UPDATE users SET score = 0 WHERE email LIKE 'b%';", ""},
		{"table without a key", "ALTER TABLE notes ADD COLUMN author text;",
			"ALTER TABLE notes DROP COLUMN author; UPDATE notes SET body = upper(body);", ""},
		{"rows replaced", "ALTER TABLE users ADD COLUMN nick text;",
			"ALTER TABLE users DROP COLUMN nick; DELETE FROM users; INSERT INTO users (score, email) VALUES (2, 'a2@example.com'), (20, 'b2@example.com');", ""},
		{"a value that does not cast back",
			"ALTER TABLE users ALTER COLUMN score TYPE text;\nINSERT INTO users (score, email) VALUES ('many', 'c@example.com');",
			"ALTER TABLE users ALTER COLUMN score TYPE int USING CASE WHEN score ~ '^[0-9]+$' THEN score::int END;", ""},
	}
	tests[6].want = "m/v2_x.down.sql: down script changes the values of columns that were there before m/v2_x.up.sql:\n" +
		"  public.users.score: 1 of 3 rows have another value after the down script; e.g. the row (id) = (\"1\"): \"many\" before it, NULL after\n"
	tests[5].want = "m/v2_x.down.sql: down script changes the values of columns that were there before m/v2_x.up.sql:\n" +
		"  public.users: 2 of 2 rows are not there after the down script, by (id); e.g. (id) = (\"1\")\n"
	tests[0].want = "m/v2_x.down.sql: down script changes the values of columns that were there before m/v2_x.up.sql:\n" +
		"  public.users.email: 2 of 2 rows have another value after the down script; e.g. the row (id) = (\"1\"): \"a2@example.com\" before it, NULL after\n"
	tests[3].want = "m/v2_x.down.sql: down script changes the values of columns that were there before m/v2_x.up.sql:\n" +
		"  public.users.score: 1 of 2 rows have another value after the down script; e.g. the row (id) = (\"2\"): \"20\" before it, \"0\" after\n"
	tests[4].want = "m/v2_x.down.sql: down script changes the values of columns that were there before m/v2_x.up.sql:\n" +
		"  public.notes.body: 1 of 1 values are not there after the down script; e.g. \"note 2\" of the row (body) = (\"note 2\")\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			set := testsets.Map(t, map[string]string{
				"v1_base.up.sql":   v1,
				"v1_base.down.sql": "DROP TABLE users, notes;",
				"v2_x.up.sql":      tt.up,
				"v2_x.down.sql":    tt.down,
			})
			_, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), set, opts)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckRoundTrip: %v", err)
				}
				return
			}
			var rtErr *waymarktest.RoundTripError
			if !errors.As(err, &rtErr) || !errors.Is(err, waymarktest.ErrDataChanged) || rtErr.Version != 2 || rtErr.Step != "down" {
				t.Fatalf("err = %v; want ErrDataChanged for version 2", err)
			}
			if err.Error() != tt.want {
				t.Errorf("message:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// TestRoundTripEveryFailure gives the check a set whose versions 2 and 4
// fail and requires both in one run, each with its version and script,
// unless StopAtFirst asks to stop at version 2. In the first set version
// 2's down script forgets a comment, which the up script sets again, so
// the check goes on on the same database; in the second it forgets an
// index, which the up script cannot create again: CheckRoundTrip stops
// there, RoundTrip goes on with a new database at version 2.
func TestRoundTripEveryFailure(t *testing.T) {
	t.Parallel()
	files := func(v2up, v2down string) map[string]string {
		return map[string]string{
			"v1_a.up.sql":   "CREATE TABLE a (id int, note text);",
			"v1_a.down.sql": "DROP TABLE a;",
			"v2_b.up.sql":   v2up,
			"v2_b.down.sql": v2down,
			"v3_c.up.sql":   "CREATE TABLE c (id int);",
			"v3_c.down.sql": "DROP TABLE c;",
			"v4_d.up.sql":   "CREATE TABLE d (id int);",
			"v4_d.down.sql": "DROP TABLE nope;",
			"v5_e.up.sql":   "CREATE TABLE e (id int);",
			"v5_e.down.sql": "DROP TABLE e;",
		}
	}
	comment := files("COMMENT ON TABLE a IS 'x';", "SELECT 1;")
	index := files("CREATE INDEX a_id ON a (id);", "SELECT 1;")
	type result struct {
		Report *waymarktest.Report
		Errors []string // version: step: file
	}
	summary := func(rep *waymarktest.Report, err error) result {
		r := result{Report: rep}
		var list waymarktest.RoundTripErrors
		if err != nil && !errors.As(err, &list) {
			t.Fatalf("err = %v (%T); want RoundTripErrors", err, err)
		}
		for _, e := range list {
			r.Errors = append(r.Errors, fmt.Sprintf("%d: %s: %s", e.Version, e.Step, e.Down))
		}
		return r
	}
	both := []string{"2: down: m/v2_b.down.sql", "4: down: m/v4_d.down.sql"}
	tests := []struct {
		name  string
		files map[string]string
		opts  *waymarktest.RoundTripOptions
		want  result
	}{
		{"every failure", comment, nil, result{
			&waymarktest.Report{Checked: []int64{1, 3, 5}, Failed: []int64{2, 4}}, both}},
		{"stop at the first", comment, &waymarktest.RoundTripOptions{StopAtFirst: true}, result{
			&waymarktest.Report{Checked: []int64{1}, Failed: []int64{2}, Unchecked: []int64{3, 4, 5}}, both[:1]}},
		{"cannot go on", index, nil, result{
			&waymarktest.Report{Checked: []int64{1}, Failed: []int64{2}, Unchecked: []int64{3, 4, 5}}, both[:1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), testsets.Map(t, tt.files), tt.opts)
			if diff := cmp.Diff(tt.want, summary(rep, err)); diff != "" {
				t.Errorf("CheckRoundTrip (-want +got):\n%s", diff)
			}
			if !errors.Is(err, waymarktest.ErrDownIncomplete) {
				t.Errorf("errors.Is(err, ErrDownIncomplete) = false for %v", err)
			}
			if len(tt.want.Errors) == 2 && !strings.HasPrefix(err.Error(), "waymarktest: 2 round trip failures:\nm/v2_b.down.sql: down script does not undo") {
				t.Errorf("message does not list the failures:\n%s", err)
			}
		})
	}
	t.Run("RoundTrip goes on", func(t *testing.T) {
		t.Parallel()
		r := &fatalRecorder{TB: t}
		rep := waymarktest.RoundTrip(r, testsets.Map(t, index), nil)
		want := &waymarktest.Report{Checked: []int64{1, 3, 5}, Failed: []int64{2, 4}}
		if diff := cmp.Diff(want, rep); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		if len(r.errors) != 2 || !strings.HasPrefix(r.errors[0], "m/v2_b.down.sql: down script does not undo m/v2_b.up.sql") ||
			!strings.HasPrefix(r.errors[1], "waymarktest: round trip of version 4: down: m/v4_d.down.sql:1:") {
			t.Errorf("RoundTrip reported %q; want the failures of versions 2 and 4", r.errors)
		}
	})
}

// TestColumnOrder has a down script that drops a column and adds it
// again, at the end of the table: when that is the only difference the
// failure is one line naming the table, both orders and the option that
// ignores it, and the up script applied again is not reported for the
// same moved column; with IgnoreColumnOrder it passes. With a Seed the
// emptied column is reported too.
func TestColumnOrder(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"v1_users.up.sql":   "CREATE TABLE users (id bigserial PRIMARY KEY, email text, score int);",
		"v1_users.down.sql": "DROP TABLE users;",
		"v2_email.up.sql":   "ALTER TABLE users ALTER COLUMN email TYPE varchar(320);",
		"v2_email.down.sql": "ALTER TABLE users DROP COLUMN email;\nALTER TABLE users ADD COLUMN email text;",
		"v3_name.up.sql":    "ALTER TABLE users ADD COLUMN name text;",
		"v3_name.down.sql":  "ALTER TABLE users DROP COLUMN name;",
	}
	oneLine := "m/v2_email.down.sql: down script leaves columns in another order, the only difference: " +
		"public.users (id, email, score -> id, score, email); PostgreSQL adds a column at the end of its table; " +
		"set RoundTripOptions.Schema.IgnoreColumnOrder to accept this"
	seed := func(ctx context.Context, db *pgxpool.Pool, version int64) error {
		_, err := db.Exec(ctx, "INSERT INTO users (email, score) VALUES ('a@example.com', 1)")
		return err
	}
	tests := []struct {
		name string
		opts *waymarktest.RoundTripOptions
		want []string // the messages
		rep  *waymarktest.Report
	}{
		{"default", nil, []string{oneLine}, &waymarktest.Report{Checked: []int64{1, 3}, Failed: []int64{2}}},
		{"ignored", &waymarktest.RoundTripOptions{Schema: &schema.Options{IgnoreColumnOrder: true}}, nil,
			&waymarktest.Report{Checked: []int64{1, 2, 3}}},
		{"seeded", &waymarktest.RoundTripOptions{Seed: seed}, []string{oneLine,
			"m/v2_email.down.sql: down script changes the values of columns that were there before m/v2_email.up.sql:\n" +
				"  public.users.email: 1 of 1 rows have another value after the down script; e.g. the row (id) = (\"1\"): \"a@example.com\" before it, NULL after\n"},
			&waymarktest.Report{Checked: []int64{1, 3}, Failed: []int64{2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), testsets.Map(t, files), tt.opts)
			var got []string
			var list waymarktest.RoundTripErrors
			if errors.As(err, &list) {
				for _, e := range list {
					got = append(got, e.Error())
				}
			} else if err != nil {
				t.Fatalf("err = %v (%T); want RoundTripErrors", err, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.rep, rep); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if tt.want != nil && !errors.Is(err, waymarktest.ErrDownIncomplete) {
				t.Errorf("errors.Is(err, ErrDownIncomplete) = false")
			}
		})
	}
}

// TestPrerequisites has a set whose first version alters a table another
// tool made: without a Prerequisites script that makes the table, its up
// script fails; with one, the round trip passes and the databases
// ConnString gives have the table, with or without a set. A script that
// fails is an error wrapping ErrPrerequisites and the server's error.
func TestPrerequisites(t *testing.T) {
	t.Parallel()
	const prereq = "CREATE TABLE legacy_migrations (version bigint);\nINSERT INTO legacy_migrations VALUES (7);"
	set := testsets.Map(t, map[string]string{
		"v1_by.up.sql":   "ALTER TABLE legacy_migrations ADD COLUMN migrated_by text;",
		"v1_by.down.sql": "ALTER TABLE legacy_migrations DROP COLUMN migrated_by;",
	})
	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		_, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), set, nil)
		var rtErr *waymarktest.RoundTripError
		if !errors.As(err, &rtErr) || rtErr.Step != "up" || !strings.Contains(err.Error(), `relation "legacy_migrations" does not exist`) {
			t.Errorf("without Prerequisites: err = %v; want version 1's up script failing", err)
		}
		rep := waymarktest.RoundTrip(t, set, &waymarktest.RoundTripOptions{Prerequisites: prereq})
		if diff := cmp.Diff(&waymarktest.Report{Checked: []int64{1}}, rep); diff != "" {
			t.Errorf("with Prerequisites (-want +got):\n%s", diff)
		}
	})
	t.Run("databases", func(t *testing.T) {
		t.Parallel()
		for _, s := range []*source.Set{set, nil} {
			pool := waymarktest.Pool(t, s, &waymarktest.Options{Prerequisites: prereq})
			var n int
			if err := pool.QueryRow(t.Context(), "SELECT version FROM legacy_migrations").Scan(&n); err != nil || n != 7 {
				t.Errorf("set %v: legacy_migrations: %d, %v; want the row of the script", s != nil, n, err)
			}
		}
	})
	t.Run("failing script", func(t *testing.T) {
		t.Parallel()
		const bad = "CREATE TABLE t (id int);\nSELECT nope FROM t;"
		_, err := waymarktest.CheckRoundTrip(t.Context(), waymarktest.Pool(t, nil, nil), set,
			&waymarktest.RoundTripOptions{Prerequisites: bad})
		var pgErr *pgconn.PgError
		if !errors.Is(err, waymarktest.ErrPrerequisites) || !errors.As(err, &pgErr) || pgErr.Code != "42703" {
			t.Fatalf("err = %v; want ErrPrerequisites wrapping the server's undefined_column", err)
		}
		if want := "waymarktest: round trip: prerequisites: prerequisites script failed: ERROR: column \"nope\" does not exist (SQLSTATE 42703)"; err.Error() != want {
			t.Errorf("message %q; want %q", err, want)
		}
		for _, s := range []*source.Set{set, nil} {
			r := &fatalRecorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				waymarktest.ConnString(r, s, &waymarktest.Options{Prerequisites: bad})
			}()
			<-done
			if !strings.Contains(r.msg, "Prerequisites: prerequisites script failed: ERROR: column \"nope\"") {
				t.Errorf("set %v: ConnString failed the test with %q; want the Prerequisites error", s != nil, r.msg)
			}
		}
	})
}
