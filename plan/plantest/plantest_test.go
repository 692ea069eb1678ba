package plantest_test

import (
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
	"github.com/waymarkdb/waymark/source"
)

func set(t *testing.T) *source.Set {
	t.Helper()
	s, err := source.FromFS(fstest.MapFS{
		"v1_a.up.sql": {Data: []byte("SELECT 1;")},
		"v2_b.up.sql": {Data: []byte("SELECT 2;")},
		"v5_c.up.sql": {Data: []byte("SELECT 5;")},
	}, ".")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestApplied(t *testing.T) {
	s := set(t)
	got := plantest.Applied(s, 5, 1)
	want := plan.State{Records: []backend.Record{
		{Version: 1, Name: "a", Checksum: source.ChecksumOf("SELECT 1;")},
		{Version: 5, Name: "c", Checksum: source.ChecksumOf("SELECT 5;")},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Applied (-want +got):\n%s", diff)
	}
	p, err := plan.Compute(s, got, plan.Latest(), &plan.Options{AllowOutOfOrder: true})
	if err != nil || !cmp.Equal(p.Versions(), []int64{2}) {
		t.Errorf("plan from Applied(5, 1) = %v, %v; want version 2", p, err)
	}
}

func TestDirty(t *testing.T) {
	s := set(t)
	st := plantest.Dirty(s, plantest.Applied(s, 1), 2, source.Up)
	if len(st.Records) != 2 || st.Records[1].Version != 2 || st.Records[1].Dirty != source.Up || st.Records[0].Dirty != 0 {
		t.Errorf("Dirty(Applied(1), 2, up) = %+v", st.Records)
	}
	down := plantest.Dirty(s, st, 1, source.Down)
	if down.Records[0].Dirty != source.Down || st.Records[0].Dirty != 0 {
		t.Errorf("Dirty must mark version 1 in a copy: got %+v, original %+v", down.Records, st.Records)
	}
}

func TestUnknownVersionPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Applied with a version the set does not have did not panic")
		}
	}()
	plantest.Applied(set(t), 3)
}
