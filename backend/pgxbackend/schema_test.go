package pgxbackend_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// newTenantSet is a set whose two versions create tables with unqualified
// names.
func newTenantSet(t *testing.T) *source.Set {
	t.Helper()
	set, err := source.FromFS(fstest.MapFS{
		"v1_one.up.sql": {Data: []byte("CREATE TABLE h_one (id int)")},
		"v2_two.up.sql": {Data: []byte("CREATE TABLE h_two (id int)")},
	}, ".")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// tablesIn lists the tables of every schema but the system's, as
// "schema.table", sorted.
func tablesIn(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT table_schema || '.' || table_name FROM information_schema.tables
WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(names, " ")
}

// A schema the options name that does not exist yet is created under the
// lock, before the first step, in both lock modes, directly and behind a
// transaction-mode PgBouncer: every step lands in it, and so does the
// history (and the lease table).
func TestSchemaThatDoesNotExistYet(t *testing.T) {
	direct := func(t *testing.T) *pgxpool.Pool { return pgtest.Pool(t) }
	bouncer := func(t *testing.T) *pgxpool.Pool {
		pool, err := pgxpool.New(context.Background(), pgtest.Bouncer(t, "transaction"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	for _, tt := range []struct {
		name string
		pool func(t *testing.T) *pgxpool.Pool
		opts pgxbackend.Options
		want string
	}{
		{"search path, advisory", direct, pgxbackend.Options{SearchPath: []string{"tenant_new", "public"}, Lock: pgxbackend.LockAdvisory},
			"tenant_new.h_one tenant_new.h_two tenant_new.waymark_history"},
		{"search path, lease", direct, pgxbackend.Options{SearchPath: []string{"tenant_new", "public"}, Lock: pgxbackend.LockLease},
			"tenant_new.h_one tenant_new.h_two tenant_new.waymark_history tenant_new.waymark_lease"},
		{"search path alone, advisory", direct, pgxbackend.Options{SearchPath: []string{"tenant_new"}, Lock: pgxbackend.LockAdvisory},
			"tenant_new.h_one tenant_new.h_two tenant_new.waymark_history"},
		{"search path alone, lease", direct, pgxbackend.Options{SearchPath: []string{"tenant_new"}, Lock: pgxbackend.LockLease},
			"tenant_new.h_one tenant_new.h_two tenant_new.waymark_history tenant_new.waymark_lease"},
		{"search path, auto behind pgbouncer", bouncer, pgxbackend.Options{SearchPath: []string{"tenant_new", "public"}},
			"tenant_new.h_one tenant_new.h_two tenant_new.waymark_history tenant_new.waymark_lease"},
		{"history schema and search path apart, lease", direct,
			pgxbackend.Options{Schema: "waymark_meta", SearchPath: []string{"tenant_new", "public"}, Lock: pgxbackend.LockLease},
			"tenant_new.h_one tenant_new.h_two waymark_meta.waymark_history waymark_meta.waymark_lease"},
		{"schema, advisory", direct, pgxbackend.Options{Schema: "fresh_schema", Lock: pgxbackend.LockAdvisory},
			"fresh_schema.waymark_history public.h_one public.h_two"},
		{"schema, lease", direct, pgxbackend.Options{Schema: "fresh_schema", Lock: pgxbackend.LockLease},
			"fresh_schema.waymark_history fresh_schema.waymark_lease public.h_one public.h_two"},
		{"schema, auto behind pgbouncer", bouncer, pgxbackend.Options{Schema: "fresh_schema"},
			"fresh_schema.waymark_history fresh_schema.waymark_lease public.h_one public.h_two"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pool := tt.pool(t)
			ctx := context.Background()
			opts := tt.opts
			res, err := execute.Migrate(ctx, pgxbackend.New(pool, &opts), newTenantSet(t), plan.Latest(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Steps) != 2 {
				t.Errorf("applied %d steps, want 2", len(res.Steps))
			}
			if got := tablesIn(t, pool); got != tt.want {
				t.Errorf("tables after the run:\n got %s\nwant %s", got, tt.want)
			}
			// Again: nothing to do, nothing created twice.
			if res, err := execute.Migrate(ctx, pgxbackend.New(pool, &opts), newTenantSet(t), plan.Latest(), nil); err != nil || len(res.Steps) != 0 {
				t.Errorf("second run: %v steps, %v; want none and no error", len(res.Steps), err)
			}
		})
	}
}

// A role that may not create the missing schema, or may not use the
// schema that exists, gets an error naming the option, and nothing runs.
func TestSchemaThatCannotBeUsed(t *testing.T) {
	url := pgtest.ConnString(t)
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	if _, err := admin.Exec(ctx, `DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'waymark_no_create') THEN CREATE ROLE waymark_no_create LOGIN; END IF; END$$;
GRANT CREATE ON SCHEMA public TO waymark_no_create;
CREATE SCHEMA tenant_closed`); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = "waymark_no_create"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for _, lock := range []pgxbackend.LockMode{pgxbackend.LockAdvisory, pgxbackend.LockLease} {
		for _, tt := range []struct {
			schema string
			want   func(error) bool
		}{
			// May not create it: the server's refusal, with the option.
			{"tenant_new_" + lock.String(), func(err error) bool {
				return strings.Contains(err.Error(), `Options.SearchPath "tenant_new_`+lock.String()+`"`) && strings.Contains(err.Error(), "42501")
			}},
			// Exists, may not use it: the steps would land in public.
			{"tenant_closed", func(err error) bool {
				var oe *pgxbackend.OptionError
				return errors.As(err, &oe) && oe.Option == "Options.SearchPath" && oe.Value == "tenant_closed" && errors.Is(err, backend.ErrBadOptions)
			}},
		} {
			t.Run(lock.String()+" "+tt.schema, func(t *testing.T) {
				opts := &pgxbackend.Options{SearchPath: []string{tt.schema, "public"}, Lock: lock}
				before := tablesIn(t, admin)
				_, err := execute.Migrate(ctx, pgxbackend.New(pool, opts), newTenantSet(t), plan.Latest(), nil)
				if err == nil || !tt.want(err) {
					t.Errorf("Migrate as a role without the privileges: %v; want an error naming Options.SearchPath", err)
				}
				if errors.Is(err, backend.ErrLocked) {
					t.Errorf("reported as lock contention: %v", err)
				}
				if got := tablesIn(t, admin); got != before {
					t.Errorf("tables after the refused run: %s, want those before: %s", got, before)
				}
				// The lock was released: another session takes it at once.
				s, err := pgxbackend.New(admin, opts).TryLock(ctx)
				if err != nil {
					t.Fatalf("lock after the refused run: %v", err)
				}
				if err := s.Unlock(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// A schema created in a whole-plan transaction that is rolled back is
// gone; the next step of the session creates it again, and a failed first
// step leaves no schema behind (advisory lock).
func TestSchemaCreatedInARolledBackTransaction(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	db := pgxbackend.New(pool, &pgxbackend.Options{SearchPath: []string{"tenant_new", "public"}, Lock: pgxbackend.LockAdvisory})
	s, err := db.TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Unlock(ctx); err != nil {
			t.Error(err)
		}
	}()
	if err := s.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, backend.Step{SQL: "CREATE TABLE h_one (id int)", Change: insert(1, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var schemas int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_new'").Scan(&schemas); err != nil || schemas != 0 {
		t.Errorf("schemas named tenant_new after the rollback: %d, %v; want none", schemas, err)
	}
	if err := s.Apply(ctx, backend.Step{SQL: "CREATE TABLE h_one (id int);\nSELECT 1/0", Change: insert(1, 0)}); err == nil {
		t.Fatal("a failing step succeeded")
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_new'").Scan(&schemas); err != nil || schemas != 0 {
		t.Errorf("schemas named tenant_new after a failed first step: %d, %v; want none", schemas, err)
	}
	if err := s.Apply(ctx, backend.Step{SQL: "CREATE TABLE h_one (id int)", Change: insert(1, 0)}); err != nil {
		t.Fatal(err)
	}
	if got, want := tablesIn(t, pool), "tenant_new.h_one tenant_new.waymark_history"; got != want {
		t.Errorf("tables: %s, want %s", got, want)
	}
}
