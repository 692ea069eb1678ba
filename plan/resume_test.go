package plan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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

// TestDownScriptsInJSON: the down script an up step records, and a step
// from the history, survive a saved plan (format v3); a v2 plan, without
// them, still loads and records nothing.
func TestDownScriptsInJSON(t *testing.T) {
	set := testsets.Map(t, map[string]string{
		"v1_a.up.sql": "CREATE TABLE a (id int);\n", "v1_a.down.sql": "DROP TABLE a;\n",
		"v2_b.up.sql": "CREATE TABLE b (id int);\n",
	})
	up, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if up.Steps[0].Down != backend.DownKept || up.Steps[0].DownSQL != "DROP TABLE a;\n" || up.Steps[1].Down != backend.DownNone {
		t.Fatalf("up steps = %+v, want the down script of 1 and none for 2", up.Steps)
	}
	newer := plan.State{Records: []backend.Record{
		{Version: 1, Checksum: up.Steps[0].Checksum, Down: backend.DownKept, DownSQL: "DROP TABLE a;\n"},
		{Version: 2, Checksum: up.Steps[1].Checksum, Down: backend.DownNone},
		{Version: 3, Name: "c", Checksum: source.ChecksumOf("x"), Down: backend.DownKept, DownSQL: "DROP TABLE c;\n"},
	}}
	down, err := plan.Compute(set, plan.State{Records: newer.Records[2:]}, plan.DownTo(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*plan.Plan{up, down} {
		var buf bytes.Buffer
		if err := plan.Save(&buf, p, nil); err != nil {
			t.Fatal(err)
		}
		got, err := plan.Load(&buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(p.Steps, got.Steps); diff != "" {
			t.Errorf("steps after Save and Load (-want +got):\n%s", diff)
		}
	}
	if !down.Steps[0].FromHistory || down.Steps[0].Path != "history:v3_c.down.sql" {
		t.Errorf("down step = %+v, want from the history", down.Steps[0])
	}
	var v2 bytes.Buffer
	if err := plan.Save(&v2, up, nil); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(v2.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	doc["format"] = "waymark.plan/v2"
	for _, st := range doc["steps"].([]any) {
		delete(st.(map[string]any), "down")
		delete(st.(map[string]any), "down_sql")
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	old, err := plan.Load(strings.NewReader(text), nil)
	if err != nil {
		t.Fatalf("a v2 plan: %v\n%s", err, text)
	}
	if old.Steps[0].Down != backend.DownUnknown || old.Steps[0].DownSQL != "" {
		t.Errorf("a v2 plan's up step = %+v, want nothing to record", old.Steps[0])
	}
}
