package pgxbackend_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
)

// BenchmarkReadState1000 reads a history of 1000 versions whose records
// keep their down scripts (history format 3), and the same history with
// nothing kept: the price of keeping them on every full read.
func BenchmarkReadState1000(b *testing.B) {
	files := map[string]string{}
	for v := 1; v <= 1000; v++ {
		files[fmt.Sprintf("v%04d_t.up.sql", v)] = fmt.Sprintf("CREATE TABLE t%d (id int PRIMARY KEY, note text);\n", v)
		files[fmt.Sprintf("v%04d_t.down.sql", v)] = fmt.Sprintf("-- Undo version %d.\nDROP TABLE t%d;\n", v, v)
	}
	set := testsets.Map(b, files)
	pool := pgtest.Pool(b)
	db := pgxbackend.New(pool, nil)
	ctx := context.Background()
	if _, err := execute.Baseline(ctx, db, set, 1000, nil); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B) {
		for b.Loop() {
			recs, err := db.ReadState(ctx)
			if err != nil || len(recs) != 1000 {
				b.Fatalf("ReadState = %d records, %v", len(recs), err)
			}
		}
	}
	b.Run("kept", run)
	if _, err := pool.Exec(ctx, "UPDATE waymark_history SET reversible = NULL, down_script = NULL"); err != nil {
		b.Fatal(err)
	}
	b.Run("nothing-kept", run)
}
