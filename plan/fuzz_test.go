package plan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
	"github.com/waymarkdb/waymark/source"
)

// FuzzCompute plans testdata/mixed from arbitrary states and targets: it
// must never panic, every refusal must name a version, and a plan must go
// one way, in order, through versions of the set.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{1, 2, 3}, uint8(0), int64(0), false, false, false)
	f.Add([]byte{1, 0x82, 3, 5, 8, 100}, uint8(2), int64(1), true, true, true)
	f.Add([]byte{}, uint8(1), int64(-4), false, true, false)
	set := testsets.Load(f, "mixed")
	f.Fuzz(func(t *testing.T, history []byte, kind uint8, target int64, newer, outOfOrder, ignoreDrift bool) {
		// Each byte is a version (low 7 bits; 0 is skipped, above the set
		// are versions it lacks); the high bit makes it dirty, or drifted
		// when the version is even.
		var st plan.State
		for _, b := range history {
			v := int64(b & 0x7f)
			if v == 0 || slices.ContainsFunc(st.Records, func(r backend.Record) bool { return r.Version == v }) {
				continue
			}
			r := backend.Record{Version: v, Checksum: source.ChecksumOf("lost")}
			if m, ok := set.Lookup(v); ok {
				r = plantest.Applied(set, v).Records[0]
				if b&0x80 != 0 && v%2 == 0 {
					r.Checksum = source.ChecksumOf(m.Up.SQL + " -- edited")
				}
			}
			if b&0x80 != 0 && v%2 == 1 {
				r.Dirty = source.Up
			}
			st.Records = append(st.Records, r)
		}
		var tg plan.Target
		switch kind % 3 {
		case 0:
			tg = plan.Latest()
		case 1:
			tg = plan.To(target)
		default:
			tg = plan.DownTo(target)
		}
		p, err := plan.Compute(set, st, tg, &plan.Options{AllowNewerDatabase: newer, AllowOutOfOrder: outOfOrder, IgnoreDrift: ignoreDrift})
		if err != nil {
			var list plan.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if e.Version == 0 && !errors.Is(e, plan.ErrDirection) {
					t.Fatalf("refusal %q names no version", e)
				}
			}
			return
		}
		for i, s := range p.Steps {
			m, ok := set.Lookup(s.Version)
			if !ok || s.Direction != p.Direction {
				t.Fatalf("step %+v: not a version of the set, or the wrong way", s)
			}
			if s.Direction == source.Down && (m.Down == nil || s.SQL != m.Down.SQL) || s.Direction == source.Up && s.SQL != m.Up.SQL {
				t.Fatalf("step %d runs the wrong script", s.Version)
			}
			if i > 0 && (p.Direction == source.Up) != (p.Steps[i-1].Version < s.Version) {
				t.Fatalf("steps out of order: %v", p.Versions())
			}
		}
	})
}

// FuzzPlanJSON decodes arbitrary bytes as a plan: it must never panic, and
// a plan it accepts must encode and decode to itself.
func FuzzPlanJSON(f *testing.F) {
	set := testsets.Load(f, "mixed")
	p, err := plan.Compute(set, plantest.Applied(set, 1), plan.Latest(), nil)
	if err != nil {
		f.Fatal(err)
	}
	good, err := json.Marshal(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte("CREATE"), []byte("DROP"), 1))
	f.Add([]byte(`{"format":"waymark.plan/v1","steps":[{"version":-1,"direction":"up","sql":""}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p plan.Plan
		if err := json.Unmarshal(data, &p); err != nil {
			return
		}
		again, err := json.Marshal(&p)
		if err != nil {
			t.Fatalf("encoding a decoded plan: %v", err)
		}
		var q plan.Plan
		if err := json.Unmarshal(again, &q); err != nil {
			t.Fatalf("decoding a plan it encoded: %v\n%s", err, again)
		}
		if diff := cmp.Diff(p, q); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
