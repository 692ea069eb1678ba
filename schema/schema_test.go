package schema_test

import (
	"context"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/schema"
	"github.com/waymarkdb/waymark/waymarktest"
)

// exec runs sql on pool or fails the test.
func exec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
}

func read(t *testing.T, pool *pgxpool.Pool, opts *schema.Options) *schema.Snapshot {
	t.Helper()
	s, err := schema.Read(t.Context(), pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// everything applies testdata/everything.sql to a new database and reads
// its snapshot.
func everything(t *testing.T) (*pgxpool.Pool, *schema.Snapshot) {
	t.Helper()
	sql, err := os.ReadFile("testdata/everything.sql")
	if err != nil {
		t.Fatal(err)
	}
	pool := waymarktest.Pool(t, nil, nil)
	exec(t, pool, string(sql))
	return pool, read(t, pool, nil)
}

func TestReadEmptyDatabase(t *testing.T) {
	t.Parallel()
	s := read(t, waymarktest.Pool(t, nil, nil), nil)
	if diff := cmp.Diff([]string{"public"}, slices.Sorted(maps.Keys(s.Schemas))); diff != "" {
		t.Errorf("schemas of a new database (-want +got):\n%s", diff)
	}
	if _, ok := s.Extensions["plpgsql"]; len(s.Extensions) != 1 || !ok {
		t.Errorf("extensions = %+v; want plpgsql only", s.Extensions)
	}
	empty := &schema.Snapshot{Schemas: s.Schemas, Extensions: s.Extensions}
	if diff := cmp.Diff(empty, s); diff != "" {
		t.Errorf("a new database has objects (-want +got):\n%s", diff)
	}
}

// find returns the element of xs named name, or fails the test.
func find[T any](t *testing.T, xs []T, name string, nameOf func(T) string) T {
	t.Helper()
	for _, x := range xs {
		if nameOf(x) == name {
			return x
		}
	}
	var names []string
	for _, x := range xs {
		names = append(names, nameOf(x))
	}
	t.Fatalf("no %s among %q", name, names)
	panic("unreachable")
}

// get returns m[key], or fails the test.
func get[T any](t *testing.T, m map[string]T, key string) T {
	t.Helper()
	x, ok := m[key]
	if !ok {
		t.Fatalf("no %s among %q", key, slices.Sorted(maps.Keys(m)))
	}
	return x
}

func objName(x schema.Object) string           { return x.Type + " " + x.Identity }
func defPriv(x schema.DefaultPrivilege) string { return x.Role + " " + x.Schema + " " + x.ObjectType }

// TestReadEverything checks that each kind of object the package doc
// promises shows up with its facts.
func TestReadEverything(t *testing.T) {
	t.Parallel()
	_, s := everything(t)

	app := get(t, s.Schemas, "app")
	if app.Comment != "the application" || !contains(app.Privileges, "waymark_schema_reader=U/") {
		t.Errorf("schema app = %+v", app)
	}

	users := get(t, s.Relations, "app.users")
	if users.Kind != "table" || users.Comment != "people" || !users.RowSecurity || users.ForceRowSecurity ||
		users.ReplicaIdentity != "full" || !reflect.DeepEqual(users.Options, []string{"fillfactor=70"}) ||
		!contains(users.Privileges, "waymark_schema_reader=r/") {
		t.Errorf("table app.users = %+v", users)
	}
	wantCols := []schema.Column{
		{Name: "id", Type: "bigint", NotNull: true, Identity: "GENERATED ALWAYS AS IDENTITY"},
		{Name: "email", Type: "text", NotNull: true, Comment: "login"},
		{Name: "name", Type: "text", Default: "'anon'::text", Collation: `pg_catalog."C"`,
			Privileges: users.Columns[2].Privileges},
		{Name: "mood", Type: "app.mood"},
		{Name: "score", Type: "app.positive"},
		{Name: "serial_no", Type: "integer", NotNull: true, Default: "nextval('app.users_serial_no_seq'::regclass)"},
		{Name: "doubled", Type: "integer", Generated: "GENERATED ALWAYS AS (((score)::integer * 2)) STORED"},
		{Name: "bio", Type: "text", Compression: "pglz"},
	}
	if diff := cmp.Diff(wantCols, users.Columns); diff != "" {
		t.Errorf("columns of app.users (-want +got):\n%s", diff)
	}
	if p := users.Columns[2].Privileges; len(p) != 1 || !strings.HasPrefix(p[0], "waymark_schema_reader=w/") {
		t.Errorf("privileges of column name = %q; want UPDATE (w) for waymark_schema_reader", p)
	}
	if c := get(t, users.Constraints, "users_name_check"); c.Kind != "check" || c.Definition != "CHECK ((name <> ''::text))" {
		t.Errorf("constraint users_name_check = %+v", c)
	}
	if i := get(t, users.Indexes, "users_mood_idx"); !i.Valid ||
		i.Definition != "CREATE INDEX users_mood_idx ON app.users USING btree (mood) WHERE (mood IS NOT NULL)" {
		t.Errorf("index users_mood_idx = %+v", i)
	}
	if i := get(t, users.Indexes, "users_name_idx"); !i.Clustered || i.Comment != "for search" {
		t.Errorf("index users_name_idx = %+v", i)
	}
	if tr := get(t, users.Triggers, "users_touch"); tr.Enabled != "disabled" ||
		!strings.Contains(tr.Definition, "EXECUTE FUNCTION app.touch()") {
		t.Errorf("trigger users_touch = %+v", tr)
	}
	if p := get(t, users.Policies, "users_self"); p.Permissive || p.Command != "UPDATE" ||
		!reflect.DeepEqual(p.Roles, []string{"waymark_schema_reader"}) || p.Using == "" || p.WithCheck == "" {
		t.Errorf("policy users_self = %+v", p)
	}

	orders := get(t, s.Relations, "app.orders")
	if c := get(t, orders.Constraints, "orders_user_id_fkey"); c.Kind != "foreign key" ||
		c.Definition != "FOREIGN KEY (user_id) REFERENCES app.users(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED" {
		t.Errorf("constraint orders_user_id_fkey = %+v", c)
	}
	if c := get(t, orders.Constraints, "orders_no_overlap"); c.Kind != "exclusion" {
		t.Errorf("constraint orders_no_overlap = %+v", c)
	}
	if r := get(t, s.Relations, "app.scratch"); !r.Unlogged || len(r.Rules) != 1 ||
		!strings.Contains(get(t, r.Rules, "scratch_ignore").Definition, "DO INSTEAD NOTHING") {
		t.Errorf("table app.scratch = %+v", r)
	}
	if r := get(t, s.Relations, "app.events"); r.Kind != "partitioned table" || r.PartitionKey != "RANGE (at)" {
		t.Errorf("table app.events = %+v", r)
	}
	if r := get(t, s.Relations, "app.events_2024"); !reflect.DeepEqual(r.Inherits, []string{"app.events"}) ||
		r.PartitionBound != "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')" {
		t.Errorf("partition app.events_2024 = %+v", r)
	}
	if r := get(t, s.Relations, "app.child"); !reflect.DeepEqual(r.Inherits, []string{"app.base"}) {
		t.Errorf("table app.child = %+v", r)
	}
	if r := get(t, s.Relations, "app.user_names"); r.Kind != "view" ||
		!strings.Contains(r.Definition, "FROM app.users") || !reflect.DeepEqual(r.Options, []string{"security_barrier=true"}) {
		t.Errorf("view app.user_names = %+v", r)
	}
	if r := get(t, s.Relations, "app.user_count"); r.Kind != "materialized view" || len(r.Indexes) != 1 {
		t.Errorf("materialized view app.user_count = %+v", r)
	}

	if x := get(t, s.Types, "app.mood"); x.Kind != "enum" || !reflect.DeepEqual(x.Labels, []string{"sad", "ok", "happy"}) ||
		x.Comment != "how it went" {
		t.Errorf("type app.mood = %+v", x)
	}
	if x := get(t, s.Types, "app.positive"); x.Kind != "domain" || x.Definition != "integer NOT NULL DEFAULT 1" ||
		len(x.Constraints) != 1 || x.Constraints["positive_check"].Definition != "CHECK ((VALUE > 0))" {
		t.Errorf("type app.positive = %+v", x)
	}
	if x := get(t, s.Types, "app.code"); x.Definition != `text COLLATE pg_catalog."C"` {
		t.Errorf("type app.code = %+v", x)
	}
	if x := get(t, s.Types, "app.pair"); x.Kind != "composite" || len(x.Attributes) != 2 || x.Attributes[1].Collation == "" {
		t.Errorf("type app.pair = %+v", x)
	}
	if x := get(t, s.Types, "app.floatrange"); x.Kind != "range" || !strings.HasPrefix(x.Definition, "subtype double precision") {
		t.Errorf("type app.floatrange = %+v", x)
	}
	if len(s.Types) != 5 {
		t.Errorf("%d types; want the 5 of the file (no array, row or multirange types)", len(s.Types))
	}

	if x := get(t, s.Sequences, "app.counter"); x.Type != "integer" || x.Start != 10 || x.Increment != 5 ||
		x.Min != 10 || x.Max != 1000 || x.Cache != 2 || !x.Cycle || x.OwnedBy != "" {
		t.Errorf("sequence app.counter = %+v", x)
	}
	if x := get(t, s.Sequences, "app.users_id_seq"); x.OwnedBy != "app.users.id" || !x.Identity {
		t.Errorf("sequence app.users_id_seq = %+v", x)
	}
	if x := get(t, s.Sequences, "app.users_serial_no_seq"); x.OwnedBy != "app.users.serial_no" || x.Identity {
		t.Errorf("sequence app.users_serial_no_seq = %+v", x)
	}

	if x := get(t, s.Functions, "app.add(a integer, b integer)"); x.Kind != "function" || x.Comment != "adds" ||
		!strings.Contains(x.Definition, "BEGIN ATOMIC") || contains(x.Privileges, "=X/") {
		t.Errorf("function app.add = %+v", x)
	}
	if x := get(t, s.Functions, "app.touch()"); !strings.Contains(x.Definition, "NEW.name := coalesce(NEW.name, 'x');") {
		t.Errorf("function app.touch = %+v", x)
	}
	if x := get(t, s.Functions, "app.noop()"); x.Kind != "procedure" {
		t.Errorf("procedure app.noop = %+v", x)
	}
	if x := get(t, s.Functions, "app.total(integer)"); x.Kind != "aggregate" ||
		!strings.Contains(x.Definition, "SFUNC = int4pl(integer,integer)") {
		t.Errorf("aggregate app.total = %+v", x)
	}
	if len(s.Functions) != 4 {
		t.Errorf("%d functions; want the 4 of the file (no range constructors)", len(s.Functions))
	}

	if x := find(t, s.DefaultPrivileges, "postgres app tables", defPriv); !contains(x.Privileges, "waymark_schema_reader=r/") {
		t.Errorf("default privileges = %+v", x)
	}
	find(t, s.Objects, "collation app.bytes", objName)
	find(t, s.Objects, "cast (app.pair AS pg_catalog.text)", objName)
	find(t, s.Objects, "text search configuration app.simple_cfg", objName)
	if x := find(t, s.Objects, "statistics object app.users_stats", objName); !strings.HasPrefix(x.Definition, "CREATE STATISTICS app.users_stats") {
		t.Errorf("statistics object = %+v", x)
	}
	if len(s.Objects) != 4 {
		t.Errorf("objects = %+v; want the 4 of the file", s.Objects)
	}
}

// contains reports whether one of privs starts with prefix.
func contains(privs []string, prefix string) bool {
	for _, p := range privs {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// TestReadIsDeterministic builds one schema twice, in different orders,
// with different OIDs and a different search_path, and with objects made
// and dropped on the way, and requires equal snapshots and texts.
func TestReadIsDeterministic(t *testing.T) {
	t.Parallel()
	_, a := everything(t)

	pool := waymarktest.Pool(t, nil, nil)
	// Objects made and dropped first move every later OID.
	exec(t, pool, "CREATE TABLE noise (id int); CREATE TYPE noise_t AS ENUM ('x'); DROP TABLE noise; DROP TYPE noise_t;")
	sql, err := os.ReadFile("testdata/everything.sql")
	if err != nil {
		t.Fatal(err)
	}
	exec(t, pool, string(sql))
	// A GRANT taken back reads as no GRANT at all.
	exec(t, pool, "GRANT ALL ON app.base TO PUBLIC; REVOKE ALL ON app.base FROM PUBLIC;")
	if _, err := pool.Exec(t.Context(), "ALTER DATABASE "+currentDB(t, pool)+" SET search_path = app, public"); err != nil {
		t.Fatal(err)
	}
	pool.Reset() // new connections get the search_path
	b := read(t, pool, nil)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("snapshots of one schema differ (-first +second):\n%s", diff)
	}
	if a.String() != b.String() {
		t.Errorf("texts of one schema differ:\n%s\n---\n%s", a, b)
	}
	if strings.Contains(a.String(), "oid") {
		t.Errorf("the text mentions an OID:\n%s", a)
	}
}

func currentDB(t *testing.T, pool *pgxpool.Pool) string {
	var name string
	if err := pool.QueryRow(t.Context(), "SELECT quote_ident(current_database())").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestExcludeTables(t *testing.T) {
	t.Parallel()
	pool := waymarktest.Pool(t, nil, nil)
	exec(t, pool, `CREATE SCHEMA other;
CREATE TABLE history (id serial PRIMARY KEY);
CREATE TABLE other.history (id int);
CREATE TABLE other.kept (id int);`)
	names := func(s *schema.Snapshot) (rels, seqs []string) {
		return slices.Sorted(maps.Keys(s.Relations)), slices.Sorted(maps.Keys(s.Sequences))
	}
	tests := []struct {
		exclude    []string
		rels, seqs []string
	}{
		{nil, []string{"other.history", "other.kept", "public.history"}, []string{"public.history_id_seq"}},
		{[]string{"history"}, []string{"other.kept"}, nil},
		{[]string{"public.history"}, []string{"other.history", "other.kept"}, nil},
		{[]string{"other.history", "other.kept"}, []string{"public.history"}, []string{"public.history_id_seq"}},
	}
	for _, tt := range tests {
		rels, seqs := names(read(t, pool, &schema.Options{ExcludeTables: tt.exclude}))
		if diff := cmp.Diff(tt.rels, rels); diff != "" {
			t.Errorf("ExcludeTables %q: relations (-want +got):\n%s", tt.exclude, diff)
		}
		if diff := cmp.Diff(tt.seqs, seqs); diff != "" {
			t.Errorf("ExcludeTables %q: sequences (-want +got):\n%s", tt.exclude, diff)
		}
	}
}

func TestIgnoreColumnOrder(t *testing.T) {
	t.Parallel()
	a, b := waymarktest.Pool(t, nil, nil), waymarktest.Pool(t, nil, nil)
	exec(t, a, "CREATE TABLE t (x int, y text)")
	exec(t, b, "CREATE TABLE t (x int); ALTER TABLE t ADD COLUMN y text")
	exec(t, b, "ALTER TABLE t DROP COLUMN x; ALTER TABLE t ADD COLUMN x int") // x now comes last
	if diff := cmp.Diff(read(t, a, nil), read(t, b, nil)); diff == "" {
		t.Errorf("a moved column makes no difference by default")
	}
	opts := &schema.Options{IgnoreColumnOrder: true}
	if diff := cmp.Diff(read(t, a, opts), read(t, b, opts)); diff != "" {
		t.Errorf("with IgnoreColumnOrder, a moved column makes a difference:\n%s", diff)
	}
}

// TestExtensionMembers checks that an extension is listed and its objects
// are not. It needs an extension the server has beyond plpgsql (the
// contrib modules).
func TestExtensionMembers(t *testing.T) {
	t.Parallel()
	pool := waymarktest.Pool(t, nil, nil)
	var ext string
	err := pool.QueryRow(t.Context(), `SELECT name FROM pg_available_extensions
WHERE name IN ('citext', 'pgcrypto', 'hstore', 'pg_trgm') ORDER BY name LIMIT 1`).Scan(&ext)
	if err != nil {
		t.Skipf("no contrib extension on this server (%v): install the server's contrib modules to run this test", err)
	}
	before := read(t, pool, nil)
	exec(t, pool, "CREATE EXTENSION "+ext)
	after := read(t, pool, nil)
	want := *before
	want.Extensions = after.Extensions
	if diff := cmp.Diff(&want, after); diff != "" {
		t.Errorf("CREATE EXTENSION %s changed more than the extensions (-want +got):\n%s", ext, diff)
	}
	get(t, after.Extensions, ext)
}

func TestString(t *testing.T) {
	t.Parallel()
	_, s := everything(t)
	text := s.String()
	for _, want := range []string{
		"schema app owner postgres\n",
		"  comment \"the application\"\n",
		"table app.users owner postgres\n",
		"  column id bigint NOT NULL GENERATED ALWAYS AS IDENTITY\n",
		"  column name text COLLATE pg_catalog.\"C\" DEFAULT 'anon'::text\n",
		"  index users_name_idx (clustered): CREATE INDEX users_name_idx ON app.users USING btree (lower(name))\n",
		"  trigger users_touch (disabled): CREATE TRIGGER users_touch BEFORE INSERT ON app.users FOR EACH ROW EXECUTE FUNCTION app.touch()\n",
		"type app.mood enum owner postgres\n  labels \"sad\", \"ok\", \"happy\"\n",
		"sequence app.users_id_seq bigint start 1 increment 1 min 1 max 9223372036854775807 cache 1 owned by app.users.id (identity) owner postgres\n",
		"function app.touch() owner postgres\n  CREATE OR REPLACE FUNCTION app.touch()\n",
		"statistics object app.users_stats\n  CREATE STATISTICS app.users_stats (dependencies) ON email, name FROM app.users\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text does not contain %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\n\n") || !strings.HasSuffix(text, "\n") {
		t.Errorf("text has an empty line or no final newline:\n%s", text)
	}
}

func TestReadCancelled(t *testing.T) {
	t.Parallel()
	pool := waymarktest.Pool(t, nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := schema.Read(ctx, pool, nil); err == nil || !strings.HasPrefix(err.Error(), "schema: ") {
		t.Errorf("Read with a cancelled context: %v; want an error starting with schema:", err)
	}
}
