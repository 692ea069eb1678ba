package plan_test

import (
	"errors"
	"testing"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// TestResumeBatches: a version left dirty by its up script is resumed when
// that script is all waymark:batch statements and unchanged; otherwise it
// is refused as dirty.
func TestResumeBatches(t *testing.T) {
	const batch = "-- waymark:no-transaction\n-- waymark:batch\nUPDATE t SET b = a WHERE id IN (SELECT id FROM t WHERE b IS NULL LIMIT 10);\n"
	files := map[string]string{
		"v1_t.up.sql":       "CREATE TABLE t (id int, a int, b int);\n",
		"v2_fill.up.sql":    batch,
		"v3_more.up.sql":    "CREATE TABLE u (id int);\n",
		"v4_index.up.sql":   "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (b);\n-- waymark:batch\nUPDATE t SET a = 0 WHERE a IS NULL AND id IN (SELECT id FROM t WHERE a IS NULL LIMIT 10);\n",
		"v4_index.down.sql": "DROP INDEX i;\n",
		"v2_fill.down.sql":  "",
		"v1_t.down.sql":     "DROP TABLE t;\n",
		"v3_more.down.sql":  "DROP TABLE u;\n",
	}
	set := testsets.Map(t, files)
	rec := func(v int64, dirty source.Direction) backend.Record {
		m, _ := set.Lookup(v)
		return backend.Record{Version: v, Checksum: m.Up.Checksum, Dirty: dirty}
	}

	p, err := plan.Compute(set, plan.State{Records: []backend.Record{rec(1, 0), rec(2, source.Up)}}, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Versions(); len(got) != 3 || got[0] != 2 || !p.Steps[0].Resume || p.Steps[1].Resume {
		t.Fatalf("plan = %+v, want version 2 resumed, then 3 and 4", p.Steps)
	}
	if _, err := plan.Compute(set, plan.State{Records: []backend.Record{rec(1, 0), rec(2, source.Up)}}, plan.To(1), nil); !errors.Is(err, plan.ErrDirection) {
		t.Errorf("plan.To(1) with a resumable dirty 2 = %v, want ErrDirection", err)
	}

	for _, tt := range []struct {
		reason string
		state  []backend.Record
		target plan.Target
	}{
		{"a mixed script cannot be run again from its start", []backend.Record{rec(1, 0), rec(2, 0), rec(3, 0), rec(4, source.Up)}, plan.Latest()},
		{"a changed script is not the one that ran", []backend.Record{rec(1, 0), {Version: 2, Checksum: source.ChecksumOf("x"), Dirty: source.Up}}, plan.Latest()},
		{"a dirty down is not resumed", []backend.Record{rec(1, 0), rec(2, source.Down)}, plan.Latest()},
		{"a down plan does not resume", []backend.Record{rec(1, 0), rec(2, source.Up)}, plan.DownTo(0)},
	} {
		if _, err := plan.Compute(set, plan.State{Records: tt.state}, tt.target, nil); !errors.Is(err, plan.ErrDirty) {
			t.Errorf("%s: Compute = %v, want ErrDirty", tt.reason, err)
		}
	}
}
