package measure_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/hazard/measure"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

// base is version 1 of the sets below: tables with rows, so that scans
// and rewrites have something to do.
const base = `CREATE TABLE users (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int PRIMARY KEY, user_id int, status varchar(20), total int);
CREATE INDEX orders_status_idx ON orders (status);
INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 200) g;
INSERT INTO orders SELECT g, g, 'new', g FROM generate_series(1, 200) g;
`

// run migrates a scratch database to version 1 of files (with waymark),
// then measures the plan to the set's latest version.
func run(t *testing.T, files map[string]string, opts *measure.Options) (*measure.Report, *pgx.Conn, error) {
	t.Helper()
	set := testsets.Map(t, files)
	ctx := t.Context()
	conn := pgtest.Conn(t)
	db := pgxbackend.New(conn, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(ctx, db, set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := measure.Run(ctx, conn, p, opts)
	return r, conn, err
}

// statement measures one statement run after base, as version 2.
func statement(t *testing.T, sql string) *measure.Statement {
	t.Helper()
	r, _, err := run(t, map[string]string{"v1_base.up.sql": base, "v2_case.up.sql": sql}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := r.Steps[0].Statements
	return &st[len(st)-1]
}

// locksOn returns the modes of the locks st held on relation name.
func locksOn(st *measure.Statement, name string) []string {
	var out []string
	for _, l := range st.Locks {
		if l.Relation.Name == name {
			out = append(out, l.Mode.String())
		}
	}
	return out
}

func names(rels []measure.Relation) []string {
	var out []string
	for _, r := range rels {
		out = append(out, r.Name)
	}
	return out
}

func strongest(st *measure.Statement, name string) hazard.LockMode {
	var m hazard.LockMode
	for _, l := range st.Locks {
		if l.Relation.Name == name {
			m = max(m, l.Mode)
		}
	}
	return m
}

// TestMeasuredFacts checks what the server does, on whichever version the
// tests run against; the cases where versions differ say so.
func TestMeasuredFacts(t *testing.T) {
	t.Parallel()
	t.Run("volatile default rewrites", func(t *testing.T) {
		t.Parallel()
		st := statement(t, "ALTER TABLE orders ADD COLUMN r float8 DEFAULT random();")
		if diff := cmp.Diff([]string{"orders", "orders_pkey", "orders_status_idx"}, names(st.Rewritten)); diff != "" {
			t.Errorf("rewritten (-want +got):\n%s", diff)
		}
		if strongest(st, "orders") != hazard.AccessExclusive || !slices.Contains(names(st.Scanned), "orders") {
			t.Errorf("locks %v, scanned %v", st.Locks, names(st.Scanned))
		}
	})
	t.Run("constant default does not rewrite", func(t *testing.T) {
		t.Parallel()
		st := statement(t, "ALTER TABLE orders ADD COLUMN c int NOT NULL DEFAULT 0;")
		if len(st.Rewritten) != 0 || len(st.Scanned) != 0 || strongest(st, "orders") != hazard.AccessExclusive {
			t.Errorf("rewritten %v, scanned %v, locks %v", names(st.Rewritten), names(st.Scanned), st.Locks)
		}
	})
	t.Run("int to bigint rewrites", func(t *testing.T) {
		t.Parallel()
		st := statement(t, "ALTER TABLE orders ALTER COLUMN total TYPE bigint;")
		if !slices.Contains(names(st.Rewritten), "orders") {
			t.Errorf("rewritten %v, want orders", names(st.Rewritten))
		}
	})
	t.Run("varchar widening does not rewrite, not even its index", func(t *testing.T) {
		t.Parallel()
		st := statement(t, "ALTER TABLE orders ALTER COLUMN status TYPE varchar(40);")
		if len(st.Rewritten) != 0 {
			t.Errorf("rewritten %v, want nothing", names(st.Rewritten))
		}
	})
	t.Run("varchar narrowing rebuilds the index on the column", func(t *testing.T) {
		t.Parallel()
		st := statement(t, "ALTER TABLE orders ALTER COLUMN status TYPE varchar(10);")
		if diff := cmp.Diff([]string{"orders", "orders_pkey", "orders_status_idx"}, names(st.Rewritten)); diff != "" {
			t.Errorf("rewritten (-want +got):\n%s", diff)
		}
	})
	t.Run("create index holds ShareLock on its table", func(t *testing.T) {
		t.Parallel()
		st := statement(t, "CREATE INDEX orders_user_idx ON orders (user_id);")
		if diff := cmp.Diff([]string{"ShareLock"}, locksOn(st, "orders")); diff != "" {
			t.Errorf("locks on orders (-want +got):\n%s", diff)
		}
		// The new index is locked too, and marked new.
		for _, l := range st.Locks {
			if l.Relation.Name == "orders_user_idx" && (!l.Relation.New || l.Relation.Table == 0 || l.Relation.TableName != "orders") {
				t.Errorf("lock on the new index: %+v", l)
			}
		}
	})
	t.Run("add foreign key holds ShareRowExclusiveLock on both tables", func(t *testing.T) {
		t.Parallel()
		st := statement(t, "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);")
		if strongest(st, "orders") != hazard.ShareRowExclusive || strongest(st, "users") != hazard.ShareRowExclusive {
			t.Errorf("locks %v", st.Locks)
		}
		if !slices.Contains(names(st.Scanned), "orders") {
			t.Errorf("scanned %v, want orders", names(st.Scanned))
		}
	})
	t.Run("set not null scans unless a validated check proves it", func(t *testing.T) {
		t.Parallel()
		st := statement(t, "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;")
		if diff := cmp.Diff([]string{"orders"}, names(st.Scanned)); diff != "" {
			t.Errorf("without a check, scanned (-want +got):\n%s", diff)
		}
		st = statement(t, "ALTER TABLE orders ADD CONSTRAINT user_nn CHECK (user_id IS NOT NULL) NOT VALID;\n"+
			"ALTER TABLE orders VALIDATE CONSTRAINT user_nn;\nALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;")
		if len(st.Scanned) != 0 || strongest(st, "orders") != hazard.AccessExclusive {
			t.Errorf("with a validated check: scanned %v, locks %v", names(st.Scanned), st.Locks)
		}
	})
	t.Run("generated column", func(t *testing.T) {
		t.Parallel()
		r, _, err := run(t, map[string]string{"v1_base.up.sql": base,
			"v2_case.up.sql": "ALTER TABLE orders ADD COLUMN double_total int GENERATED ALWAYS AS (total * 2) STORED;"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st := &r.Steps[0].Statements[0]; !slices.Contains(names(st.Rewritten), "orders") {
			t.Errorf("STORED: rewritten %v, want orders", names(st.Rewritten))
		}
		if r.ServerVersion < 180000 {
			return // virtual generated columns arrive in PostgreSQL 18
		}
		st := statement(t, "ALTER TABLE orders ADD COLUMN double_total int GENERATED ALWAYS AS (total * 2) VIRTUAL;")
		if len(st.Rewritten) != 0 {
			t.Errorf("VIRTUAL on %d: rewritten %v, want nothing", r.ServerVersion, names(st.Rewritten))
		}
	})
}

func TestValidateConstraint(t *testing.T) {
	t.Parallel()
	r, _, err := run(t, map[string]string{
		"v1_base.up.sql": base + "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
		"v2_case.up.sql": "ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := &r.Steps[0].Statements[0]
	if strongest(st, "orders") != hazard.ShareUpdateExclusive {
		t.Errorf("locks on orders: %v, want ShareUpdateExclusiveLock the strongest", locksOn(st, "orders"))
	}
	if m := strongest(st, "users"); m.BlocksWrites() {
		t.Errorf("VALIDATE CONSTRAINT blocks writes to the referenced table: %v", m)
	}
}

// TestLocksSince checks that a statement's locks say which earlier
// statement of the transaction took them.
func TestLocksSince(t *testing.T) {
	t.Parallel()
	r, _, err := run(t, map[string]string{
		"v1_base.up.sql": base,
		"v2_case.up.sql": "ALTER TABLE orders ADD COLUMN a int;\nCREATE INDEX ON orders (a);",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := r.Steps[0].Statements
	for _, l := range st[1].Locks {
		if l.Relation.Name != "orders" {
			continue
		}
		want := 2
		if l.Mode == hazard.AccessExclusive {
			want = 1
		}
		if l.Since != want {
			t.Errorf("statement 2: %s since statement %d, want %d", l, l.Since, want)
		}
	}
	if got := st[1].Facts()[0]; got != "locks: ShareLock on orders" {
		t.Errorf("Facts()[0] = %q", got)
	}
}

func TestNoTransaction(t *testing.T) {
	t.Parallel()
	r, conn, err := run(t, map[string]string{
		"v1_base.up.sql": base,
		"v2_case.up.sql": `-- waymark:no-transaction
CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);
ALTER TABLE orders ADD COLUMN a int;
VACUUM FULL orders;
BEGIN;
ALTER TABLE orders ADD COLUMN b int;
CREATE INDEX orders_b_idx ON orders (b);
COMMIT;
`,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := r.Steps[0].Statements
	if len(st) != 7 {
		t.Fatalf("%d statements measured, want 7", len(st))
	}
	// CREATE INDEX CONCURRENTLY refuses a transaction block: its locks
	// are seen while it runs.
	if !st[0].Observed || st[0].ScansMeasured || strongest(&st[0], "orders") != hazard.ShareUpdateExclusive {
		t.Errorf("CREATE INDEX CONCURRENTLY: observed %v, scans measured %v, locks %v", st[0].Observed, st[0].ScansMeasured, st[0].Locks)
	}
	// A statement that can run in a transaction is measured in one of
	// its own.
	if st[1].Observed || strongest(&st[1], "orders") != hazard.AccessExclusive || st[1].Locks[0].Since != 2 {
		t.Errorf("ALTER TABLE: %+v", st[1])
	}
	if !st[2].Observed || strongest(&st[2], "orders") != hazard.AccessExclusive || !slices.Contains(names(st[2].Rewritten), "orders") {
		t.Errorf("VACUUM FULL: observed %v, locks %v, rewritten %v", st[2].Observed, st[2].Locks, names(st[2].Rewritten))
	}
	// Inside the script's own transaction, locks accumulate.
	if !st[3].Control || !st[6].Control {
		t.Errorf("BEGIN and COMMIT not marked as control: %+v %+v", st[3], st[6])
	}
	if got := strongest(&st[5], "orders"); got != hazard.AccessExclusive {
		t.Errorf("CREATE INDEX after ALTER TABLE in one transaction holds %v on orders", got)
	}
	// Everything took effect.
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'").Scan(&n); err != nil || n != 4 {
		t.Errorf("orders has %d indexes (%v), want 4", n, err)
	}
}

func TestFailure(t *testing.T) {
	t.Parallel()
	t.Run("transactional step", func(t *testing.T) {
		t.Parallel()
		r, conn, err := run(t, map[string]string{
			"v1_base.up.sql": base,
			"v2_a.up.sql":    "ALTER TABLE orders ADD COLUMN a int;",
			"v3_b.up.sql":    "ALTER TABLE orders ADD COLUMN b int;\nALTER TABLE orders\n  ADD COLUMN c no_such_type;",
		}, nil)
		var e *measure.Error
		var pgErr *pgconn.PgError
		if !errors.As(err, &e) || !errors.Is(err, measure.ErrStatement) || !errors.As(err, &pgErr) {
			t.Fatalf("Run = %v, want a *measure.Error wrapping ErrStatement and the *pgconn.PgError", err)
		}
		if got := e.Pos.String(); got != "m/v3_b.up.sql:3:16" || e.Version != 3 || !strings.HasPrefix(err.Error(), "m/v3_b.up.sql:3:16: statement failed on the scratch database: ERROR: type \"no_such_type\" does not exist") {
			t.Errorf("error at %s (version %d): %v", got, e.Version, err)
		}
		if len(r.Steps) != 2 || len(r.Steps[1].Statements) != 2 {
			t.Fatalf("report of the failed run: %+v", r)
		}
		// Step 2 stays applied; step 3 is rolled back.
		var cols []string
		rows, _ := conn.Query(t.Context(), "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders' AND column_name IN ('a', 'b') ORDER BY 1")
		cols, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || !slices.Equal(cols, []string{"a"}) {
			t.Errorf("columns after the failure: %v, %v; want [a]", cols, err)
		}
	})
	t.Run("a concurrent index that fails is left invalid", func(t *testing.T) {
		t.Parallel()
		r, _, err := run(t, map[string]string{
			"v1_base.up.sql": base + "UPDATE orders SET user_id = 1;",
			"v2_case.up.sql": "-- waymark:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY orders_user_key ON orders (user_id);",
		}, nil)
		if !errors.Is(err, measure.ErrStatement) {
			t.Fatalf("Run = %v, want ErrStatement", err)
		}
		st := r.Steps[0].Statements[0]
		if diff := cmp.Diff([]string{"orders_user_key"}, names(st.InvalidIndexes)); diff != "" {
			t.Errorf("invalid indexes (-want +got):\n%s", diff)
		}
	})
}

func TestSeed(t *testing.T) {
	t.Parallel()
	var seen []int64
	seed := func(ctx context.Context, conn *pgx.Conn, step plan.Step) error {
		seen = append(seen, step.Version)
		if step.Version == 3 {
			_, err := conn.Exec(ctx, "INSERT INTO orders SELECT g, g, 'x', g FROM generate_series(1000, 5000) g")
			return err
		}
		return nil
	}
	r, conn, err := run(t, map[string]string{
		"v1_base.up.sql": base,
		"v2_a.up.sql":    "ALTER TABLE orders ADD COLUMN a int;",
		"v3_b.up.sql":    "ALTER TABLE orders ADD COLUMN b float8 DEFAULT random();",
	}, &measure.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []int64{2, 3}) || len(r.Steps) != 2 {
		t.Errorf("Seed called for %v", seen)
	}
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM orders WHERE b IS NOT NULL").Scan(&n); err != nil || n != 4201 {
		t.Errorf("%d rows rewritten with the default (%v), want 4201", n, err)
	}

	boom := errors.New("no sample data")
	_, _, err = run(t, map[string]string{"v1_base.up.sql": base, "v2_a.up.sql": "SELECT 1;"},
		&measure.Options{Seed: func(context.Context, *pgx.Conn, plan.Step) error { return boom }})
	if !errors.Is(err, measure.ErrMeasure) || !errors.Is(err, boom) || !strings.Contains(err.Error(), "measure: version 2 (m/v2_a.up.sql): seed: no sample data") {
		t.Errorf("Run with a failing seed = %v", err)
	}
}

func TestNoHistory(t *testing.T) {
	t.Parallel()
	_, conn, err := run(t, map[string]string{"v1_base.up.sql": base, "v2_a.up.sql": "CREATE TABLE x (a int);"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM waymark_history").Scan(&n); err != nil || n != 1 {
		t.Errorf("history has %d rows (%v), want the 1 that execute wrote", n, err)
	}
}

func TestReportJSON(t *testing.T) {
	t.Parallel()
	r, _, err := run(t, map[string]string{"v1_base.up.sql": base, "v2_a.up.sql": "ALTER TABLE orders ADD COLUMN r float8 DEFAULT random();"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Format string `json:"format"`
		Steps  []struct {
			Duration   string `json:"duration"`
			Statements []struct {
				Pos       hazard.Position `json:"pos"`
				Duration  string          `json:"duration"`
				Locks     []measure.Lock  `json:"locks"`
				Rewritten []measure.Relation
			} `json:"statements"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Format != "waymark.measure/v1" || len(got.Steps) != 1 || got.Steps[0].Duration == "" {
		t.Fatalf("JSON: %s", data)
	}
	st := got.Steps[0].Statements[0]
	if st.Pos.Path != "m/v2_a.up.sql" || st.Pos.Statement != 1 || len(st.Locks) == 0 || len(st.Rewritten) != 3 || st.Rewritten[0].Kind != "table" {
		t.Errorf("statement JSON: %+v", st)
	}
}

// statement2 measures the last statement of sql run after setup, as
// version 2.
func statement2(t *testing.T, setup, sql string) *measure.Statement {
	t.Helper()
	r, _, err := run(t, map[string]string{"v1_base.up.sql": setup, "v2_case.up.sql": sql}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := r.Steps[0].Statements
	return &st[len(st)-1]
}
