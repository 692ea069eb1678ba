package sqlsplit

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkSplit splits a realistic migration of about 200 lines with
// tables, plpgsql and SQL-standard functions, dollar quotes and comments.
func BenchmarkSplit(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "realistic", "input.sql"))
	if err != nil {
		b.Fatal(err)
	}
	src := string(data)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(src); err != nil {
			b.Fatal(err)
		}
	}
}
