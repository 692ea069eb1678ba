package pgxbackend_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/backendtest"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/source"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const hostileTable = `x"; DROP TABLE canary; --`

func harness(open func(t *testing.T) func(string) backend.Backend) backendtest.Harness {
	const bad = "SELECT 1;\nSELECT * FROM no_such_table"
	return backendtest.Harness{
		Open:          open,
		GoodSQL:       "CREATE TABLE IF NOT EXISTS good (x int);\nINSERT INTO good VALUES (1)",
		BadSQL:        bad,
		BadSQLOffset:  strings.Index(bad, "no_such_table"),
		GoodStatement: "SELECT 1",
		BadStatement:  "SELECT 1/0",
	}
}

func TestConformancePool(t *testing.T) {
	backendtest.Run(t, harness(func(t *testing.T) func(string) backend.Backend {
		pool := pgtest.Pool(t)
		return func(key string) backend.Backend { return pgxbackend.New(pool, &pgxbackend.Options{AppKey: key}) }
	}))
}

func TestConformanceConn(t *testing.T) {
	backendtest.Run(t, harness(func(t *testing.T) func(string) backend.Backend {
		url := pgtest.ConnString(t)
		// A single connection is not for concurrent use: each backend gets
		// its own, as each process would.
		return func(key string) backend.Backend {
			conn, err := pgx.Connect(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close(context.Background()) })
			return pgxbackend.New(conn, &pgxbackend.Options{AppKey: key})
		}
	}))
}

func TestConformanceHostileNames(t *testing.T) {
	backendtest.Run(t, harness(func(t *testing.T) func(string) backend.Backend {
		pool := pgtest.Pool(t)
		ctx := context.Background()
		if _, err := pool.Exec(ctx, "CREATE TABLE canary (id int)"); err != nil {
			t.Fatal(err)
		}
		// The names must have been used as names, never as SQL.
		t.Cleanup(func() {
			var n int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM canary").Scan(&n); err != nil {
				t.Errorf("the canary table did not survive: %v", err)
			}
		})
		return func(key string) backend.Backend {
			return pgxbackend.New(pool, &pgxbackend.Options{Schema: `my "schema"`, Table: hostileTable, AppKey: key + `'; DROP TABLE canary; --`})
		}
	}))
}

func TestHostileNamesCreateTheNamedTable(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	db := pgxbackend.New(pool, &pgxbackend.Options{Schema: `my "schema"`, Table: hostileTable})
	s, err := db.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, "", backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1, Name: "x", Checksum: source.ChecksumOf("x")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	err = pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = $2", `my "schema"`, hostileTable).Scan(&n)
	if err != nil || n != 1 {
		t.Errorf("history table %q in schema %q: found %d, %v", hostileTable, `my "schema"`, n, err)
	}
}

// objects lists the tables and schemas a user could have made.
func objects(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, _ := pool.Query(context.Background(), `
SELECT 'table ' || schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public')
ORDER BY 1`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestReadStateWritesNothing(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	for _, opts := range []*pgxbackend.Options{nil, {Schema: "elsewhere", Table: "hist"}} {
		db := pgxbackend.New(pool, opts)
		st, err := db.ReadState(ctx)
		if err != nil || len(st) != 0 {
			t.Errorf("ReadState of an empty database = %v, %v", st, err)
		}
		// Under the lock too, until the first write.
		s, err := db.Lock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := s.ReadState(ctx); err != nil || len(st) != 0 {
			t.Errorf("Session.ReadState of an empty database = %v, %v", st, err)
		}
		if err := s.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := objects(t, pool); len(got) != 0 {
		t.Errorf("reading the state created %q", got)
	}
}

func TestNotAHistoryTable(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE waymark_history (id int)"); err != nil {
		t.Fatal(err)
	}
	_, err := pgxbackend.New(pool, nil).ReadState(ctx)
	if err == nil || !strings.Contains(err.Error(), "is not a waymark history table") {
		t.Errorf("ReadState of a foreign table = %v, want an error saying so", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	for _, opts := range []*pgxbackend.Options{
		{Table: "a\x00b"},
		{Schema: strings.Repeat("s", 64)},
		{AppKey: "k\x00"},
	} {
		db := pgxbackend.New(pool, opts)
		if _, err := db.ReadState(ctx); err == nil {
			t.Errorf("ReadState with %+v succeeded", opts)
		}
		if _, err := db.Lock(ctx); err == nil {
			t.Errorf("Lock with %+v succeeded", opts)
		}
	}
}

func TestStandardConformingStringsOff(t *testing.T) {
	conn := pgtest.Conn(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SET standard_conforming_strings = off"); err != nil {
		t.Fatal(err)
	}
	_, err := pgxbackend.New(conn, nil).Lock(ctx)
	if err == nil || !strings.Contains(err.Error(), "standard_conforming_strings") {
		t.Errorf("Lock with standard_conforming_strings off = %v, want a refusal", err)
	}
}

func TestScriptErrorPosition(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	s, err := pgxbackend.New(pool, nil).Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlock(ctx)
	// Multi-byte characters before the error: the server counts
	// characters, the ScriptError reports bytes.
	script := "SELECT '日本語';\n-- ünïcödé\nSELECT 'é', missing_column FROM pg_class"
	err = s.Apply(ctx, script, backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1, Checksum: source.ChecksumOf(script)}})
	var se *backend.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("Apply = %v, want a *backend.ScriptError", err)
	}
	if want := strings.Index(script, "missing_column"); se.Offset != want || se.Statement != 1 {
		t.Errorf("ScriptError = {Offset %d, Statement %d}, want {%d, 1}", se.Offset, se.Statement, want)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42703" {
		t.Errorf("errors.As(*pgconn.PgError) = %v, want SQLSTATE 42703", pgErr)
	}
}

func TestSessionSettingsDoNotLeakIntoThePool(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	db := pgxbackend.New(pool, nil)
	s, err := db.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A script that changes its session: the history must still go to the
	// table the session started with, and the setting must not reach the
	// pool's other users.
	script := "CREATE SCHEMA other; SET search_path = other"
	if err := s.Apply(ctx, script, backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1, Checksum: source.ChecksumOf(script)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, "CREATE TABLE t (id int)", backend.Change{Op: backend.Insert, Record: backend.Record{Version: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := db.ReadState(ctx)
	if err != nil || len(st) != 2 {
		t.Errorf("state = %v, %v; want versions 1 and 2 in public.waymark_history", st, err)
	}
	for range 5 { // every connection the pool may hand out
		var path string
		if err := pool.QueryRow(ctx, "SHOW search_path").Scan(&path); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(path, "other") {
			t.Fatalf("a pooled connection has the script's search_path %q", path)
		}
	}
	want := []string{"schema other", "table other.t", "table public.waymark_history"}
	if got := objects(t, pool); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("objects = %q, want %q", got, want)
	}
}
