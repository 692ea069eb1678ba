package execute_test

import (
	"context"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

const benchSteps = 1000

// tinySQL is the script of tiny migration v.
func tinySQL(v int) string { return fmt.Sprintf("CREATE TABLE t%d (id int);\n", v) }

func tinySet(b *testing.B) *source.Set {
	fsys := fstest.MapFS{}
	for v := 1; v <= benchSteps; v++ {
		fsys[fmt.Sprintf("m/v%04d_t%d.up.sql", v, v)] = &fstest.MapFile{Data: []byte(tinySQL(v))}
	}
	set, err := source.FromFS(fsys, "m")
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// freshPool opens a pool on a new database, outside the timer.
func freshPool(b *testing.B) *pgxpool.Pool {
	b.StopTimer()
	defer b.StartTimer()
	pool, err := pgxpool.New(context.Background(), pgtest.ConnString(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// BenchmarkMigrate1000 applies 1000 tiny migrations to an empty database,
// one transaction per step.
func BenchmarkMigrate1000(b *testing.B) {
	set := tinySet(b)
	ctx := context.Background()
	for b.Loop() {
		pool := freshPool(b)
		res, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil)
		if err != nil || len(res.Steps) != benchSteps {
			b.Fatalf("applied %d, %v", len(res.Steps), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchSteps), "µs/step")
}

// BenchmarkBaselineLoop1000 is the floor BenchmarkMigrate1000 compares
// with: a plain loop sending each migration and an insert into a table
// shaped like waymark's history as one query, with no lock, no state read
// and no checks.
func BenchmarkBaselineLoop1000(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		pool := freshPool(b)
		conn, err := pool.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE hist (app_key text, version bigint, name text, checksum text,
			applied_at timestamptz, execution_time interval, dirty text, PRIMARY KEY (app_key, version))`); err != nil {
			b.Fatal(err)
		}
		for v := 1; v <= benchSteps; v++ {
			q := tinySQL(v) + fmt.Sprintf(";INSERT INTO hist VALUES ('', %d, 't%d', '%064d', now(), '1 ms', NULL)", v, v, v)
			if _, err := conn.Conn().PgConn().Exec(ctx, q).ReadAll(); err != nil {
				b.Fatal(err)
			}
		}
		conn.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchSteps), "µs/step")
}

// BenchmarkMigrateUpToDate is a service booting against a database that
// has all 1000 migrations: one read and a plan.
func BenchmarkMigrateUpToDate(b *testing.B) {
	set := tinySet(b)
	ctx := context.Background()
	pool := freshPool(b)
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
		if err != nil || !res.Plan.Empty() {
			b.Fatalf("%v, %v", res.Plan, err)
		}
	}
}
