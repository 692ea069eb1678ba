package execute_test

import (
	"context"
	"flag"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

// backfillRows is the size of BenchmarkBackfill's table; the issue's
// figure is -backfill-rows=1000000 (batches of 10 000).
var backfillRows = flag.Int("backfill-rows", 50000, "rows of BenchmarkBackfill's table; batches are 1/100 of it")

// BenchmarkBackfill fills a new column of a table of -backfill-rows rows,
// in batches of a hundredth of the table (waymark:batch) and in one
// UPDATE, while a writer updates random rows. It reports the longest lock
// each holds on the rows (the longest transaction: a batch, or the whole
// UPDATE) and the writer's longest wait.
func BenchmarkBackfill(b *testing.B) {
	rows := *backfillRows
	size := max(rows/100, 1)
	batched := backfillFiles(rows, size, "")
	single := backfillFiles(rows, size, "")
	// A partial index of the rows not yet done lets each batch find them
	// without reading past the done ones (see the docs on batches).
	batched["v1_big.up.sql"] += "CREATE INDEX big_todo ON big (id) WHERE b IS NULL;\n"
	single["v1_big.up.sql"] = batched["v1_big.up.sql"]
	single["v2_backfill.up.sql"] = "UPDATE big SET b = a;\n"
	for _, bc := range []struct {
		name  string
		files map[string]string
	}{{"batches", batched}, {"one-update", single}} {
		b.Run(bc.name, func(b *testing.B) {
			set := testsets.Map(b, bc.files)
			var longest, writerWait, total time.Duration
			for range b.N {
				b.StopTimer()
				pool := freshPool(b)
				db := pgxbackend.New(pool, nil)
				ctx := context.Background()
				if _, err := execute.Migrate(ctx, db, set, plan.To(1), nil); err != nil {
					b.Fatal(err)
				}
				if _, err := pool.Exec(ctx, "VACUUM ANALYZE big"); err != nil {
					b.Fatal(err)
				}
				stop := make(chan struct{})
				var wg sync.WaitGroup
				var wait time.Duration
				wg.Go(func() { wait = writer(b, pool, rows, stop) })
				var mu sync.Mutex
				var most time.Duration
				opts := &execute.Options{Progress: func(e execute.Event) {
					mu.Lock()
					defer mu.Unlock()
					switch {
					case e.Batch != nil:
						most = max(most, e.Batch.Duration)
					case e.Done && !e.Step.NoTransaction:
						most = max(most, e.Duration)
					}
				}}
				b.StartTimer()
				start := time.Now()
				if _, err := execute.Migrate(ctx, db, set, plan.Latest(), opts); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				b.StopTimer()
				close(stop)
				wg.Wait()
				longest, writerWait = max(longest, most), max(writerWait, wait)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/backfill")
			b.ReportMetric(float64(longest.Microseconds())/1000, "longest-lock-ms")
			b.ReportMetric(float64(writerWait.Microseconds())/1000, "writer-max-wait-ms")
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// writer updates random rows of big until stop closes, and returns its
// longest wait for one update.
func writer(b *testing.B, pool *pgxpool.Pool, rows int, stop chan struct{}) time.Duration {
	var most time.Duration
	for {
		select {
		case <-stop:
			return most
		default:
		}
		start := time.Now()
		if _, err := pool.Exec(context.Background(), "UPDATE big SET a = a WHERE id = $1", 1+rand.IntN(rows)); err != nil {
			b.Error(err)
			return most
		}
		most = max(most, time.Since(start))
		time.Sleep(time.Millisecond)
	}
}
