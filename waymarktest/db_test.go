package waymarktest_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/waymarktest"
)

// TestParallelDatabases gives 50 parallel subtests a database each at the
// demo set's latest version, and checks that each has its own.
func TestParallelDatabases(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a test of waymark under load or of its own machinery, not of the PostgreSQL version; make test runs it")
	}
	t.Parallel()
	set := testsets.Load(t, "sample")
	const n = 50
	var (
		mu    sync.Mutex
		names = map[string]int{}
	)
	t.Run("group", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				pool := waymarktest.Pool(t, set, nil)
				ctx := t.Context()
				for j := range i {
					if _, err := pool.Exec(ctx, "INSERT INTO users (name, email) VALUES ($1, $2)",
						fmt.Sprint("user ", j), fmt.Sprintf("U%d@example.com", j)); err != nil {
						t.Fatal(err)
					}
				}
				var name string
				var count int
				var email string
				err := pool.QueryRow(ctx, `SELECT current_database(), (SELECT count(*) FROM users),
	coalesce((SELECT min(email) FROM users), '')`).Scan(&name, &count, &email)
				if err != nil {
					t.Fatal(err)
				}
				if count != i {
					t.Errorf("users has %d rows; want %d", count, i)
				}
				if i > 0 && email != "u0@example.com" {
					t.Errorf("email %q: the trigger of version 2 did not lower it", email)
				}
				if _, err := pool.Exec(ctx, "SELECT FROM orders"); err != nil {
					t.Errorf("version 4's table: %v", err)
				}
				mu.Lock()
				names[name]++
				mu.Unlock()
			})
		}
	})
	if len(names) != n {
		t.Errorf("%d parallel tests got %d distinct databases: %v", n, len(names), names)
	}
}

// TestTemplateCoversOlderMigrations edits a migration below the target:
// the next database has the edited schema, from a new template, not a
// clone of the template built before the edit.
func TestTemplateCoversOlderMigrations(t *testing.T) {
	t.Parallel()
	nonce := fmt.Sprint(time.Now().UnixNano()) // no template of an earlier run of this test matches
	for _, typ := range []string{"integer", "bigint"} {
		set := testsets.Map(t, map[string]string{
			"v1_a.up.sql": "CREATE TABLE a (id " + typ + ");",
			"v2_b.up.sql": "CREATE TABLE b (id int); -- " + nonce,
		})
		pool := waymarktest.Pool(t, set, nil)
		var got string
		if err := pool.QueryRow(t.Context(), "SELECT data_type FROM information_schema.columns WHERE table_name = 'a' AND column_name = 'id'").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != typ {
			t.Errorf("with v1 making a.id %s, the database has a.id %s: a template of another v1 was cloned", typ, got)
		}
	}
}

// TestTarget asks for a database at version 2 of the demo set, with its
// history in a table of its own.
func TestTarget(t *testing.T) {
	t.Parallel()
	set := testsets.Load(t, "sample")
	opts := &waymarktest.Options{
		Target:  plan.To(2),
		Backend: &pgxbackend.Options{Schema: "meta", Table: "migrations", AppKey: "shop"},
	}
	pool := waymarktest.Pool(t, set, opts)
	var users, orders bool
	var versions []int64
	err := pool.QueryRow(t.Context(), `SELECT to_regclass('public.users') IS NOT NULL, to_regclass('public.orders') IS NOT NULL,
	ARRAY(SELECT version FROM meta.migrations WHERE app_key = 'shop' ORDER BY version)`).Scan(&users, &orders, &versions)
	if err != nil {
		t.Fatal(err)
	}
	if !users || orders {
		t.Errorf("at version 2: users %v, orders %v; want true, false", users, orders)
	}
	if diff := cmp.Diff([]int64{1, 2}, versions); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	// The history is waymark's own: a plan from it goes on from version 2.
	p, err := plan.Build(t.Context(), pgxbackend.New(pool, opts.Backend), set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{3, 4}, p.Versions()); diff != "" {
		t.Errorf("plan from the database (-want +got):\n%s", diff)
	}
}

func TestEmptyDatabase(t *testing.T) {
	t.Parallel()
	conn, err := pgx.Connect(t.Context(), waymarktest.ConnString(t, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var name, encoding string
	var relations int
	err = conn.QueryRow(t.Context(), `SELECT current_database(), pg_encoding_to_char(encoding),
	(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast'))
FROM pg_database WHERE datname = current_database()`).Scan(&name, &encoding, &relations)
	if err != nil {
		t.Fatal(err)
	}
	if relations != 0 {
		t.Errorf("a new database has %d relations outside the system schemas; want 0", relations)
	}
	if want := fmt.Sprintf("_%d_", os.Getpid()); !strings.HasPrefix(name, "waymarktest_") || !strings.Contains(name, want) {
		t.Errorf("database name %q; want waymarktest_<time>_<pid>_<n>", name)
	}
	if os.Getenv(waymarktest.EnvURL) == "" && encoding != "UTF8" {
		t.Errorf("database encoding %s; want UTF8", encoding)
	}
}

// TestBadTarget requires a test asking for a version the set lacks to fail
// with the planner's error.
func TestBadTarget(t *testing.T) {
	t.Parallel()
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		waymarktest.ConnString(r, testsets.Load(t, "sample"), &waymarktest.Options{Target: plan.To(7)})
	}()
	<-done
	if !strings.Contains(r.msg, "waymarktest: target up to 7") || !strings.Contains(r.msg, "unknown target version") {
		t.Errorf("failure %q; want the planner's error for version 7", r.msg)
	}
}
