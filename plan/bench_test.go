package plan_test

import (
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// bigFS is n migrations with up and down scripts, named like real ones.
func bigFS(n int) fstest.MapFS {
	fsys := make(fstest.MapFS, 2*n)
	for v := 1; v <= n; v++ {
		stem := fmt.Sprintf("migrations/v%05d_change_%d", v, v)
		fsys[stem+".up.sql"] = &fstest.MapFile{Data: []byte(fmt.Sprintf(
			"-- Change %d.\nCREATE TABLE t%d (\n    id bigint PRIMARY KEY,\n    note text DEFAULT 'it''s; fine'\n);\nCREATE INDEX t%d_note ON t%d (note);\n", v, v, v, v))}
		fsys[stem+".down.sql"] = &fstest.MapFile{Data: []byte(fmt.Sprintf("DROP TABLE t%d;\n", v))}
	}
	return fsys
}

// BenchmarkLoadAndPlan10k loads 10,000 migrations (20,000 files) from
// memory and plans them against a database that has applied half.
func BenchmarkLoadAndPlan10k(b *testing.B) {
	fsys := bigFS(10000)
	set, err := source.FromFS(fsys, "migrations")
	if err != nil {
		b.Fatal(err)
	}
	half := make([]int64, 5000)
	for i := range half {
		half[i] = int64(i + 1)
	}
	st := plan.Applied(set, half...)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		set, err := source.FromFS(fsys, "migrations")
		if err != nil {
			b.Fatal(err)
		}
		p, err := plan.Compute(set, st, plan.Latest(), nil)
		if err != nil || len(p.Steps) != 5000 {
			b.Fatalf("plan of %d steps, %v", len(p.Steps), err)
		}
	}
}

// BenchmarkCompute10k plans 10,000 migrations already loaded.
func BenchmarkCompute10k(b *testing.B) {
	set, err := source.FromFS(bigFS(10000), "migrations")
	if err != nil {
		b.Fatal(err)
	}
	st := plan.Applied(set, 1, 2, 3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := plan.Compute(set, st, plan.Latest(), nil); err != nil {
			b.Fatal(err)
		}
	}
}
