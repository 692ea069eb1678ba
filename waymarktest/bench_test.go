package waymarktest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/source"
)

// generated returns a set of n migrations, each a table with a primary
// key, a default, a foreign key to the previous table and an index.
func generated(b testing.TB, n int) *source.Set {
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
		files[fmt.Sprintf("v%04d_t%d.down.sql", v, v)] = fmt.Sprintf("DROP TABLE t%d;\n", v)
	}
	return testsets.Map(b, files)
}

// BenchmarkDatabase compares the two ways to give a test a database at
// a set's latest version: cloning the set's template (what ConnString
// does) and migrating a new database from scratch (the floor), both with
// a first connection to the database, for the
// demo set (4 migrations) and for 200. Each iteration does both, so that
// a busy machine slows both alike; ms/clone and ms/migrate are their
// times, clone-speedup their ratio. The template is built before the
// timer starts.
func BenchmarkDatabase(b *testing.B) {
	sets := []struct {
		name string
		set  *source.Set
	}{
		{"sample", testsets.Load(b, "sample")},
		{"generated200", generated(b, 200)},
	}
	s := getServer(b)
	for _, c := range sets {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			tp, err := s.template(ctx, c.set, c.set.Latest(), nil, "")
			if err != nil {
				b.Fatal(err)
			}
			var clone, scratch time.Duration
			for b.Loop() {
				name := fmt.Sprintf("waymarktest_bench_%d_%d", os.Getpid(), dbCounter.Add(1))
				start := time.Now()
				if err := s.createDB(ctx, name, tp.name); err != nil {
					b.Fatal(err)
				}
				if err := connect(ctx, s.connString(name)); err != nil {
					b.Fatal(err)
				}
				clone += time.Since(start)

				fresh := name + "_scratch"
				start = time.Now()
				if err := s.createDB(ctx, fresh, "template0"); err != nil {
					b.Fatal(err)
				}
				if err := migrate(ctx, s.connString(fresh), c.set, c.set.Latest(), nil); err != nil {
					b.Fatal(err)
				}
				scratch += time.Since(start)

				b.StopTimer()
				for _, db := range []string{name, fresh} {
					if err := s.dropDB(ctx, db); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(clone.Microseconds())/1000/n, "ms/clone")
			b.ReportMetric(float64(scratch.Microseconds())/1000/n, "ms/migrate")
			b.ReportMetric(float64(scratch)/float64(clone), "clone-speedup")
		})
	}
}

// connect opens a pool on connString, connects once and closes it.
func connect(ctx context.Context, connString string) error {
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return err
	}
	defer pool.Close()
	return pool.Ping(ctx)
}

// BenchmarkWait measures what a test waits for its database when tests
// that each do 5 ms of work run 4 at a time, three ways: from the warm
// pool (what ConnString does), cloning the template while the test waits
// (the kit without the pool), and migrating a new database from scratch.
// Each test then connects, works for 5 ms (pg_sleep) and drops its
// database, as a test's cleanup does; only the wait for the database is
// measured. Each iteration runs waitTests tests the first two ways and
// waitMigrations the third, for the demo set (4 migrations) and for 200,
// and reports the median and 95th percentile of each way's waits
// (pool-p50-ms, clone-p95-ms, ...) and the median's ratios
// (migrate/pool, clone/pool). The pool is full (WAYMARK_TEST_POOL ready
// clones, and on the throwaway cluster 8 claimed ahead) when each
// iteration starts, as after a test binary's first tests; it fills again
// while the tests run.
func BenchmarkWait(b *testing.B) {
	const (
		parallel       = 4
		work           = "SELECT pg_sleep(0.005)"
		waitTests      = 40
		waitMigrations = 8
	)
	sets := []struct {
		name string
		set  *source.Set
	}{
		{"sample", testsets.Load(b, "sample")},
		{"generated200", generated(b, 200)},
	}
	s := getServer(b)
	if s.pool.size == 0 {
		b.Skip(EnvPoolSize + "=0: the pool is off")
	}
	for _, c := range sets {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			tp, err := s.template(ctx, c.set, c.set.Latest(), nil, "")
			if err != nil {
				b.Fatal(err)
			}
			pool := s.warm(tp.name)
			// run has n tests get a database with get, parallel at a
			// time, and returns their waits.
			run := func(n int, get func(name string) (string, error)) []time.Duration {
				var mu sync.Mutex
				var waits []time.Duration
				var wg sync.WaitGroup
				next := make(chan int, n)
				for i := range n {
					next <- i
				}
				close(next)
				for range parallel {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range next {
							name := fmt.Sprintf("%s%d_%d_%d", testDBPrefix, time.Now().Unix(), os.Getpid(), dbCounter.Add(1))
							start := time.Now()
							name, err := get(name)
							if err != nil {
								b.Error(err)
								return
							}
							wait := time.Since(start)
							conn, err := pgx.Connect(ctx, s.connString(name))
							if err == nil {
								_, err = conn.Exec(ctx, work)
								conn.Close(ctx)
							}
							if err == nil {
								err = s.dropDB(ctx, name)
							}
							if err != nil {
								b.Error(err)
								return
							}
							mu.Lock()
							waits = append(waits, wait)
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				return waits
			}
			fill := func() {
				deadline := time.Now().Add(time.Minute)
				for {
					ready, err := pool.list(ctx)
					if err != nil {
						b.Fatal(err)
					}
					pool.mu.Lock()
					stocked := len(pool.stock) >= pool.stockTarget()
					pool.mu.Unlock()
					if len(ready) >= pool.cfg.size && stocked || time.Now().After(deadline) {
						return
					}
					pool.poke()
					time.Sleep(5 * time.Millisecond)
				}
			}
			b.StopTimer()
			pool.mu.Lock()
			pool.takes = max(pool.takes, pool.cfg.size) // as after many tests: the pool's full size
			if !pool.filling {
				pool.filling = true
				go pool.fill()
			}
			pool.mu.Unlock()
			fill()
			b.StartTimer()
			var fromPool, clone, scratch []time.Duration
			for b.Loop() {
				fromPool = append(fromPool, run(waitTests, func(name string) (string, error) {
					return s.clone(ctx, name, tp.name)
				})...)
				b.StopTimer()
				fill() // the pool is full when the next tests start
				b.StartTimer()
				clone = append(clone, run(waitTests, func(name string) (string, error) {
					return name, s.createDB(ctx, name, tp.name)
				})...)
				scratch = append(scratch, run(waitMigrations, func(name string) (string, error) {
					if err := s.createDB(ctx, name, "template0"); err != nil {
						return name, err
					}
					return name, migrate(ctx, s.connString(name), c.set, c.set.Latest(), nil)
				})...)
			}
			for _, w := range []struct {
				name  string
				waits []time.Duration
			}{{"pool", fromPool}, {"clone", clone}, {"migrate", scratch}} {
				b.ReportMetric(ms(percentile(w.waits, 50)), w.name+"-p50-ms")
				b.ReportMetric(ms(percentile(w.waits, 95)), w.name+"-p95-ms")
			}
			p50 := percentile(fromPool, 50)
			b.ReportMetric(float64(percentile(scratch, 50))/float64(p50), "migrate/pool")
			b.ReportMetric(float64(percentile(clone, 50))/float64(p50), "clone/pool")
		})
	}
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return s[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkCloneStrategy compares the two ways PostgreSQL 15 and later
// copy a template in CREATE DATABASE: STRATEGY FILE_COPY (copy the files;
// a checkpoint before and after) and WAL_LOG (copy block by block
// through the write-ahead log; no checkpoint), for the demo set and for
// 200 migrations, on the server the kit uses (set
// WAYMARK_TEST_DATABASE_URL to measure a server of your own). Each
// iteration clones the template and drops the clone 8 times one after
// the other, then 8 times on 4 connections at once (as tests in
// parallel do): ms/clone and ms/drop are the sequential times,
// ms/clone-parallel the time a clone takes while 3 others run with their
// drops. DROP DATABASE forces a checkpoint either way.
func BenchmarkCloneStrategy(b *testing.B) {
	s := getServer(b)
	if s.version < 150000 {
		b.Skip("STRATEGY needs PostgreSQL 15")
	}
	sets := []struct {
		name string
		set  *source.Set
	}{
		{"sample", testsets.Load(b, "sample")},
		{"generated200", generated(b, 200)},
	}
	for _, c := range sets {
		ctx := context.Background()
		tp, err := s.template(ctx, c.set, c.set.Latest(), nil, "")
		if err != nil {
			b.Fatal(err)
		}
		for _, strategy := range []string{"FILE_COPY", "WAL_LOG"} {
			b.Run(c.name+"/"+strategy, func(b *testing.B) {
				srv := &server{admin: s.admin, strategy: " STRATEGY " + strategy}
				cloneDrop := func() (clone, drop time.Duration, err error) {
					name := fmt.Sprintf("%s%d_%d_%d", testDBPrefix, time.Now().Unix(), os.Getpid(), dbCounter.Add(1))
					start := time.Now()
					if err := srv.createDB(ctx, name, tp.name); err != nil {
						return 0, 0, err
					}
					clone = time.Since(start)
					start = time.Now()
					err = srv.dropDB(ctx, name)
					return clone, time.Since(start), err
				}
				const n, parallel = 8, 4
				var clones, drops, parallelClones []time.Duration
				for b.Loop() {
					for range n {
						c, d, err := cloneDrop()
						if err != nil {
							b.Fatal(err)
						}
						clones, drops = append(clones, c), append(drops, d)
					}
					var mu sync.Mutex
					var wg sync.WaitGroup
					for range parallel {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for range n / parallel {
								c, _, err := cloneDrop()
								if err != nil {
									b.Error(err)
									return
								}
								mu.Lock()
								parallelClones = append(parallelClones, c)
								mu.Unlock()
							}
						}()
					}
					wg.Wait()
				}
				b.ReportMetric(ms(percentile(clones, 50)), "ms/clone")
				b.ReportMetric(ms(percentile(drops, 50)), "ms/drop")
				b.ReportMetric(ms(percentile(parallelClones, 50)), "ms/clone-parallel")
			})
		}
	}
}
