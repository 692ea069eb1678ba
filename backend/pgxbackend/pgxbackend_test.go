package pgxbackend_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

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

func harness(open func(t *testing.T) backendtest.Store) backendtest.Harness {
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

// goodRows counts the rows GoodSQL inserted.
func goodRows(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) int {
	t.Helper()
	var n int
	err := q.QueryRow(context.Background(), "SELECT count(*) FROM good").Scan(&n)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConformancePool(t *testing.T) {
	backendtest.Run(t, harness(func(t *testing.T) backendtest.Store {
		pool := pgtest.Pool(t)
		return backendtest.Store{
			Backend: func(key string) backend.Backend { return pgxbackend.New(pool, &pgxbackend.Options{AppKey: key}) },
			Effects: func(t *testing.T) int { return goodRows(t, pool) },
		}
	}))
}

func TestConformanceConn(t *testing.T) {
	backendtest.Run(t, harness(func(t *testing.T) backendtest.Store {
		url := pgtest.ConnString(t)
		connect := func() *pgx.Conn {
			conn, err := pgx.Connect(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close(context.Background()) })
			return conn
		}
		observer := connect()
		return backendtest.Store{
			// A single connection is not for concurrent use: each backend
			// gets its own, as each process would.
			Backend: func(key string) backend.Backend { return pgxbackend.New(connect(), &pgxbackend.Options{AppKey: key}) },
			Effects: func(t *testing.T) int { return goodRows(t, observer) },
		}
	}))
}

func TestConformanceHostileNames(t *testing.T) {
	backendtest.Run(t, harness(func(t *testing.T) backendtest.Store {
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
		return backendtest.Store{
			Backend: func(key string) backend.Backend {
				return pgxbackend.New(pool, &pgxbackend.Options{Schema: `my "schema"`, Table: hostileTable, AppKey: key + `'; DROP TABLE canary; --`})
			},
			Effects: func(t *testing.T) int { return goodRows(t, pool) },
		}
	}))
}

func TestHostileNamesCreateTheNamedTable(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	db := pgxbackend.New(pool, &pgxbackend.Options{Schema: `my "schema"`, Table: hostileTable})
	s, err := db.TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, backend.Step{SQL: "", Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1, Name: "x", Checksum: source.ChecksumOf("x")}}}); err != nil {
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
		s, err := db.TryLock(ctx)
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
	if got := pgtest.Objects(t, pool); len(got) != 0 {
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
	// A pool whose every connection attempt would fail: invalid options
	// must be reported before anything touches the database.
	cfg, err := pgxpool.ParseConfig("host=/nonexistent port=1 user=u dbname=d connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx := context.Background()
	tests := []struct {
		opts   pgxbackend.Options
		option string
		reason string
	}{
		{pgxbackend.Options{Table: "a\x00b"}, "Options.Table", "contains a NUL byte"},
		{pgxbackend.Options{Table: strings.Repeat("t", 64)}, "Options.Table", "is 64 bytes long; PostgreSQL keeps names of at most 63 bytes"},
		{pgxbackend.Options{Schema: strings.Repeat("s", 64)}, "Options.Schema", "63 bytes"},
		{pgxbackend.Options{Schema: "bad\xff"}, "Options.Schema", "is not valid UTF-8"},
		{pgxbackend.Options{AppKey: "k\x00"}, "Options.AppKey", "contains a NUL byte"},
		{pgxbackend.Options{AppKey: strings.Repeat("k", 1<<20)}, "Options.AppKey", "is 1048576 bytes long; at most 256"},
		{pgxbackend.Options{Lock: pgxbackend.LockMode(9)}, "Options.Lock", "want LockAuto, LockAdvisory or LockLease"},
		{pgxbackend.Options{LeaseTTL: time.Millisecond}, "Options.LeaseTTL", "want between 1s and 1h"},
	}
	for _, tt := range tests {
		db := pgxbackend.New(pool, &tt.opts)
		check := func(what string, err error) {
			t.Helper()
			var oe *pgxbackend.OptionError
			if !errors.Is(err, backend.ErrBadOptions) || !errors.As(err, &oe) || oe.Option != tt.option ||
				!strings.Contains(err.Error(), tt.reason) || !strings.HasPrefix(err.Error(), "pgxbackend: "+tt.option+" ") {
				t.Errorf("%s with %s = %v, want an OptionError for %s saying %q", what, tt.option, err, tt.option, tt.reason)
			}
			if len(err.Error()) > 200 {
				t.Errorf("%s: message of %d bytes; the value must be shortened", what, len(err.Error()))
			}
		}
		check("Check", db.Check())
		_, err := db.ReadState(ctx)
		check("ReadState", err)
		_, err = db.TryLock(ctx)
		check("TryLock", err)
	}
	if err := pgxbackend.New(pool, nil).Check(); err != nil {
		t.Errorf("Check of the defaults = %v", err)
	}
	if err := pgxbackend.New((*pgxpool.Pool)(nil), nil).Check(); !errors.Is(err, backend.ErrBadOptions) {
		t.Errorf("Check of a nil pool = %v, want ErrBadOptions", err)
	}
}

func TestStandardConformingStringsOff(t *testing.T) {
	conn := pgtest.Conn(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SET standard_conforming_strings = off"); err != nil {
		t.Fatal(err)
	}
	_, err := pgxbackend.New(conn, nil).TryLock(ctx)
	if err == nil || !strings.Contains(err.Error(), "standard_conforming_strings") {
		t.Errorf("Lock with standard_conforming_strings off = %v, want a refusal", err)
	}
}

// locked takes the migration lock on a fresh database, for the test.
func locked(t *testing.T) (*pgxpool.Pool, backend.Session) {
	t.Helper()
	pool := pgtest.Pool(t)
	s, err := pgxbackend.New(pool, nil).TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Unlock(context.Background()) })
	return pool, s
}

func TestScriptErrorPosition(t *testing.T) {
	_, s := locked(t)
	ctx := context.Background()
	// Multi-byte characters before the error: the server counts
	// characters, the ScriptError reports bytes.
	script := "SELECT '日本語';\n-- ünïcödé\nSELECT 'é', missing_column FROM pg_class"
	err := s.Apply(ctx, backend.Step{SQL: script, Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1, Checksum: source.ChecksumOf(script)}}})
	var se *backend.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("Apply = %v, want a *backend.ScriptError", err)
	}
	if want := strings.Index(script, "missing_column"); se.Pos.Offset != want || se.Pos.Statement != 2 || se.Pos.Line != 3 || se.Pos.Column != 13 {
		t.Errorf("ScriptError.Pos = %+v, want offset %d, 3:13, statement 2", se.Pos, want)
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
	s, err := db.TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A script that changes its session: the history must still go to the
	// table the session started with, and the setting must not reach the
	// pool's other users.
	script := "CREATE SCHEMA other; SET search_path = other"
	if err := s.Apply(ctx, backend.Step{SQL: script, Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1, Checksum: source.ChecksumOf(script)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, backend.Step{SQL: "CREATE TABLE t (id int)", Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 2}}}); err != nil {
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
	// Step 2 starts from the session state the lock was taken with: the
	// search_path step 1 set is gone, so t is in public.
	want := []string{"i public.waymark_history_app_key_idx", "i public.waymark_history_app_key_name_idx", "i public.waymark_history_pkey", "r public.t", "r public.waymark_history", "schema other"}
	if got := pgtest.Objects(t, pool); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("objects = %q, want %q", got, want)
	}
}

func TestOneLockPerTableHoweverItIsNamed(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	held, err := pgxbackend.New(pool, nil).TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock(ctx)
	// The same table, named with its schema: the same lock.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if s, err := pgxbackend.New(pool, &pgxbackend.Options{Schema: "public"}).TryLock(short); err == nil {
		s.Unlock(ctx)
		t.Fatal(`Options{Schema: "public"} took the lock of public.waymark_history while Options{} held it`)
	}
	// Another app key: another lock.
	other, err := pgxbackend.New(pool, &pgxbackend.Options{Schema: "public", AppKey: "other"}).TryLock(ctx)
	if err != nil {
		t.Fatalf("another app key: %v", err)
	}
	other.Unlock(ctx)
}

func TestApplyRefusesATransactionItDidNotOpen(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	db := pgxbackend.New(pool, nil)
	s, err := db.TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A no-transaction script that begins a transaction and stops.
	if err := s.Exec(ctx, "BEGIN", backend.Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "CREATE TABLE half (id int)", backend.Limits{}); err != nil {
		t.Fatal(err)
	}
	err = s.Apply(ctx, backend.Step{SQL: "", Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1}}})
	if err == nil || !strings.Contains(err.Error(), "inside a transaction") {
		t.Errorf("Apply inside the script's transaction = %v, want a refusal", err)
	}
	if err := s.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pgtest.Objects(t, pool); len(got) != 0 {
		t.Errorf("objects = %q: the unfinished transaction was committed", got)
	}
}

func TestSavepointsInAStep(t *testing.T) {
	pool, s := locked(t)
	ctx := context.Background()
	script := "CREATE TABLE a (id int);\nSAVEPOINT before;\nINSERT INTO a VALUES (1);\nROLLBACK TO SAVEPOINT before;\nINSERT INTO a VALUES (2);"
	if err := s.Apply(ctx, backend.Step{SQL: script, Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1}}}); err != nil {
		t.Fatalf("a step with savepoints: %v", err)
	}
	var ids string
	if err := pool.QueryRow(ctx, "SELECT string_agg(id::text, ',') FROM a").Scan(&ids); err != nil || ids != "2" {
		t.Errorf("rows = %q, %v; want 2", ids, err)
	}
}

func TestScriptErrorsAreNotHistoryErrors(t *testing.T) {
	_, s := locked(t)
	ctx := context.Background()
	// A function named begin makes the splitter see a BEGIN ATOMIC block
	// that is not there, so its statement count is off; the error must
	// still be the script's.
	script := "CREATE FUNCTION begin() RETURNS int LANGUAGE sql AS 'SELECT 1';\nCREATE TABLE u (id int PRIMARY KEY);\nINSERT INTO u VALUES (1);\nINSERT INTO u VALUES (1);"
	err := s.Apply(ctx, backend.Step{SQL: script, Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1}}})
	var se *backend.ScriptError
	if !errors.As(err, &se) || errors.Is(err, backend.ErrExists) {
		t.Fatalf("Apply = %v, want a *backend.ScriptError, not ErrExists", err)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" || pgErr.TableName != "u" {
		t.Errorf("PgError = %+v, want the script's unique violation on u", pgErr)
	}
	if se.Pos.Statement != 4 {
		t.Errorf("ScriptError.Pos.Statement = %d, want 4 (as the server counts)", se.Pos.Statement)
	}
}

// A syntax error fails the whole query before any statement runs; the
// failing statement is the one the error's position is in.
func TestScriptErrorSyntaxStatement(t *testing.T) {
	_, s := locked(t)
	ctx := context.Background()
	script := "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n\nINSERT INTO a\nVALUES (1),\n       (2),\n       (3,,);\n"
	err := s.Apply(ctx, backend.Step{SQL: script, Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1}}})
	var se *backend.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("Apply = %v, want a *backend.ScriptError", err)
	}
	if se.Pos.Statement != 3 || se.Pos.Line != 7 || se.Pos.Column != 11 {
		t.Errorf("ScriptError.Pos = %+v, want statement 3 at 7:11", se.Pos)
	}
}

// The server's DETAIL and HINT travel with the error.
func TestScriptErrorDetailAndHint(t *testing.T) {
	_, s := locked(t)
	ctx := context.Background()
	script := "CREATE TABLE u (email text);\nINSERT INTO u VALUES ('a@example.com'), ('a@example.com');\nCREATE UNIQUE INDEX u_email ON u (email);"
	err := s.Apply(ctx, backend.Step{SQL: script, Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1}}})
	var se *backend.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("Apply = %v, want a *backend.ScriptError", err)
	}
	if want := "Key (email)=(a@example.com) is duplicated."; se.Detail != want {
		t.Errorf("ScriptError.Detail = %q, want %q", se.Detail, want)
	}
	err = s.Apply(ctx, backend.Step{SQL: "SELECT lenght('x')", Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1}}})
	if !errors.As(err, &se) || !strings.Contains(se.Hint, "explicit type casts") {
		t.Errorf("ScriptError.Hint = %q, want the server's hint about explicit type casts", se.Hint)
	}
}

func TestConformanceLease(t *testing.T) {
	backendtest.Run(t, harness(func(t *testing.T) backendtest.Store {
		pool := pgtest.Pool(t)
		return backendtest.Store{
			Backend: func(key string) backend.Backend {
				return pgxbackend.New(pool, &pgxbackend.Options{AppKey: key, Lock: pgxbackend.LockLease})
			},
			Effects: func(t *testing.T) int { return goodRows(t, pool) },
		}
	}))
}

// Through PgBouncer in transaction pooling mode, where the default lock
// mode finds the pooler and takes leases.
func TestConformanceThroughPgBouncer(t *testing.T) {
	backendtest.Run(t, harness(func(t *testing.T) backendtest.Store {
		pool, err := pgxpool.New(context.Background(), pgtest.Bouncer(t, "transaction"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return backendtest.Store{
			Backend: func(key string) backend.Backend { return pgxbackend.New(pool, &pgxbackend.Options{AppKey: key}) },
			Effects: func(t *testing.T) int { return goodRows(t, pool) },
		}
	}))
}
