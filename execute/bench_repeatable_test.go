package execute_test

import (
	"context"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// BenchmarkNoOpRepeatables is BenchmarkNoOp with 50 repeatable scripts
// (views) beside 100 versions: the no-op boot is still one query of one
// row, against the same floor.
func BenchmarkNoOpRepeatables(b *testing.B) {
	fsys := fstest.MapFS{"m/v0001_t.up.sql": &fstest.MapFile{Data: []byte("CREATE TABLE t (id int);")}}
	for v := 2; v <= 100; v++ {
		fsys[fmt.Sprintf("m/v%04d_t%d.up.sql", v, v)] = &fstest.MapFile{Data: []byte(fmt.Sprintf("ALTER TABLE t ADD COLUMN c%d int;", v))}
	}
	for i := range 50 {
		fsys[fmt.Sprintf("m/r_view_%02d.sql", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf("CREATE OR REPLACE VIEW v%d AS SELECT id FROM t;", i))}
	}
	set, err := source.FromFS(fsys, "m")
	if err != nil {
		b.Fatal(err)
	}
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
		if err := pool.QueryRow(ctx, "SELECT version FROM waymark_history WHERE app_key = '' ORDER BY version DESC LIMIT 1").Scan(&v); err != nil || v != 100 {
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
