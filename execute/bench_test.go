package execute_test

// Benchmarks against a throwaway PostgreSQL with durable settings (fsync
// and synchronous_commit on), each reported as a ratio to a floor measured
// in the same run: a bare loop that does the same work with raw pgx.

import (
	"context"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

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

// heavySQL inserts 10,000 rows.
func heavySQL(v int) string {
	return fmt.Sprintf("CREATE TABLE h%d (id int, note text);\nINSERT INTO h%d SELECT g, md5(g::text) FROM generate_series(1, 10000) g;\n", v, v)
}

func benchSet(b *testing.B, n int, up func(int) string, down func(int) string) *source.Set {
	fsys := fstest.MapFS{}
	for v := 1; v <= n; v++ {
		fsys[fmt.Sprintf("m/v%04d_t%d.up.sql", v, v)] = &fstest.MapFile{Data: []byte(up(v))}
		if down != nil {
			fsys[fmt.Sprintf("m/v%04d_t%d.down.sql", v, v)] = &fstest.MapFile{Data: []byte(down(v))}
		}
	}
	set, err := source.FromFS(fsys, "m")
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// freshPool opens a pool on a new database of the durable cluster.
func freshPool(b *testing.B) *pgxpool.Pool {
	pool, err := pgxpool.New(context.Background(), pgtest.DurableConnString(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// floorHistory is a table shaped like waymark's history, for the floors.
const floorHistory = `CREATE TABLE hist (app_key text, version bigint, name text, checksum text,
	applied_at timestamptz, execution_time interval, dirty text, digest bytea, PRIMARY KEY (app_key, version))`

// floorLoop runs each script of set as one query with its history insert,
// in a transaction of its own: one round trip and one flush per step, no
// lock, no checks.
func floorLoop(b *testing.B, pool *pgxpool.Pool, set *source.Set, down bool) time.Duration {
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	if !down {
		if _, err := conn.Exec(ctx, floorHistory); err != nil {
			b.Fatal(err)
		}
	}
	ms := set.Migrations()
	start := time.Now()
	for i := range ms {
		m := ms[i]
		q := fmt.Sprintf("BEGIN;\n%s;\nINSERT INTO hist VALUES ('', %d, %s, '%s', now(), '1 ms', NULL, NULL);\nCOMMIT", m.Up.SQL, m.Version, "'"+m.Name+"'", m.Up.Checksum)
		if down {
			m = ms[len(ms)-1-i]
			q = fmt.Sprintf("BEGIN;\n%s;\nDELETE FROM hist WHERE app_key = '' AND version = %d;\nCOMMIT", m.Down.SQL, m.Version)
		}
		if _, err := conn.Conn().PgConn().Exec(ctx, q).ReadAll(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

// report adds the per-step times and the ratio to the floor.
func report(b *testing.B, steps int, got, floor time.Duration) {
	n := float64(b.N) * float64(steps)
	b.ReportMetric(float64(got.Microseconds())/n, "µs/step")
	b.ReportMetric(float64(floor.Microseconds())/n, "floor-µs/step")
	b.ReportMetric(float64(got)/float64(floor), "x-floor")
	b.ReportMetric(0, "ns/op") // the metrics above say it
}

// BenchmarkSteps1000 applies 1000 tiny migrations up, then down to 0,
// each on a fresh database, against the floor loop doing the same.
func BenchmarkSteps1000(b *testing.B) {
	set := benchSet(b, benchSteps, tinySQL, func(v int) string { return fmt.Sprintf("DROP TABLE t%d;\n", v) })
	ctx := context.Background()
	for _, mode := range []struct {
		name string
		opts *execute.Options
	}{{"per-step", nil}, {"single-transaction", &execute.Options{SingleTransaction: true}}} {
		b.Run("up/"+mode.name, func(b *testing.B) {
			var got, floor time.Duration
			for b.Loop() {
				b.StopTimer()
				fp, wp := freshPool(b), freshPool(b)
				b.StartTimer()
				floor += floorLoop(b, fp, set, false)
				start := time.Now()
				res, err := execute.Migrate(ctx, pgxbackend.New(wp, nil), set, plan.Latest(), mode.opts)
				got += time.Since(start)
				if err != nil || len(res.Steps) != benchSteps {
					b.Fatalf("applied %d, %v", len(res.Steps), err)
				}
			}
			report(b, benchSteps, got, floor)
		})
		b.Run("down/"+mode.name, func(b *testing.B) {
			var got, floor time.Duration
			for b.Loop() {
				b.StopTimer()
				fp, wp := freshPool(b), freshPool(b)
				floorLoop(b, fp, set, false)
				db := pgxbackend.New(wp, nil)
				if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				floor += floorLoop(b, fp, set, true)
				start := time.Now()
				res, err := execute.Migrate(ctx, db, set, plan.DownTo(0), mode.opts)
				got += time.Since(start)
				if err != nil || len(res.Steps) != benchSteps {
					b.Fatalf("went down %d, %v", len(res.Steps), err)
				}
			}
			report(b, benchSteps, got, floor)
		})
	}
}

// BenchmarkNoOp is a service booting against a database that has all 1000
// migrations, on an open pool with the set loaded, against the floor: one
// indexed SELECT of the top version.
func BenchmarkNoOp(b *testing.B) {
	set := benchSet(b, benchSteps, tinySQL, nil)
	ctx := context.Background()
	pool := freshPool(b)
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		b.Fatal(err)
	}
	var got, floor time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		var v int64
		if err := pool.QueryRow(ctx, "SELECT version FROM waymark_history WHERE app_key = '' ORDER BY version DESC LIMIT 1").Scan(&v); err != nil || v != benchSteps {
			b.Fatalf("floor: %d, %v", v, err)
		}
		floor += time.Since(start)
		start = time.Now()
		res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil)
		got += time.Since(start)
		if err != nil || !res.Plan.Empty() {
			b.Fatalf("%v, %v", res.Plan, err)
		}
	}
	report(b, 1, got, floor)
}

// BenchmarkHeavySQL applies 100 migrations that insert 10,000 rows each,
// against the floor loop: the bookkeeping must vanish next to real work.
func BenchmarkHeavySQL(b *testing.B) {
	const n = 100
	set := benchSet(b, n, heavySQL, nil)
	ctx := context.Background()
	var got, floor time.Duration
	for b.Loop() {
		b.StopTimer()
		fp, wp := freshPool(b), freshPool(b)
		b.StartTimer()
		floor += floorLoop(b, fp, set, false)
		start := time.Now()
		if _, err := execute.Migrate(ctx, pgxbackend.New(wp, nil), set, plan.Latest(), nil); err != nil {
			b.Fatal(err)
		}
		got += time.Since(start)
	}
	report(b, n, got, floor)
}
