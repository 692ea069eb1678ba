package waymarktest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/source"
)

// generated returns a set of n migrations, each a table with a primary
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
