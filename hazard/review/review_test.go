package review_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/hazard/measure"
	"github.com/waymarkdb/waymark/hazard/review"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
	"github.com/waymarkdb/waymark/source"
)

// fixture is a plan of one step with its static check, for reviews built
// from hand-made measurements.
func fixture(t *testing.T, sql string) (*plan.Plan, *hazard.Report) {
	t.Helper()
	set := testsets.Map(t, map[string]string{
		"v1_base.up.sql": "CREATE TABLE orders (id int PRIMARY KEY, user_id int, note text);\nCREATE INDEX orders_note_idx ON orders (note);\nCREATE TABLE users (id int PRIMARY KEY);",
		"v2_case.up.sql": sql,
	})
	p, err := plan.Compute(set, plantest.Applied(set, 1), plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	static, err := hazard.CheckPlan(p, &hazard.Options{Set: set, LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p, static
}

// Relations of the hand-made measurements.
var (
	orders   = measure.Relation{OID: 100, Schema: "public", Name: "orders", Kind: "table", Visible: true}
	ordersPK = measure.Relation{OID: 101, Schema: "public", Name: "orders_pkey", Kind: "index", Visible: true, Table: 100, TableName: "orders"}
	noteIdx  = measure.Relation{OID: 102, Schema: "public", Name: "orders_note_idx", Kind: "index", Visible: true, Table: 100, TableName: "orders"}
	users    = measure.Relation{OID: 200, Schema: "public", Name: "users", Kind: "table", Visible: true}
)

func measured(p *plan.Plan, statements ...measure.Statement) *measure.Report {
	s := p.Steps[0]
	for i := range statements {
		statements[i].Pos = source.Position{Path: s.Path, Line: i + 1, Column: 1, Statement: i + 1}
	}
	return &measure.Report{ServerVersion: 150000, Server: "15.8", Steps: []measure.Step{{
		Version: s.Version, Name: s.Name, Path: s.Path, Direction: s.Direction,
		Existing: []measure.Relation{orders, ordersPK, noteIdx, users}, Statements: statements,
	}}}
}

func lock(m hazard.LockMode, r measure.Relation, since int) measure.Lock {
	return measure.Lock{Mode: m, Relation: r, Since: since}
}

// verdicts lists a statement's verdicts and unpredicted facts as text.
func verdicts(st review.Statement) []string {
	var out []string
	for _, v := range st.Verdicts {
		s := v.Status.String() + " " + v.Effect.String()
		if v.Detail != "" {
			s += " (" + v.Detail + ")"
		}
		out = append(out, s)
	}
	for _, f := range st.Unpredicted {
		s := "unpredicted " + f.String()
		if f.Hazard {
			s += " [hazard]"
		}
		out = append(out, s)
	}
	return out
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name   string
		sql    string
		facts  measure.Statement
		want   []string
		agrees bool
	}{
		{name: "confirmed", sql: "ALTER TABLE orders ADD COLUMN r float8 DEFAULT random();",
			facts: measure.Statement{ScansMeasured: true,
				Locks:     []measure.Lock{lock(hazard.AccessExclusive, orders, 1), lock(hazard.AccessExclusive, ordersPK, 1), lock(hazard.Share, orders, 1)},
				Rewritten: []measure.Relation{orders, ordersPK}, Scanned: []measure.Relation{orders}},
			want: []string{"confirmed AccessExclusiveLock on orders", "confirmed rewrites orders (orders, orders_pkey)", "confirmed scans orders"}, agrees: true},
		{name: "refuted: no rewrite, weaker lock", sql: "ALTER TABLE orders ADD COLUMN r float8 DEFAULT random();",
			facts: measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.ShareUpdateExclusive, orders, 1)}},
			want:  []string{"refuted AccessExclusiveLock on orders (measured ShareUpdateExclusiveLock)", "refuted rewrites orders (measured no rewrite)", "refuted scans orders (measured no sequential scan)"}},
		{name: "a lock on an index counts for its table", sql: "REINDEX INDEX orders_note_idx;",
			facts: measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.Share, orders, 1), lock(hazard.AccessExclusive, noteIdx, 1)},
				Rewritten: []measure.Relation{noteIdx}, Scanned: []measure.Relation{orders}},
			want: []string{"confirmed ShareLock on orders", "confirmed AccessExclusiveLock on orders_note_idx", "confirmed rewrites orders_note_idx (orders_note_idx)", "confirmed scans orders"}, agrees: true},
		{name: "a lock stronger than predicted", sql: "CREATE INDEX ON orders (user_id);",
			facts: measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.AccessExclusive, orders, 1)}, Scanned: []measure.Relation{orders}},
			want:  []string{"confirmed ShareLock on orders", "confirmed scans orders", "unpredicted AccessExclusiveLock on orders (predicted ShareLock) [hazard]"}},
		{name: "a lock earlier statements took is not this one's", sql: "SELECT 1;\nCREATE INDEX ON orders (user_id);",
			facts: measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.AccessExclusive, orders, 1), lock(hazard.Share, orders, 2)}, Scanned: []measure.Relation{orders}},
			want:  []string{"confirmed ShareLock on orders", "confirmed scans orders"}, agrees: true},
		{name: "new relations and dropped indexes do not count", sql: "SELECT 1;",
			facts: measure.Statement{ScansMeasured: true, Locks: []measure.Lock{
				lock(hazard.AccessExclusive, measure.Relation{OID: 300, Name: "fresh", Kind: "table", New: true}, 1),
				lock(hazard.AccessExclusive, measure.Relation{OID: 102, Name: "orders_note_idx", Kind: "index", Table: 100, Dropped: true}, 1)}},
			agrees: true},
		{name: "unpredicted: a weak lock is not a hazard", sql: "SELECT 1;",
			facts: measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.ShareUpdateExclusive, users, 1), lock(hazard.RowExclusive, orders, 1)}},
			want:  []string{"unpredicted ShareUpdateExclusiveLock on users (no lock predicted)"}},
		{name: "unpredicted rewrite and invalid index", sql: "SELECT 1;",
			facts: measure.Statement{ScansMeasured: true, Rewritten: []measure.Relation{noteIdx}, InvalidIndexes: []measure.Relation{noteIdx}},
			want:  []string{"unpredicted rewrites orders (orders_note_idx) [hazard]", "unpredicted leaves index orders_note_idx invalid [hazard]"}},
		{name: "a scan only matters under a lock that blocks writes, on a table no rule expected", sql: "UPDATE orders SET note = 'x';",
			facts:  measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.RowExclusive, orders, 1)}, Scanned: []measure.Relation{orders}},
			agrees: true},
		{name: "an unpredicted scan under a strong lock", sql: "SELECT 1;",
			facts: measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.Share, users, 1)}, Scanned: []measure.Relation{users}},
			want:  []string{"unpredicted ShareLock on users (no lock predicted) [hazard]", "unpredicted scans users (while holding ShareLock)"}},
		{name: "an unpredicted scan under a lock an earlier statement took", sql: "SELECT 1;\nSELECT 2;",
			facts: measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.Share, users, 1)}, Scanned: []measure.Relation{users}},
			want:  []string{"unpredicted scans users (while holding ShareLock) [hazard]"}},
		{name: "scans are not measured outside a transaction", sql: "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY ON orders (user_id);",
			facts: measure.Statement{Observed: true, Locks: []measure.Lock{lock(hazard.ShareUpdateExclusive, orders, 1)}},
			want:  []string{"confirmed ShareUpdateExclusiveLock on orders", "unmeasured scans orders"}, agrees: true},
		{name: "a relation that did not exist", sql: "ALTER TABLE missing ADD COLUMN a int;",
			facts: measure.Statement{ScansMeasured: true},
			want:  []string{"new AccessExclusiveLock on missing"}, agrees: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, static := fixture(t, tt.sql)
			sts := make([]measure.Statement, len(static.Scripts[0].Statements))
			sts[len(sts)-1] = tt.facts
			for i := range sts[:len(sts)-1] {
				sts[i].ScansMeasured = true
			}
			r, err := review.Build(p, static, measured(p, sts...))
			if err != nil {
				t.Fatal(err)
			}
			st := r.Steps[0].Statements[len(sts)-1]
			if diff := cmp.Diff(tt.want, verdicts(st)); diff != "" {
				t.Errorf("verdicts (-want +got):\n%s", diff)
			}
			if st.Agrees() != tt.agrees {
				t.Errorf("Agrees() = %v, want %v", st.Agrees(), tt.agrees)
			}
		})
	}
}

func TestMeasuredFindings(t *testing.T) {
	p, static := fixture(t, "UPDATE orders SET note = 'a';\n"+
		"-- waymark:allow measured-lock \"the job runs at 3 am\"\nLOCK TABLE orders;\n"+
		"LOCK TABLE users IN SHARE MODE;")
	// The rules predict both locks; pretend the first statement took one
	// they did not.
	m := measured(p,
		measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.Share, users, 1)}},
		measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.AccessExclusive, orders, 2)}},
		measure.Statement{ScansMeasured: true, Locks: []measure.Lock{lock(hazard.Share, users, 3)}})
	r, err := review.Build(p, static, m)
	if err != nil {
		t.Fatal(err)
	}
	var list hazard.FindingList
	if err := r.Err(); !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("Err() = %v, want one unaccepted finding", err)
	}
	if want := "m/v2_case.up.sql:1:1: measured-lock: measured: ShareLock on users (no lock predicted); no rule predicted it"; list[0].Error() != want {
		t.Errorf("finding %q, want %q", list[0].Error(), want)
	}
	if agree, n := r.Agreement(); agree != 2 || n != 3 {
		t.Errorf("Agreement() = %d of %d, want 2 of 3", agree, n)
	}
	if got := len(r.Findings()); got != 1 {
		t.Errorf("%d findings, want 1: LOCK TABLE orders takes what the rules predict", got)
	}
}

func TestBuildMismatch(t *testing.T) {
	p, static := fixture(t, "SELECT 1;")
	if _, err := review.Build(p, &hazard.Report{}, nil); err == nil || !strings.HasPrefix(err.Error(), "review: ") {
		t.Errorf("Build with an empty static report = %v", err)
	}
	m := measured(p, measure.Statement{})
	m.Steps[0].Version = 7
	if _, err := review.Build(p, static, m); err == nil || !strings.Contains(err.Error(), "the measurement has version 7") {
		t.Errorf("Build with another plan's measurement = %v", err)
	}
}

func TestStaticOnly(t *testing.T) {
	p, static := fixture(t, "ALTER TABLE orders ADD COLUMN r float8 DEFAULT random();\nCREATE INDEX ON orders (user_id);")
	r, err := review.Build(p, static, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Measured() || r.Steps[0].Measured {
		t.Error("a review without a measurement says it is measured")
	}
	for _, v := range r.Steps[0].Statements[0].Verdicts {
		if v.Status != review.Unmeasured {
			t.Errorf("verdict %+v, want unmeasured", v)
		}
	}
	want := `review: up from 1 to 2 (1 step); rules for PostgreSQL 14; not measured
  up  2  case  m/v2_case.up.sql  transaction
    1:1  ALTER TABLE orders ADD COLUMN r float8 DEFAULT random();
         unmeasured   AccessExclusiveLock on orders
         unmeasured   rewrites orders
         unmeasured   scans orders
         error        add-column-volatile-default at 1:40: DEFAULT calls random(), which is volatile: ADD COLUMN computes it for every row and rewrites orders under ACCESS EXCLUSIVE
                      safer: add the column without a default, ALTER COLUMN ... SET DEFAULT for new rows, and backfill the existing rows in batches
    2:1  CREATE INDEX ON orders (user_id);
         unmeasured   ShareLock on orders
         unmeasured   scans orders
         error        create-index-not-concurrently: CREATE INDEX on existing table orders blocks its writes (SHARE lock) until the whole index is built
                      safer: CREATE INDEX CONCURRENTLY, alone in a script marked -- waymark:no-transaction; if it fails, drop the INVALID index it leaves and run it again
  2 findings, 2 to fix
`
	if diff := cmp.Diff(want, r.String()); diff != "" {
		t.Errorf("String() (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(r.String(), "review: up from 1 to 2") || !strings.HasSuffix(r.String(), "2 findings, 2 to fix\n") {
		t.Errorf("String():\n%s", r)
	}
	if step := r.Steps[0].String(); !strings.HasPrefix(step, "    1:1  ALTER TABLE") {
		t.Errorf("Step.String():\n%s", step)
	}
}

func TestReviewJSON(t *testing.T) {
	p, static := fixture(t, "CREATE INDEX ON orders (user_id);")
	r, err := review.Build(p, static, measured(p, measure.Statement{ScansMeasured: true, Duration: 1500 * time.Microsecond,
		Locks: []measure.Lock{lock(hazard.Share, orders, 1)}, Scanned: []measure.Relation{orders}}))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Format string `json:"format"`
		Server string `json:"server"`
		Steps  []struct {
			Measured   bool   `json:"measured"`
			Duration   string `json:"duration"`
			Statements []struct {
				Pos      hazard.Position `json:"pos"`
				Agrees   bool            `json:"agrees"`
				Verdicts []struct {
					Effect hazard.Effect `json:"effect"`
					Status string        `json:"status"`
					Rules  []string      `json:"rules"`
				} `json:"verdicts"`
				Measured struct {
					Duration string `json:"duration"`
				} `json:"measured"`
				Findings []struct {
					Rule string `json:"rule"`
				} `json:"findings"`
			} `json:"statements"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Format != "waymark.review/v1" || got.Server != "15.8" || len(got.Steps) != 1 || !got.Steps[0].Measured {
		t.Fatalf("JSON: %s", data)
	}
	st := got.Steps[0].Statements[0]
	if !st.Agrees || st.Pos.Statement != 1 || len(st.Verdicts) != 2 || st.Verdicts[0].Status != "confirmed" ||
		!cmp.Equal(st.Verdicts[0].Rules, []string{"create-index-not-concurrently"}) || st.Measured.Duration != "1.5ms" || st.Findings[0].Rule != "create-index-not-concurrently" {
		t.Errorf("statement JSON: %s", data)
	}
}

// durations and versions mask what varies between runs in a review's
// text.
var (
	durations = regexp.MustCompile(`\b\d+\.\dm?s\b`)
	versions  = regexp.MustCompile(`PostgreSQL [0-9][^;\n]*`)
)

// reviewSet reviews the whole of a shared test set, measured from
// version 0 on a database of its own.
func reviewSet(t *testing.T, name string) *review.Review {
	t.Helper()
	set := testsets.Load(t, name)
	p, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return reviewPlan(t, pgtest.Conn(t), set, p, hazard.Options{})
}

// reviewPlan checks plan p of set, measures it on conn and reviews it.
// The rules are for conn's server unless opts say otherwise.
func reviewPlan(t *testing.T, conn *pgx.Conn, set *source.Set, p *plan.Plan, opts hazard.Options) *review.Review {
	t.Helper()
	opts.Set = set
	if opts.ServerVersion == 0 {
		if err := conn.QueryRow(t.Context(), "SELECT current_setting('server_version_num')::int").Scan(&opts.ServerVersion); err != nil {
			t.Fatal(err)
		}
	}
	static, err := hazard.CheckPlan(p, &opts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.Run(t.Context(), conn, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := review.Build(p, static, m)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDemoReviews makes the reviews docs/safety.md shows: the demo's set, and
// the set of risky and safe changes to tables with rows.
func TestDemoReviews(t *testing.T) {
	for _, name := range []string{"sample", "busy"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			text := reviewSet(t, name).String()
			t.Log("\n" + text)
			text = durations.ReplaceAllString(text, "X.Xms")
			text = versions.ReplaceAllString(text, "PostgreSQL X")
			golden(t, name+".review", text)
		})
	}
}
