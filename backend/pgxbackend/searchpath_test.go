package pgxbackend_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/source"
)

// insert is the history change that records version v.
func insert(v int64, dirty source.Direction) backend.Change {
	return backend.Change{Op: backend.Insert, Record: backend.Record{Version: v, Name: "v", Checksum: source.ChecksumOf("v"), Dirty: dirty}}
}

// tenantSteps runs, under db's lock, a step that creates t1 and then
// points the session's search_path elsewhere, a step that creates t2, and
// a no-transaction step that indexes t2: all with unqualified names.
func tenantSteps(t *testing.T, db *pgxbackend.Backend) {
	t.Helper()
	ctx := context.Background()
	s, err := db.TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Unlock(ctx); err != nil {
			t.Error(err)
		}
	}()
	for _, st := range []backend.Step{
		{SQL: "CREATE TABLE t1 (id int);\nSET search_path = public", Change: insert(1, 0)},
		{SQL: "CREATE TABLE t2 (id int)", Change: insert(2, 0)},
		{Change: insert(3, source.Up)},
	} {
		if err := s.Apply(ctx, st); err != nil {
			t.Fatalf("version %d: %v", st.Change.Record.Version, err)
		}
	}
	if err := s.Exec(ctx, "CREATE INDEX CONCURRENTLY t2_idx ON t2 (id)", backend.Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Update, Record: backend.Record{Version: 3}}}); err != nil {
		t.Fatal(err)
	}
}

// relations lists the tables and indexes of schema, sorted, but waymark's
// own.
func relations(t *testing.T, pool *pgxpool.Pool, schema string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'i') AND c.relname NOT LIKE 'waymark%' ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestSearchPath(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	tenants := []string{"tenant_a", `Tenant "B"`}
	for _, tenant := range tenants {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{tenant}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tenant := range tenants {
		tenantSteps(t, pgxbackend.New(pool, &pgxbackend.Options{SearchPath: []string{tenant}}))
	}
	want := "t1 t2 t2_idx"
	for _, tenant := range tenants {
		if got := strings.Join(relations(t, pool, tenant), " "); got != want {
			t.Errorf("schema %q holds %q, want %q", tenant, got, want)
		}
		var history bool
		if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{tenant, pgxbackend.DefaultTable}.Sanitize()).Scan(&history); err != nil || !history {
			t.Errorf("schema %q has no history table (%v)", tenant, err)
		}
		st, err := pgxbackend.New(pool, &pgxbackend.Options{Schema: tenant}).ReadState(ctx)
		if err != nil || len(st) != 3 || st[2].Dirty != 0 {
			t.Errorf("history of %q: %v, %v; want versions 1 to 3, clean", tenant, st, err)
		}
	}
	var public int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'").Scan(&public); err != nil || public != 0 {
		t.Errorf("schema public holds %d relations, want none (%v)", public, err)
	}
	// The pool's connections got their own search_path back.
	for range pool.Stat().TotalConns() + 1 {
		var path string
		if err := pool.QueryRow(ctx, "SHOW search_path").Scan(&path); err != nil || path != `"$user", public` {
			t.Errorf("a pool connection's search_path after the runs = %q, %v", path, err)
		}
	}
}

// A connection whose own search_path was SET keeps it after the run.
func TestSearchPathKeepsTheConnections(t *testing.T) {
	conn := pgtest.Conn(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA tenant; CREATE SCHEMA mine; SET search_path = mine"); err != nil {
		t.Fatal(err)
	}
	tenantSteps(t, pgxbackend.New(conn, &pgxbackend.Options{SearchPath: []string{"tenant", "public"}}))
	var path string
	if err := conn.QueryRow(ctx, "SHOW search_path").Scan(&path); err != nil || path != "mine" {
		t.Errorf("search_path after the run = %q, %v; want mine", path, err)
	}
	var tables string
	err := conn.QueryRow(ctx, "SELECT string_agg(table_schema || '.' || table_name, ' ' ORDER BY table_name) FROM information_schema.tables WHERE table_schema IN ('tenant', 'mine', 'public')").Scan(&tables)
	if want := "tenant.t1 tenant.t2 tenant.waymark_history"; err != nil || tables != want {
		t.Errorf("tables = %q, %v; want %q", tables, err, want)
	}
}

func TestSearchPathOptions(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	for _, tt := range []struct {
		path   []string
		reason string
	}{
		{[]string{""}, "is empty"},
		{[]string{"ok", strings.Repeat("s", 64)}, "63 bytes"},
		{[]string{"a\x00"}, "contains a NUL byte"},
	} {
		db := pgxbackend.New(pool, &pgxbackend.Options{SearchPath: tt.path})
		_, err := db.ReadState(ctx)
		var oe *pgxbackend.OptionError
		if !errors.As(err, &oe) || oe.Option != "Options.SearchPath" || !strings.Contains(oe.Reason, tt.reason) || !errors.Is(err, backend.ErrBadOptions) {
			t.Errorf("SearchPath %q: %v, want an *OptionError for Options.SearchPath: %s", tt.path, err, tt.reason)
		}
	}
}

// Behind a transaction-mode pooler, transactional steps run in the
// tenant's schema; a no-transaction script is refused before its version
// is marked dirty, since its statements would run on whatever server
// connection the pooler picks.
func TestSearchPathThroughPgBouncer(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), pgtest.Bouncer(t, "transaction"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA tenant"); err != nil {
		t.Fatal(err)
	}
	db := pgxbackend.New(pool, &pgxbackend.Options{SearchPath: []string{"tenant"}})
	s, err := db.TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, backend.Step{SQL: "CREATE TABLE t1 (id int);\nSET search_path = public", Change: insert(1, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, backend.Step{SQL: "CREATE TABLE t2 (id int)", Change: insert(2, 0)}); err != nil {
		t.Fatal(err)
	}
	err = s.Apply(ctx, backend.Step{Change: insert(3, source.Up)})
	var oe *pgxbackend.OptionError
	if !errors.As(err, &oe) || oe.Option != "Options.SearchPath" || !errors.Is(err, backend.ErrBadOptions) {
		t.Errorf("marking a no-transaction step dirty under a lease: %v, want an *OptionError for Options.SearchPath", err)
	}
	if err := s.Exec(ctx, "CREATE INDEX CONCURRENTLY t2_idx ON t2 (id)", backend.Limits{}); !errors.As(err, &oe) {
		t.Errorf("Exec under a lease with a search path: %v, want an *OptionError", err)
	}
	if err := s.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := db.ReadState(ctx)
	if err != nil || len(st) != 2 {
		t.Errorf("history: %v, %v; want versions 1 and 2, nothing of version 3", st, err)
	}
	var where1, where2 string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('tenant.t1')::text, to_regclass('tenant.t2')::text").Scan(&where1, &where2); err != nil || where1 == "" || where2 == "" {
		t.Errorf("tenant's tables: %q, %q, %v", where1, where2, err)
	}
}
