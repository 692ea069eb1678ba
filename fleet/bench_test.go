package fleet_test

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
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
// and 4. It reports each wall time and the ratios to the loop's; and, as
// the floor of Parallel 4, a raw-pgx loop over the schemas with the same
// parallelism (see rawLoop), and the ratio of Parallel 4 to it.
func BenchmarkFleet(b *testing.B) {
	n := *benchSchemas
	set := benchSet(b)
	ctx := context.Background()
	var loop, raw4, p1, p4 time.Duration
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

		b.StopTimer()
		targets = benchTenants(b, n)
		b.StartTimer()
		raw4 += rawLoop(b, targets, 4)

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
	b.ReportMetric(raw4.Seconds()/runs, "raw4-s")
	b.ReportMetric(p4.Seconds()/raw4.Seconds(), "parallel4/raw4")
	b.ReportMetric(float64(p4.Microseconds())/(runs*float64(n*benchVersions)), "parallel4-µs/step")
}

// rawLoop is the floor of fleet.Run with Parallel parallel: as many
// goroutines, each taking the next schema and doing with raw pgx what a
// migration of it needs at the least: one query to read its state (does
// its history table exist, and its top version), then one query per
// version sending BEGIN, the script, its history row (the table created
// with the first) and COMMIT. It returns the wall time.
func rawLoop(b *testing.B, targets []fleet.Target, parallel int) time.Duration {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, targets[0].Conn)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	next := make(chan fleet.Target)
	errs := make(chan error, parallel)
	start := time.Now()
	for range parallel {
		go func() {
			for tg := range next {
				schema := pgx.Identifier{tg.Backend.SearchPath[0]}.Sanitize()
				var top *int64
				if err := pool.QueryRow(ctx, fmt.Sprintf(`SELECT CASE WHEN pg_catalog.to_regclass(%s) IS NOT NULL THEN 0 END`,
					"'"+schema+".history'"), pgx.QueryExecModeSimpleProtocol).Scan(&top); err != nil {
					errs <- err
					return
				}
				for v := 1; v <= benchVersions; v++ {
					create := ""
					if v == 1 && top == nil {
						create = fmt.Sprintf("CREATE TABLE %s.history (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL);\n", schema)
					}
					q := fmt.Sprintf("BEGIN;\nSET LOCAL search_path = %[1]s;\nCREATE TABLE t%[2]d (id int);\n%[3]sINSERT INTO %[1]s.history VALUES (%[2]d, now());\nCOMMIT", schema, v, create)
					if _, err := pool.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for _, tg := range targets {
		next <- tg
	}
	close(next)
	for range parallel {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}
