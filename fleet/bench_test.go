package fleet_test

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/fleet"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

var benchSchemas = flag.Int("fleet.schemas", 1000, "schemas in BenchmarkFleet")

const benchVersions = 10

// benchSet is ten small migrations.
func benchSet(b *testing.B) *source.Set {
	fsys := fstest.MapFS{}
	for v := 1; v <= benchVersions; v++ {
		fsys[fmt.Sprintf("m/v%02d_t%d.up.sql", v, v)] = &fstest.MapFile{Data: []byte(fmt.Sprintf("CREATE TABLE t%d (id int);\n", v))}
	}
	set, err := source.FromFS(fsys, "m")
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// benchTenants creates a database of n empty schemas and returns the
// targets of its schemas.
func benchTenants(b *testing.B, n int) []fleet.Target {
	b.Helper()
	ctx := context.Background()
	url := pgtest.ConnString(b)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, fmt.Sprintf(`DO $$ BEGIN
	FOR i IN 1..%d LOOP EXECUTE pg_catalog.format('CREATE SCHEMA %%I', 'tenant_' || lpad(i::text, 5, '0')); END LOOP;
END $$`, n)); err != nil {
		b.Fatal(err)
	}
	targets, err := fleet.Schemas(ctx, url, `tenant\_%`, nil)
	if err != nil || len(targets) != n {
		b.Fatalf("%d targets, %v", len(targets), err)
	}
	return targets
}

// BenchmarkFleet applies ten small migrations to each of 1,000 schemas
// (-fleet.schemas) of one database, three ways, each on a database of its
// own: one schema after another with execute.Migrate on a pool (the
// floor: what a loop of one's own does), and fleet.Run with Parallel 1
// and 4. It reports each wall time and the ratios to the loop's.
func BenchmarkFleet(b *testing.B) {
	n := *benchSchemas
	set := benchSet(b)
	ctx := context.Background()
	var loop, p1, p4 time.Duration
	for b.Loop() {
		b.StopTimer()
		targets := benchTenants(b, n)
		pool, err := pgxpool.New(ctx, targets[0].Conn)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		for _, tg := range targets {
			res, err := execute.Migrate(ctx, pgxbackend.New(pool, tg.Backend), set, plan.Latest(), nil)
			if err != nil || len(res.Steps) != benchVersions {
				b.Fatalf("%s: %d steps, %v", tg.Name, len(res.Steps), err)
			}
		}
		loop += time.Since(start)
		pool.Close()

		for _, v := range []struct {
			parallel int
			took     *time.Duration
		}{{1, &p1}, {4, &p4}} {
			b.StopTimer()
			targets := benchTenants(b, n)
			b.StartTimer()
			start := time.Now()
			rep, err := fleet.Run(ctx, targets, set, plan.Latest(), &fleet.Options{Parallel: v.parallel})
			if err != nil || rep.Count(fleet.Applied) != n {
				b.Fatalf("parallel %d: %v\n%s", v.parallel, err, rep.Summary())
			}
			*v.took += time.Since(start)
		}
	}
	runs := float64(b.N)
	b.ReportMetric(loop.Seconds()/runs, "loop-s")
	b.ReportMetric(p1.Seconds()/runs, "parallel1-s")
	b.ReportMetric(p4.Seconds()/runs, "parallel4-s")
	b.ReportMetric(p1.Seconds()/loop.Seconds(), "parallel1/loop")
	b.ReportMetric(p4.Seconds()/loop.Seconds(), "parallel4/loop")
	b.ReportMetric(float64(p4.Microseconds())/(runs*float64(n*benchVersions)), "parallel4-µs/step")
}
