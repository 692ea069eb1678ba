package source_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/waymarkdb/waymark/source"
)

// BenchmarkFromDir loads 1,000 and 10,000 migrations with down scripts
// from files on disk (a service's cold start), against the floor: listing
// the directory and reading every file with the os package, one at a time.
func BenchmarkFromDir(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			dir := b.TempDir()
			for v := 1; v <= n; v++ {
				stem := filepath.Join(dir, fmt.Sprintf("v%06d_change_%d", v, v))
				up := fmt.Sprintf("-- Change %d.\nCREATE TABLE t%d (\n    id bigint PRIMARY KEY,\n    note text\n);\nCREATE INDEX t%d_note ON t%d (note);\n", v, v, v, v)
				if err := os.WriteFile(stem+".up.sql", []byte(up), 0o644); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(stem+".down.sql", []byte(fmt.Sprintf("DROP TABLE t%d;\n", v)), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			var got, floor time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				entries, err := os.ReadDir(dir)
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range entries {
					if _, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
						b.Fatal(err)
					}
				}
				floor += time.Since(start)
				start = time.Now()
				set, err := source.FromDir(dir)
				got += time.Since(start)
				if err != nil || set.Len() != n {
					b.Fatalf("%v, %v", set, err)
				}
			}
			b.ReportMetric(float64(got.Nanoseconds())/float64(b.N*n), "ns/migration")
			b.ReportMetric(float64(got)/float64(floor), "x-read-floor")
		})
	}
}
