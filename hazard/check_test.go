package hazard_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
)

func TestAllow(t *testing.T) {
	set := testsets.Map(t, map[string]string{
		"v1_setup.up.sql": setupTables,
		"v2_case.up.sql": `SET LOCAL lock_timeout = '5s';
-- waymark:allow create-index-not-concurrently "orders is empty until the launch"
CREATE INDEX orders_user_idx ON orders (user_id);
CREATE INDEX orders_note_idx ON orders (note);
-- waymark:allow drop-column "not the finding of this statement"
ALTER TABLE orders ADD COLUMN x int;
`,
	})
	r, err := hazard.Check(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	type finding struct {
		Pos, Rule, Accepted string
	}
	var got []finding
	for _, f := range r.Findings() {
		a := ""
		if f.Allowed != nil {
			a = f.Allowed.Reason
		}
		got = append(got, finding{f.Pos.String(), f.Rule, a})
	}
	want := []finding{
		{"m/v2_case.up.sql:3:1", "create-index-not-concurrently", "orders is empty until the launch"},
		// The allowance is for the next statement only.
		{"m/v2_case.up.sql:4:1", "create-index-not-concurrently", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	var list hazard.FindingList
	if err := r.Err(); !errors.As(err, &list) || len(list) != 1 || !errors.Is(err, hazard.ErrHazard) {
		t.Fatalf("Err() = %v, want a FindingList of the one unaccepted finding", err)
	}
	if want := "m/v2_case.up.sql:4:1: create-index-not-concurrently: CREATE INDEX on existing table orders blocks its writes (SHARE lock) until the whole index is built"; list.Error() != want {
		t.Errorf("Err().Error() =\n%s\nwant\n%s", list.Error(), want)
	}
	unused := r.Scripts[1].UnusedAllows
	if len(unused) != 1 || unused[0].Rule != "drop-column" || unused[0].Pos.Line != 5 {
		t.Errorf("UnusedAllows = %+v, want the drop-column allowance of line 5", unused)
	}
	if !strings.Contains(r.String(), "m/v2_case.up.sql:5:1: waymark:allow drop-column accepts no finding of the next statement") {
		t.Errorf("String() does not report the unused allowance:\n%s", r)
	}
}

func TestAllowAllAccepted(t *testing.T) {
	set := testsets.Map(t, map[string]string{
		"v1_setup.up.sql": setupTables,
		"v2_case.up.sql": `-- waymark:allow missing-lock-timeout "nothing else uses orders at 3 am"
-- waymark:allow add-column-volatile-default "orders holds 12 rows"
ALTER TABLE orders ADD COLUMN r float8 DEFAULT random();
`,
	})
	r, err := hazard.Check(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings()) != 2 || r.Err() != nil {
		t.Errorf("findings %v, Err() = %v; want two findings, both accepted", r.Findings(), r.Err())
	}
	if !strings.Contains(r.String(), "2 findings in 2 scripts for PostgreSQL 14, 2 accepted") {
		t.Errorf("String() summary:\n%s", r)
	}
}

func TestUnknownRule(t *testing.T) {
	set := testsets.Map(t, map[string]string{
		"v1_setup.up.sql":   "-- waymark:allow create-index-concurrently \"typo\"\nCREATE TABLE t (a int);",
		"v1_setup.down.sql": "DROP TABLE t;\n-- waymark:allow drop-tables \"typo in a down script\"\nSELECT 1;",
	})
	_, err := hazard.Check(set, nil)
	var list hazard.ErrorList
	if !errors.As(err, &list) || len(list) != 2 || !errors.Is(err, hazard.ErrUnknownRule) {
		t.Fatalf("Check = %v, want an ErrorList of two ErrUnknownRule", err)
	}
	msg := list[1].Error()
	for _, want := range []string{"m/v1_setup.up.sql:1:1: unknown hazard rule: waymark:allow create-index-concurrently: no such rule (known: ", "create-index-not-concurrently", "measured-lock"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if got := list[0].Pos.String(); got != "m/v1_setup.down.sql:2:1" {
		t.Errorf("first error at %s, want m/v1_setup.down.sql:2:1 (sorted by path)", got)
	}
}

func TestServerVersion(t *testing.T) {
	set := testsets.Map(t, map[string]string{"v1_a.up.sql": "SELECT 1;"})
	_, err := hazard.Check(set, &hazard.Options{ServerVersion: 130009})
	if !errors.Is(err, hazard.ErrServerVersion) || !strings.Contains(err.Error(), "hazard: unsupported server version: ServerVersion 130009") {
		t.Errorf("Check with 130009 = %v, want ErrServerVersion naming the option", err)
	}
	r, err := hazard.Check(set, nil)
	if err != nil || r.ServerVersion != hazard.DefaultServerVersion {
		t.Errorf("Check with the default version: %v, ServerVersion %d", err, r.ServerVersion)
	}
}

// TestEffects checks the checker's model of what statements do.
func TestEffects(t *testing.T) {
	tests := []struct {
		sql   string
		want  []string
		known bool
	}{
		{"ALTER TABLE orders ADD COLUMN a int", []string{"AccessExclusiveLock on orders"}, true},
		{"ALTER TABLE orders ADD COLUMN a int DEFAULT random()", []string{"AccessExclusiveLock on orders", "rewrites orders", "scans orders"}, true},
		{"CREATE INDEX ON orders (note)", []string{"ShareLock on orders", "scans orders"}, true},
		{"ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id)", []string{"ShareRowExclusiveLock on orders", "ShareRowExclusiveLock on users", "scans orders"}, true},
		{"ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID", []string{"ShareRowExclusiveLock on orders", "ShareRowExclusiveLock on users"}, true},
		{"ALTER TABLE orders VALIDATE CONSTRAINT c", []string{"ShareUpdateExclusiveLock on orders", "scans orders"}, true},
		{"ALTER TABLE orders ADD COLUMN a int, ADD COLUMN b int REFERENCES users (id)", []string{"AccessExclusiveLock on orders", "ShareRowExclusiveLock on users"}, true},
		{"CREATE TABLE items (order_id bigint REFERENCES orders (id))", []string{"ShareRowExclusiveLock on orders"}, true},
		{"CREATE TRIGGER t AFTER INSERT ON public.orders FOR EACH ROW EXECUTE FUNCTION f()", []string{"ShareRowExclusiveLock on public.orders"}, true},
		{"DROP TABLE users", []string{"AccessExclusiveLock on users"}, true},
		{"LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE", []string{"ShareRowExclusiveLock on orders"}, true},
		{"LOCK orders", []string{"AccessExclusiveLock on orders"}, true},
		{"TRUNCATE orders, users", []string{"AccessExclusiveLock on orders", "rewrites orders", "AccessExclusiveLock on users", "rewrites users"}, true},
		{"COMMENT ON COLUMN orders.note IS 'free text'", []string{"ShareUpdateExclusiveLock on orders"}, true},
		{"REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals", []string{"ExclusiveLock on order_totals"}, true},
		{`ALTER TABLE "orders" SET (autovacuum_enabled = off)`, []string{"ShareUpdateExclusiveLock on orders"}, true},
		{"REINDEX INDEX orders_status_idx", []string{"ShareLock on orders", "AccessExclusiveLock on orders_status_idx", "rewrites orders_status_idx", "scans orders"}, true},
		{"UPDATE orders SET note = 'x'", nil, true},
		{"INSERT INTO users VALUES (1)", nil, true},
		{"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", nil, true},
		{"DO $$ BEGIN EXECUTE 'ALTER TABLE orders ADD COLUMN z int'; END $$", []string{"AccessExclusiveLock on orders"}, false},
		{"DO $$ BEGIN EXECUTE 'ALTER TABLE ' || 'orders ADD COLUMN z int'; END $$", nil, false},
		{"CALL archive_orders()", nil, false},
	}
	for _, tt := range tests {
		r := ruleSet(t, ruleCase{sql: tt.sql})
		st := r.Scripts[1].Statements[0]
		var got []string
		for _, e := range st.Effects {
			got = append(got, e.String())
		}
		if diff := cmp.Diff(tt.want, got); diff != "" || st.Known != tt.known {
			t.Errorf("%s: known %v (want %v), effects (-want +got):\n%s", tt.sql, st.Known, tt.known, diff)
		}
	}
}

func TestFindingPosition(t *testing.T) {
	r := ruleSet(t, ruleCase{sql: "SET LOCAL lock_timeout = '1s';\n-- the rank\nALTER TABLE orders\n    ADD COLUMN rank float8 DEFAULT random(),\n    ALTER COLUMN user_id TYPE bigint;"})
	var got []string
	for _, f := range r.Findings() {
		got = append(got, f.Pos.String()+" "+f.Rule)
	}
	want := []string{
		"m/v2_case.up.sql:4:28 add-column-volatile-default",
		"m/v2_case.up.sql:5:5 alter-column-type",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("finding positions (-want +got):\n%s", diff)
	}
	if st := r.Scripts[1].Statements[1]; st.Pos.Statement != 2 || st.Kind != "ALTER TABLE" {
		t.Errorf("statement 2: %+v", st)
	}
}

func TestCheckPlan(t *testing.T) {
	set := testsets.Map(t, map[string]string{
		"v1_setup.up.sql":   setupTables,
		"v2_widen.up.sql":   "SET LOCAL lock_timeout = '1s';\nALTER TABLE orders ALTER COLUMN status TYPE varchar(40);",
		"v2_widen.down.sql": "SET LOCAL lock_timeout = '1s';\nALTER TABLE orders ALTER COLUMN status TYPE varchar(20);",
	})
	up, err := plan.Compute(set, plantest.Applied(set, 1), plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// With the set, the checker knows status is a varchar(20): widening
	// it rewrites nothing.
	r, err := hazard.CheckPlan(up, &hazard.Options{Set: set})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scripts) != 1 || r.Scripts[0].Version != 2 || len(r.Findings()) != 0 {
		t.Errorf("CheckPlan with the set: %d scripts, findings:\n%s", len(r.Scripts), r)
	}
	// Without it, it cannot tell.
	r, err = hazard.CheckPlan(up, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Findings(); len(f) != 1 || f[0].Rule != hazard.RuleAlterType || !strings.Contains(f[0].Reason, "does not know the column's current type") {
		t.Errorf("CheckPlan without the set:\n%s", r)
	}
	// Going down narrows the column again, which rewrites.
	down, err := plan.Compute(set, plantest.Applied(set, 1, 2), plan.DownTo(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err = hazard.CheckPlan(down, &hazard.Options{Set: set})
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Findings(); len(f) != 1 || !strings.Contains(f[0].Reason, "varchar(40) to varchar(20)") {
		t.Errorf("CheckPlan of the down plan:\n%s", r)
	}
}

func TestReportJSON(t *testing.T) {
	r := ruleSet(t, ruleCase{sql: "-- waymark:allow missing-lock-timeout \"quiet hour\"\nALTER TABLE orders ADD COLUMN r float8 DEFAULT random();"})
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Format        string `json:"format"`
		ServerVersion int    `json:"server_version"`
		Scripts       []struct {
			Path       string `json:"path"`
			Statements []struct {
				Pos      hazard.Position `json:"pos"`
				Kind     string          `json:"kind"`
				Effects  []hazard.Effect `json:"effects"`
				Findings []struct {
					Rule     string          `json:"rule"`
					Severity string          `json:"severity"`
					Pos      hazard.Position `json:"pos"`
					Accepted string          `json:"accepted"`
				} `json:"findings"`
			} `json:"statements"`
		} `json:"scripts"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Format != "waymark.hazard/v1" || got.ServerVersion != 140000 || len(got.Scripts) != 2 {
		t.Fatalf("JSON header: %s", data)
	}
	st := got.Scripts[1].Statements[0]
	if st.Pos != (hazard.Position{Path: "m/v2_case.up.sql", Line: 2, Column: 1, Statement: 1}) || st.Kind != "ALTER TABLE" || len(st.Effects) != 3 {
		t.Errorf("statement JSON: %+v", st)
	}
	if len(st.Findings) != 2 || st.Findings[0].Accepted != "quiet hour" || st.Findings[1].Severity != "error" ||
		st.Findings[1].Pos.Column != 40 {
		t.Errorf("findings JSON: %+v", st.Findings)
	}
}

func TestNameString(t *testing.T) {
	for _, tt := range []struct {
		n    hazard.Name
		want string
	}{
		{hazard.Name{Name: "orders"}, "orders"},
		{hazard.Name{Schema: "app", Name: "orders"}, "app.orders"},
		{hazard.Name{Name: "Orders"}, `"Orders"`},
		{hazard.Name{Schema: "my app", Name: `a"b`}, `"my app"."a""b"`},
		{hazard.Name{Name: "order_2024"}, "order_2024"},
		{hazard.Name{Name: "2024"}, `"2024"`},
	} {
		if got := tt.n.String(); got != tt.want {
			t.Errorf("%+v.String() = %s, want %s", tt.n, got, tt.want)
		}
	}
}

func TestQuotedNames(t *testing.T) {
	set := testsets.Map(t, map[string]string{
		"v1_setup.up.sql": `CREATE TABLE "Order Lines" ("Qty" int);`,
		"v2_case.up.sql":  `SET LOCAL lock_timeout = '1s'; ALTER TABLE "Order Lines" ALTER COLUMN "Qty" TYPE bigint;`,
	})
	r, err := hazard.Check(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := r.Findings()
	if len(f) != 1 || !strings.Contains(f[0].Reason, `"Qty" TYPE integer to bigint rewrites "Order Lines"`) {
		t.Errorf("findings:\n%s", r)
	}
}
