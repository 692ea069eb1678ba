package drift_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/drift"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/fleet"
	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/waymarktest"
)

// shop loads testdata/shop: users, orders, a trigger function, comments.
func shop(t testing.TB) *source.Set {
	t.Helper()
	return waymarktest.Load(t, os.DirFS("testdata"), "shop")
}

// roles creates the cluster-wide roles the hand-made changes use.
func roles(t testing.TB) {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), waymarktest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, r := range []string{"drift_reader", "drift_owner"} {
		if _, err := pool.Exec(t.Context(), "DO $$ BEGIN CREATE ROLE "+r+" NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"); err != nil {
			t.Fatal(err)
		}
	}
}

// brief is what a test compares of a difference.
type brief struct {
	Kind, Name string
	Change     drift.Change
	Aspect     string
}

func briefs(ds []drift.Difference) []brief {
	out := []brief{}
	for _, d := range ds {
		out = append(out, brief{d.Kind, d.Name, d.Change, d.Aspect})
	}
	return out
}

func TestCleanDatabaseHasNoDrift(t *testing.T) {
	set := shop(t)
	pool := waymarktest.Pool(t, set, nil)
	r, err := drift.Check(t.Context(), pool, set, &drift.Options{Scratch: waymarktest.Server(t)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Drifted() || r.Version != 4 || len(r.Warnings) > 0 {
		t.Errorf("a database the set made reports drift (version %d, want 4):\n%s", r.Version, r)
	}
}

// TestHandMadeChanges makes each change by hand on a database the set
// made, and requires the check to report it, named, and nothing else.
func TestHandMadeChanges(t *testing.T) {
	set := shop(t)
	roles(t)
	checker := drift.New(&drift.Options{Scratch: waymarktest.Server(t)})
	t.Cleanup(func() { checker.Close() })
	cases := []struct {
		name    string
		sql     string
		want    []brief
		version int64 // of the first difference
	}{
		{"column added", "ALTER TABLE users ADD COLUMN nickname text",
			[]brief{{"column", "public.users.nickname", drift.Extra, ""}}, 4},
		{"column type changed", "ALTER TABLE users ALTER COLUMN email TYPE varchar(200)",
			[]brief{{"column", "public.users.email", drift.Differs, "type"}}, 1},
		{"default changed", "ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'open'",
			[]brief{{"column", "public.orders.status", drift.Differs, "default"}}, 2},
		{"index added", "CREATE INDEX orders_status_idx ON orders (status)",
			[]brief{{"index", "public.orders.orders_status_idx", drift.Extra, ""}}, 4},
		{"index dropped", "DROP INDEX users_email_idx",
			[]brief{{"index", "public.users.users_email_idx", drift.Missing, ""}}, 1},
		{"constraint dropped", "ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey",
			[]brief{{"constraint", "public.orders.orders_user_id_fkey", drift.Missing, ""}}, 4},
		{"NOT VALID constraint validated", "ALTER TABLE orders VALIDATE CONSTRAINT orders_total_check",
			[]brief{{"constraint", "public.orders.orders_total_check", drift.Differs, "definition"}}, 2},
		{"function body edited", `CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at = clock_timestamp();
	RETURN NEW;
END
$$`,
			[]brief{{"function", "public.touch()", drift.Differs, "definition"}}, 3},
		{"trigger disabled", "ALTER TABLE orders DISABLE TRIGGER orders_touch",
			[]brief{{"trigger", "public.orders.orders_touch", drift.Differs, "enabled"}}, 3},
		{"grant added", "GRANT SELECT ON users TO drift_reader",
			[]brief{{"table", "public.users", drift.Differs, "privileges"}}, 4},
		{"table owner changed", "ALTER TABLE users OWNER TO drift_owner",
			[]brief{{"table", "public.users", drift.Differs, "owner"}}, 4},
		{"table in a new schema", "CREATE SCHEMA audit; CREATE TABLE audit.log (id bigint)",
			[]brief{{"schema", "audit", drift.Extra, ""}, {"table", "audit.log", drift.Extra, ""}}, 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pool := waymarktest.Pool(t, set, nil)
			if _, err := pool.Exec(t.Context(), tc.sql); err != nil {
				t.Fatal(err)
			}
			r, err := checker.Check(t.Context(), pool, set)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, briefs(r.Differences)); diff != "" {
				t.Errorf("differences (-want +got):\n%s\nreport:\n%s", diff, r)
			}
			if len(r.Differences) > 0 && r.Differences[0].Version != tc.version {
				t.Errorf("version of %s = %d, want %d", r.Differences[0].Name, r.Differences[0].Version, tc.version)
			}
			if i > 0 && !r.Reused {
				t.Errorf("check %d built the expected schema again; want it reused", i+1)
			}
			if !r.Drifted() {
				t.Errorf("Drifted() = false with differences %v", r.Differences)
			}
		})
	}
}

func TestThrowawayClusterOfTheLiveMajor(t *testing.T) {
	set := shop(t)
	roles(t)
	pool := waymarktest.Pool(t, set, nil)
	if _, err := pool.Exec(t.Context(), "GRANT SELECT ON orders TO drift_reader; ALTER TABLE orders ALTER COLUMN total SET DEFAULT 1"); err != nil {
		t.Fatal(err)
	}
	var logs []string
	r, err := drift.Check(t.Context(), pool, set, &drift.Options{Logf: func(f string, args ...any) { logs = append(logs, f) }})
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{{"table", "public.orders", drift.Differs, "privileges"}, {"column", "public.orders.total", drift.Differs, "default"}}
	if diff := cmp.Diff(want, briefs(r.Differences)); diff != "" {
		t.Errorf("differences (-want +got):\n%s\nreport:\n%s", diff, r)
	}
	if len(logs) == 0 {
		t.Errorf("no progress logged while starting a cluster")
	}
}

func TestIgnoreList(t *testing.T) {
	set := shop(t)
	pool := waymarktest.Pool(t, set, nil)
	if _, err := pool.Exec(t.Context(), "CREATE SCHEMA partman; CREATE TABLE partman.config (id int); CREATE INDEX orders_status_idx ON orders (status)"); err != nil {
		t.Fatal(err)
	}
	ignore, err := drift.ParseIgnore("drift.ignore", strings.NewReader(`# not ours
schema partman     pg_partman's own schema
*      partman.*   pg_partman's objects
index  public.*.nothing_*  an old rule
`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := drift.Check(t.Context(), pool, set, &drift.Options{Scratch: waymarktest.Server(t), Ignore: ignore})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]brief{{"index", "public.orders.orders_status_idx", drift.Extra, ""}}, briefs(r.Differences)); diff != "" {
		t.Errorf("differences (-want +got):\n%s", diff)
	}
	if r.Ignored != 2 {
		t.Errorf("Ignored = %d, want 2", r.Ignored)
	}
	if len(r.UnusedIgnores) != 1 || r.UnusedIgnores[0].Line != 4 || !strings.Contains(r.String(), "line 4: index public.*.nothing_* (an old rule) matched nothing") {
		t.Errorf("unused rules %v; report:\n%s", r.UnusedIgnores, r)
	}
}

func TestIgnoreFileErrors(t *testing.T) {
	_, err := drift.ParseIgnore("migrations/drift.ignore", strings.NewReader(`tabel public.x  typo of table
index public.*
column "a b  unterminated
index [a- bad pattern
`))
	var ie *drift.IgnoreError
	if !errors.As(err, &ie) || !errors.Is(err, drift.ErrIgnoreFile) {
		t.Fatalf("err = %v, want an *IgnoreError", err)
	}
	want := []string{
		`migrations/drift.ignore:1: unknown kind "tabel"`,
		`migrations/drift.ignore:2: index public.*: no reason given`,
		`migrations/drift.ignore:3: unterminated quoted pattern`,
		`migrations/drift.ignore:4: pattern "[a-"`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d = %q, want it to start %q", i+1, lines[i], w)
		}
	}
	l, err := drift.LoadIgnore(fstest.MapFS{}, "migrations")
	if err != nil || len(l.Rules) != 0 {
		t.Errorf("LoadIgnore without a file = %v, %v; want no rules", l, err)
	}
}

func TestCompareOptions(t *testing.T) {
	set := shop(t)
	roles(t)
	pool := waymarktest.Pool(t, set, nil)
	if _, err := pool.Exec(t.Context(), "GRANT SELECT ON users TO drift_reader; ALTER TABLE orders OWNER TO drift_owner"); err != nil {
		t.Fatal(err)
	}
	r, err := drift.Check(t.Context(), pool, set, &drift.Options{Scratch: waymarktest.Server(t),
		Compare: &drift.CompareOptions{IgnoreOwners: true, IgnorePrivileges: true}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Drifted() {
		t.Errorf("owners and privileges compared though turned off:\n%s", r)
	}
}

func TestScratchWithoutCreateDB(t *testing.T) {
	set := shop(t)
	pool := waymarktest.Pool(t, set, nil)
	admin, err := pgxpool.New(t.Context(), waymarktest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(t.Context(), "DO $$ BEGIN CREATE ROLE drift_nocreatedb LOGIN NOCREATEDB; EXCEPTION WHEN duplicate_object THEN NULL; END $$"); err != nil {
		t.Fatal(err)
	}
	cfg := admin.Config().ConnConfig.Copy()
	scratch := cfg.ConnString() + " user=drift_nocreatedb"
	if strings.Contains(cfg.ConnString(), "://") {
		t.Skip("the server's connection string is a URL; this test appends a keyword")
	}
	_, err = drift.Check(t.Context(), pool, set, &drift.Options{Scratch: scratch})
	if !errors.Is(err, drift.ErrNoCreateDB) || !strings.Contains(err.Error(), "drift_nocreatedb") {
		t.Errorf("err = %v, want ErrNoCreateDB naming the role", err)
	}
}

func TestLiveHistoryRefused(t *testing.T) {
	set := shop(t)
	t.Run("dirty", func(t *testing.T) {
		pool := waymarktest.Pool(t, set, nil)
		if _, err := pool.Exec(t.Context(), "UPDATE waymark_history SET dirty = 'up' WHERE version = 3"); err != nil {
			t.Fatal(err)
		}
		_, err := drift.Check(t.Context(), pool, set, &drift.Options{Scratch: waymarktest.Server(t)})
		var he *drift.HistoryError
		if !errors.As(err, &he) || !errors.Is(err, plan.ErrDirty) || !errors.Is(err, drift.ErrHistory) || !slicesEqual(he.Versions, []int64{3}) {
			t.Errorf("err = %v, want a HistoryError for dirty version 3", err)
		}
	})
	t.Run("ahead of the files", func(t *testing.T) {
		pool := waymarktest.Pool(t, set, nil)
		older := fstest.MapFS{}
		for _, m := range set.Migrations()[:2] {
			older["m/"+strings.TrimPrefix(m.Up.Path, "shop/")] = &fstest.MapFile{Data: []byte(m.Up.SQL)}
		}
		olderSet := waymarktest.Load(t, older, "m")
		_, err := drift.Check(t.Context(), pool, olderSet, &drift.Options{Scratch: waymarktest.Server(t)})
		var he *drift.HistoryError
		if !errors.As(err, &he) || !errors.Is(err, plan.ErrUnknownVersion) || !slicesEqual(he.Versions, []int64{3, 4}) {
			t.Errorf("err = %v, want a HistoryError for versions 3, 4", err)
		}
	})
	t.Run("no history", func(t *testing.T) {
		pool := waymarktest.Pool(t, nil, nil)
		if _, err := pool.Exec(t.Context(), "CREATE TABLE made_by_hand (id int)"); err != nil {
			t.Fatal(err)
		}
		r, err := drift.Check(t.Context(), pool, set, &drift.Options{Scratch: waymarktest.Server(t)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]brief{{"table", "public.made_by_hand", drift.Extra, ""}}, briefs(r.Differences)); diff != "" ||
			len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "the database has no history") {
			t.Errorf("want the table extra and a warning; got:\n%s", r)
		}
	})
	t.Run("file changed since applied", func(t *testing.T) {
		pool := waymarktest.Pool(t, set, nil)
		changed := fstest.MapFS{}
		for _, m := range set.Migrations() {
			sql := m.Up.SQL
			if m.Version == 4 {
				sql += "\n-- reworded\n"
			}
			changed["m/"+strings.TrimPrefix(m.Up.Path, "shop/")] = &fstest.MapFile{Data: []byte(sql)}
		}
		r, err := drift.Check(t.Context(), pool, waymarktest.Load(t, changed, "m"), &drift.Options{Scratch: waymarktest.Server(t)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Drifted() || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "version 4's up script changed") {
			t.Errorf("want no drift and a warning about version 4, got:\n%s", r)
		}
	})
}

func slicesEqual(a, b []int64) bool { return cmp.Equal(a, b) }

// TestScratchOfAnotherMajor starts a cluster of another major version
// than the live server's and names it as the scratch server.
func TestScratchOfAnotherMajor(t *testing.T) {
	set := shop(t)
	pool := waymarktest.Pool(t, set, nil)
	liveMajor := waymarktest.ServerVersion(t) / 10000
	other := 15
	if liveMajor == 15 {
		other = 16
	}
	dir, err := pgcluster.FindMajorBinDir(t.Context(), other, t.Logf)
	if err != nil {
		t.Skipf("no PostgreSQL %d to start a scratch server of another major version than the live %d: %v", other, liveMajor, err)
	}
	cl, err := pgcluster.Start(t.Context(), &pgcluster.Options{BinDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Stop() })
	_, err = drift.Check(t.Context(), pool, set, &drift.Options{Scratch: cl.ConnString("postgres")})
	if !errors.Is(err, drift.ErrMajorMismatch) || !strings.Contains(err.Error(), fmt.Sprintf("scratch server is PostgreSQL %d, live is %d", other, liveMajor)) {
		t.Errorf("err = %v, want ErrMajorMismatch naming both versions", err)
	}
	r, err := drift.Check(t.Context(), pool, set, &drift.Options{Scratch: cl.ConnString("postgres"), AllowOtherMajor: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], fmt.Sprintf("the scratch server is PostgreSQL %d", other)) {
		t.Errorf("with AllowOtherMajor, want a warning naming the versions; got:\n%s", r)
	}
}

func TestFleet(t *testing.T) {
	set := shop(t)
	scratch := waymarktest.Server(t)
	at4a := waymarktest.ConnString(t, set, nil)
	at4b := waymarktest.ConnString(t, set, nil)
	at2 := waymarktest.ConnString(t, set, &waymarktest.Options{Target: plan.To(2)})
	pool, err := pgxpool.New(t.Context(), at4b)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(t.Context(), "ALTER TABLE orders ALTER COLUMN status DROP DEFAULT"); err != nil {
		t.Fatal(err)
	}

	// Two tenants' schemas in one database; tenant_b drifted, and public
	// has a table of its own, which is neither tenant's.
	tenants := waymarktest.ConnString(t, nil, nil)
	tpool, err := pgxpool.New(t.Context(), tenants)
	if err != nil {
		t.Fatal(err)
	}
	defer tpool.Close()
	for _, s := range []string{"tenant_a", "tenant_b"} {
		if _, err := tpool.Exec(t.Context(), "CREATE SCHEMA "+s); err != nil {
			t.Fatal(err)
		}
		if _, err := execute.Migrate(t.Context(), pgxbackend.New(tpool, &pgxbackend.Options{Schema: s, SearchPath: []string{s}}), set, plan.Latest(), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tpool.Exec(t.Context(), "CREATE TABLE public.other_app (id int); ALTER TABLE tenant_b.users ADD COLUMN nickname text"); err != nil {
		t.Fatal(err)
	}
	schemas, err := fleet.Schemas(t.Context(), tenants, `tenant\_%`, nil)
	if err != nil {
		t.Fatal(err)
	}

	targets := append([]fleet.Target{{Name: "a4", Conn: at4a}, {Name: "b4", Conn: at4b}, {Name: "c2", Conn: at2}}, schemas...)
	c := drift.New(&drift.Options{Scratch: scratch})
	defer c.Close()
	r := c.Fleet(t.Context(), targets, set, 2)
	type got struct {
		Target  string
		Version int64
		Diffs   []brief
	}
	var gots []got
	for _, tr := range r.Targets {
		if tr.Err != nil {
			t.Fatalf("%s: %v", tr.Target, tr.Err)
		}
		gots = append(gots, got{tr.Target, tr.Report.Version, briefs(tr.Report.Differences)})
	}
	want := []got{
		{"a4", 4, []brief{}},
		{"b4", 4, []brief{{"column", "public.orders.status", drift.Differs, "default"}}},
		{"c2", 2, []brief{}},
		{schemas[0].Name, 4, []brief{}},
		{schemas[1].Name, 4, []brief{{"column", "tenant_b.users.nickname", drift.Extra, ""}}},
	}
	for i, s := range []string{"tenant_a", "tenant_b"} {
		if !strings.HasSuffix(schemas[i].Name, "/"+s) {
			t.Errorf("schema target %d is %q, want database/%s", i, schemas[i].Name, s)
		}
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("fleet (-want +got):\n%s\n%s", diff, r)
	}
	// versions 4 and 2 of the databases, and version 4 in each tenant's
	// schema
	if r.Builds != 4 {
		t.Errorf("Builds = %d, want 4 (2 versions of the databases, 2 tenants' schemas)", r.Builds)
	}
	if d, clean, failed := r.Count(); d != 2 || clean != 3 || failed != 0 {
		t.Errorf("Count() = %d, %d, %d; want 2, 3, 0", d, clean, failed)
	}
}

// TestMigratingRole has the migrations run by a role of their own on the
// live database, as in production, and checks with a scratch role that
// can act as it (the test server's superuser), with one that cannot (a
// CREATEDB role: owners are then compared under the migrating role's
// name, with a warning), and on a throwaway cluster (which makes it).
func TestMigratingRole(t *testing.T) {
	set := shop(t)
	server := waymarktest.Server(t)
	admin, err := pgxpool.New(t.Context(), server)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, r := range []string{"drift_app LOGIN", "drift_builder LOGIN CREATEDB"} {
		if _, err := admin.Exec(t.Context(), "DO $$ BEGIN CREATE ROLE "+r+"; EXCEPTION WHEN duplicate_object THEN NULL; END $$"); err != nil {
			t.Fatal(err)
		}
	}
	url := waymarktest.ConnString(t, nil, nil)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(t.Context(), "ALTER DATABASE "+cfg.ConnConfig.Database+" OWNER TO drift_app"); err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = "drift_app"
	live, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := execute.Migrate(t.Context(), pgxbackend.New(live, nil), set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(server, "://") {
		t.Skip("the server's connection string is a URL; this test appends a keyword")
	}
	for _, tc := range []struct {
		name, scratch string
		warning       string
	}{
		{"superuser scratch", server, ""},
		{"CREATEDB scratch", server + " user=drift_builder", "the migrations ran as drift_app on the live database, but drift_builder on the scratch server cannot act as drift_app"},
		{"throwaway cluster", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := drift.Check(t.Context(), live, set, &drift.Options{Scratch: tc.scratch})
			if err != nil {
				t.Fatal(err)
			}
			if r.Drifted() {
				t.Errorf("drift reported:\n%s", r)
			}
			switch {
			case tc.warning == "" && len(r.Warnings) > 0:
				t.Errorf("warnings %q, want none", r.Warnings)
			case tc.warning != "" && (len(r.Warnings) != 1 || !strings.HasPrefix(r.Warnings[0], tc.warning)):
				t.Errorf("warnings %q, want one starting %q", r.Warnings, tc.warning)
			}
		})
	}
}

// TestHistoryAndLeaseTablesAreNotDrift migrates with a lease (which makes
// the lease table) and a history table of another name, and checks with
// and without telling the check about the lease.
func TestHistoryAndLeaseTablesAreNotDrift(t *testing.T) {
	set := shop(t)
	bo := &pgxbackend.Options{Table: "history", Lock: pgxbackend.LockLease}
	pool := waymarktest.Pool(t, set, &waymarktest.Options{Backend: bo})
	var lease bool
	if err := pool.QueryRow(t.Context(), "SELECT to_regclass('public.waymark_lease') IS NOT NULL AND to_regclass('public.history') IS NOT NULL").Scan(&lease); err != nil || !lease {
		t.Fatalf("no lease or history table (%v): the test needs them", err)
	}
	for _, opts := range []*pgxbackend.Options{bo, {Table: "history"}} {
		r, err := drift.Check(t.Context(), pool, set, &drift.Options{Scratch: waymarktest.Server(t), Backend: opts})
		if err != nil {
			t.Fatal(err)
		}
		if r.Drifted() || r.Version != 4 {
			t.Errorf("lock %v: drift reported at version %d:\n%s", opts.Lock, r.Version, r)
		}
	}
}
