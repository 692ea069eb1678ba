package drift_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/drift"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/schema"
	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/waymarktest"
)

// generated returns a set of n migrations, each a table with an identity
// key, a default, a foreign key to the previous table and an index.
func generated(b *testing.B, n int) *source.Set {
	files := map[string]string{}
	for v := 1; v <= n; v++ {
		ref := ""
		if v > 1 {
			ref = fmt.Sprintf(",\n    prev_id bigint REFERENCES t%d (id)", v-1)
		}
		files[fmt.Sprintf("v%04d_t%d.up.sql", v, v)] = fmt.Sprintf(`CREATE TABLE t%d (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()%s
);
CREATE INDEX t%d_name_idx ON t%d (name);
`, v, ref, v, v)
	}
	return testsets.Map(b, files)
}

// BenchmarkCheck200 times a drift check of a 200-migration set against a
// live database at its latest version, on the test server as scratch
// server, against its floor: building the set's schema on a new database
// (what a template costs) and reading two snapshots. Each iteration does
// all three, so that a busy machine slows them alike:
//
//   - ms/floor: create a database, migrate it, read its schema and the
//     live one, drop it;
//   - ms/first: drift.Check with a new Checker (it builds);
//   - ms/reused: a second check with a Checker that has built the set's
//     schema at that version (one snapshot and the comparison);
//   - first/floor: their ratio, which the issue wants at 1 or below
//     (plus noise).
func BenchmarkCheck200(b *testing.B) {
	set := generated(b, 200)
	server := waymarktest.Server(b)
	live := waymarktest.Pool(b, set, nil)
	ctx := context.Background()
	reusing := drift.New(&drift.Options{Scratch: server})
	defer reusing.Close()
	if _, err := reusing.Check(ctx, live, set); err != nil {
		b.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(ctx)
	var floor, first, reused time.Duration
	b.ResetTimer()
	for i := range b.N {
		begin := time.Now()
		if err := floorOnce(ctx, admin, server, live, set, i); err != nil {
			b.Fatal(err)
		}
		floor += time.Since(begin)

		begin = time.Now()
		r, err := drift.Check(ctx, live, set, &drift.Options{Scratch: server})
		if err != nil || r.Drifted() || r.Reused {
			b.Fatalf("first check: %v, %v", err, r)
		}
		first += time.Since(begin)

		begin = time.Now()
		r, err = reusing.Check(ctx, live, set)
		if err != nil || r.Drifted() || !r.Reused {
			b.Fatalf("second check: %v, %v", err, r)
		}
		reused += time.Since(begin)
	}
	n := float64(b.N)
	b.ReportMetric(float64(floor.Milliseconds())/n, "ms/floor")
	b.ReportMetric(float64(first.Milliseconds())/n, "ms/first")
	b.ReportMetric(float64(reused.Milliseconds())/n, "ms/reused")
	b.ReportMetric(float64(first)/float64(floor), "first/floor")
}

// floorOnce builds set on a new database and reads its schema and live's.
func floorOnce(ctx context.Context, admin *pgx.Conn, server string, live *pgxpool.Pool, set *source.Set, i int) error {
	name := fmt.Sprintf("drift_bench_floor_%d_%d", time.Now().UnixNano(), i)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		return err
	}
	defer admin.Exec(ctx, "DROP DATABASE "+ident+" WITH (FORCE)")
	cfg, err := pgxpool.ParseConfig(server)
	if err != nil {
		return err
	}
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil); err != nil {
		return err
	}
	if _, err := schema.Read(ctx, pool, nil); err != nil {
		return err
	}
	_, err = schema.Read(ctx, live, nil)
	return err
}
