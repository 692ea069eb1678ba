package measure_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/hazard/measure"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// set100 is a set of 100 steps of the kinds migrations have: ten tables
// with rows, then columns, indexes (one in nine built concurrently),
// constraints added NOT VALID and validated, comments, backfills and new
// tables that reference the old ones.
func set100(tb testing.TB) *source.Set {
	tb.Helper()
	files := map[string]string{}
	for i := 1; i <= 100; i++ {
		t := fmt.Sprintf("t%d", i%10)
		var sql string
		switch {
		case i <= 10:
			sql = fmt.Sprintf("CREATE TABLE %s (id bigint PRIMARY KEY, a int, b text);\n"+
				"INSERT INTO %s SELECT g, g, 'x' FROM generate_series(1, 200) g;", t, t)
		default:
			switch i % 9 {
			case 0:
				sql = fmt.Sprintf("ALTER TABLE %s ADD COLUMN c%d int DEFAULT 0;", t, i)
			case 1:
				sql = fmt.Sprintf("CREATE INDEX %s_a%d_idx ON %s (a);", t, i, t)
			case 2:
				sql = fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s_chk%d CHECK (a >= 0) NOT VALID;\n"+
					"ALTER TABLE %s VALIDATE CONSTRAINT %s_chk%d;", t, t, i, t, t, i)
			case 3:
				sql = fmt.Sprintf("COMMENT ON TABLE %s IS 'step %d';", t, i)
			case 4:
				sql = fmt.Sprintf("ALTER TABLE %s ADD COLUMN d%d text;\nUPDATE %s SET d%d = b;", t, i, t, i)
			case 5:
				sql = fmt.Sprintf("-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY %s_cc%d_idx ON %s (id, a);", t, i, t)
			case 6:
				sql = fmt.Sprintf("ALTER TABLE %s ALTER COLUMN b SET DEFAULT 'step %d';", t, i)
			case 7:
				sql = fmt.Sprintf("CREATE TABLE side%d (id int PRIMARY KEY, ref bigint REFERENCES %s (id));", i, t)
			case 8:
				sql = fmt.Sprintf("ALTER TABLE %s ALTER COLUMN b TYPE varchar(%d);", t, 100+i)
			}
		}
		files[fmt.Sprintf("v%03d_step.up.sql", i)] = sql
	}
	return testsets.Map(tb, files)
}

// BenchmarkMeasure100 applies a 100-step set with execute.Migrate and
// measures it with Run, each on a new empty database, and reports the
// ratio of their times (measure/apply): the floor is applying the set.
func BenchmarkMeasure100(b *testing.B) {
	set := set100(b)
	p, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	var apply, meas time.Duration
	n := 0
	for b.Loop() {
		applyConn, measureConn := pgtest.Conn(b), pgtest.Conn(b)
		start := time.Now()
		if _, err := execute.Migrate(ctx, pgxbackend.New(applyConn, nil), set, plan.Latest(), nil); err != nil {
			b.Fatal(err)
		}
		apply += time.Since(start)
		start = time.Now()
		if _, err := measure.Run(ctx, measureConn, p, nil); err != nil {
			b.Fatal(err)
		}
		meas += time.Since(start)
		n++
	}
	b.ReportMetric(float64(apply.Milliseconds())/float64(n), "apply-ms")
	b.ReportMetric(float64(meas.Milliseconds())/float64(n), "measure-ms")
	b.ReportMetric(float64(meas)/float64(apply), "measure/apply")
}
