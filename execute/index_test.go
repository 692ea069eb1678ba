package execute_test

// Index builds that fail part-way, on a real PostgreSQL: the error names
// every index the step left invalid and the statement that drops it.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
)

// usersIndexes is the script: two concurrent builds, the second
// of which fails on duplicate emails.
const usersIndexes = "-- waymark:no-transaction\n" +
	"CREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n" +
	"CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n"

// An interrupted index build names its index: whichever statement of the
// step failed, the error names every index it left INVALID with the exact
// DROP INDEX CONCURRENTLY, says which statements took effect, and a re-run
// that trips over the leftover says that it is INVALID.
func TestInvalidIndexIsNamed(t *testing.T) {
	ctx := context.Background()
	users := "CREATE TABLE users (id int, name text, email text);\nINSERT INTO users VALUES (1, 'a', 'x@example.com'), (2, 'b', 'x@example.com');"
	for _, tt := range []struct {
		name    string
		script  string
		failing int    // the statement that fails
		index   string // the index it leaves INVALID
		done    string // what the error says of the statements before it
	}{
		{"second statement", usersIndexes, 2, "public.users_email_key", "after statement 1 took effect"},
		{"first statement", "-- waymark:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n" +
			"CREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n", 1, "public.users_email_key", "statement 1 of 2 failed before any statement of the step took effect"},
		{"an unnamed index", "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n" +
			"CREATE UNIQUE INDEX CONCURRENTLY ON users (email);\n", 2, "public.users_email_idx", "after statement 1 took effect"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pool := pgtest.Pool(t)
			set := mapSet(t, map[string]string{"v1_users.up.sql": users, "v2_indexes.up.sql": tt.script})
			db := pgxbackend.New(pool, nil)
			_, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
			var se *execute.StepError
			var pgErr *pgconn.PgError
			if !errors.As(err, &se) || se.Version != 2 || !se.Dirty || se.Pos.Statement != tt.failing ||
				!errors.Is(err, backend.ErrInvalidIndex) || !errors.As(err, &pgErr) || pgErr.Code != "23505" {
				t.Fatalf("Migrate = %v; want version 2 dirty, statement %d failing with 23505 and ErrInvalidIndex", err, tt.failing)
			}
			if got := scalar[string](t, pool, "SELECT coalesce(string_agg(indexrelid::regclass::text, ','), '') FROM pg_index WHERE NOT indisvalid"); "public."+got != tt.index {
				t.Fatalf("invalid indexes %q, want %s: the test does not make what it means to", got, tt.index)
			}
			msg := err.Error()
			for _, want := range []string{tt.index + " is INVALID", "DROP INDEX CONCURRENTLY " + tt.index + ";", tt.done} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q\ndoes not say %q", msg, want)
				}
			}
			if strings.Count(msg, "DROP INDEX CONCURRENTLY") != 1 {
				t.Errorf("error %q\nwants more than the one index dropped", msg)
			}
			// The advice, followed to the letter, lets the next run through.
			if _, err := pool.Exec(ctx, "DROP INDEX CONCURRENTLY "+tt.index); err != nil {
				t.Fatal(err)
			}
			for _, sql := range []string{"DELETE FROM users WHERE id = 2", "DROP INDEX CONCURRENTLY IF EXISTS users_name_idx"} {
				if _, err := pool.Exec(ctx, sql); err != nil {
					t.Fatal(err)
				}
			}
			if err := execute.Resolve(ctx, db, 2, execute.MarkNotApplied, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
				t.Fatalf("Migrate after the fix = %v", err)
			}
			checkHistory(t, pool, set, 1, 2)
		})
	}
}

// A re-run without dropping the invalid index fails on "relation already
// exists"; the error says that the existing index is INVALID and how to
// drop it, and names no index the re-run did not leave.
func TestInvalidIndexRerunSaysTheIndexIsInvalid(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	set := mapSet(t, map[string]string{
		"v1_users.up.sql":   "CREATE TABLE users (id int, name text, email text);\nINSERT INTO users VALUES (1, 'a', 'x@example.com'), (2, 'b', 'x@example.com');",
		"v2_indexes.up.sql": usersIndexes,
	})
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); !errors.Is(err, backend.ErrInvalidIndex) {
		t.Fatalf("first Migrate = %v, want ErrInvalidIndex", err)
	}
	// The operator fixes the data, drops the index of statement 1 (which
	// took effect) and forgets the invalid one.
	for _, sql := range []string{"DELETE FROM users WHERE id = 2", "DROP INDEX CONCURRENTLY users_name_idx"} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := execute.Resolve(ctx, db, 2, execute.MarkNotApplied, nil); err != nil {
		t.Fatal(err)
	}
	_, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
	var se *execute.StepError
	var pgErr *pgconn.PgError
	if !errors.As(err, &se) || se.Pos.Statement != 2 || !errors.As(err, &pgErr) || pgErr.Code != "42P07" || !errors.Is(err, backend.ErrInvalidIndex) {
		t.Fatalf("re-run = %v; want statement 2 failing with 42P07 and ErrInvalidIndex", err)
	}
	for _, want := range []string{"public.users_email_key already exists and is INVALID", "DROP INDEX CONCURRENTLY public.users_email_key;"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\ndoes not say %q", err, want)
		}
	}
}

// An index whose build failed in its validation phase (indisready true,
// indisvalid false: here a lock timeout while the build waits for an older
// snapshot to go away) is caught like one that failed while it was built:
// the failure names it, and an IF NOT EXISTS re-run that finds it does not
// pass for a success.
func TestInvalidIndexFromTheValidationPhase(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	set := mapSet(t, map[string]string{
		"v1_items.up.sql": "CREATE TABLE items (sku text);\nINSERT INTO items VALUES ('a'), ('b');",
		"v2_uniq.up.sql":  "-- waymark:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_sku ON items (sku);",
	})
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	// A transaction that holds a snapshot, and no lock on items: the build
	// goes through its first two phases and waits for it at the end of
	// the validation.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	_, err = execute.Migrate(ctx, db, set, plan.Latest(), &execute.Options{LockTimeout: 500 * time.Millisecond})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("Migrate = %v, want the lock timeout (55P03)", err)
	}
	var ready, valid bool
	if err := pool.QueryRow(ctx, "SELECT indisready, indisvalid FROM pg_index WHERE indexrelid = 'items_sku'::regclass").Scan(&ready, &valid); err != nil {
		t.Fatal(err)
	}
	if !ready || valid {
		t.Fatalf("items_sku has indisready %v, indisvalid %v; want true, false: the build did not fail in its validation phase", ready, valid)
	}
	if !errors.Is(err, backend.ErrInvalidIndex) || !strings.Contains(err.Error(), "DROP INDEX CONCURRENTLY public.items_sku;") {
		t.Errorf("Migrate = %v; want ErrInvalidIndex naming public.items_sku", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := execute.Resolve(ctx, db, 2, execute.MarkNotApplied, nil); err != nil {
		t.Fatal(err)
	}
	_, err = execute.Migrate(ctx, db, set, plan.Latest(), nil)
	var se *execute.StepError
	if !errors.Is(err, backend.ErrInvalidIndex) || !errors.As(err, &se) || !se.Dirty || !strings.Contains(err.Error(), "DROP INDEX CONCURRENTLY public.items_sku;") {
		t.Fatalf("IF NOT EXISTS re-run over the index = %v, want ErrInvalidIndex, dirty, naming public.items_sku", err)
	}
}
