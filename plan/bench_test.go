package plan_test

import (
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
	"github.com/waymarkdb/waymark/source"
)

// bigFS is n migrations, named like real ones, with down scripts if downs.
func bigFS(n int, downs bool) fstest.MapFS {
	fsys := make(fstest.MapFS, 2*n)
	for v := 1; v <= n; v++ {
		stem := fmt.Sprintf("migrations/v%05d_change_%d", v, v)
		fsys[stem+".up.sql"] = &fstest.MapFile{Data: []byte(fmt.Sprintf(
			"-- Change %d.\nCREATE TABLE t%d (\n    id bigint PRIMARY KEY,\n    note text DEFAULT 'it''s; fine'\n);\nCREATE INDEX t%d_note ON t%d (note);\n", v, v, v, v))}
		if downs {
			fsys[stem+".down.sql"] = &fstest.MapFile{Data: []byte(fmt.Sprintf("DROP TABLE t%d;\n", v))}
		}
	}
	return fsys
}

// BenchmarkLoadAndPlan loads 1,000, 10,000 and 100,000 migrations with
// down scripts (twice as many files) from a file system whose listing and
// reads cost next to nothing, as embed.FS's do, and plans them against a
// database that has applied half. ns/migration shows that the cost grows
// linearly.
func BenchmarkLoadAndPlan(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			m := bigFS(n, true)
			entries, err := fs.ReadDir(m, "migrations")
			if err != nil {
				b.Fatal(err)
			}
			fsys := &fastFS{m, entries}
			set, err := source.FromFS(fsys, "migrations")
			if err != nil {
				b.Fatal(err)
			}
			half := make([]int64, n/2)
			for i := range half {
				half[i] = int64(i + 1)
			}
			st := plantest.Applied(set, half...)
			b.ReportAllocs()
			for b.Loop() {
				set, err := source.FromFS(fsys, "migrations")
				if err != nil {
					b.Fatal(err)
				}
				p, err := plan.Compute(set, st, plan.Latest(), nil)
				if err != nil || len(p.Steps) != n/2 {
					b.Fatalf("plan of %d steps, %v", len(p.Steps), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/migration")
		})
	}
}

// BenchmarkMapFSRead10k is what fstest.MapFS alone costs to list and read
// the 20,000 files of BenchmarkLoadAndPlan/10k (one goroutine).
func BenchmarkMapFSRead10k(b *testing.B) {
	fsys := bigFS(10000, true)
	b.ReportAllocs()
	for b.Loop() {
		entries, err := fs.ReadDir(fsys, "migrations")
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range entries {
			if _, err := fs.ReadFile(fsys, "migrations/"+e.Name()); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// fastFS serves a MapFS's files from a listing made in advance.
type fastFS struct {
	m       fstest.MapFS
	entries []fs.DirEntry
}

func (f *fastFS) Open(name string) (fs.File, error)     { return f.m.Open(name) }
func (f *fastFS) ReadDir(string) ([]fs.DirEntry, error) { return f.entries, nil }
func (f *fastFS) ReadFile(name string) ([]byte, error) {
	if mf := f.m[name]; mf != nil {
		return slices.Clone(mf.Data), nil
	}
	return nil, fs.ErrNotExist
}

// BenchmarkCompute10k plans 10,000 migrations already loaded.
func BenchmarkCompute10k(b *testing.B) {
	set, err := source.FromFS(bigFS(10000, true), "migrations")
	if err != nil {
		b.Fatal(err)
	}
	st := plantest.Applied(set, 1, 2, 3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := plan.Compute(set, st, plan.Latest(), nil); err != nil {
			b.Fatal(err)
		}
	}
}
