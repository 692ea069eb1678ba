// Package plantest builds planner states for tests that plan without a
// database, as net/http/httptest builds requests for handler tests:
//
//	set, _ := source.FromFS(migrations, "migrations")
//	p, err := plan.Compute(set, plantest.Applied(set, 1, 2), plan.Latest(), nil)
//
// Its functions panic on a programmer's mistake (a version the set does not
// have), as test helpers may.
package plantest

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Applied returns the state of a database that has applied the given
// versions of set, cleanly and with their files' checksums. It panics if a
// version is not in the set.
func Applied(set *source.Set, versions ...int64) plan.State {
	st := plan.State{Records: make([]backend.Record, 0, len(versions))}
	for _, v := range versions {
		st.Records = append(st.Records, record(set, v))
	}
	slices.SortFunc(st.Records, func(a, b backend.Record) int { return cmp.Compare(a.Version, b.Version) })
	return st
}

// Dirty returns st with version v recorded as dirty in direction dir: its
// no-transaction script of that direction started and did not finish. An
// up-dirty version that st does not have is added. It panics if v is not in
// the set.
func Dirty(set *source.Set, st plan.State, v int64, dir source.Direction) plan.State {
	out := plan.State{Records: slices.Clone(st.Records)}
	i, found := slices.BinarySearchFunc(out.Records, v, func(r backend.Record, v int64) int { return cmp.Compare(r.Version, v) })
	if !found {
		out.Records = slices.Insert(out.Records, i, record(set, v))
	}
	out.Records[i].Dirty = dir
	return out
}

func record(set *source.Set, v int64) backend.Record {
	m, ok := set.Lookup(v)
	if !ok {
		panic(fmt.Sprintf("plantest: version %d is not in the set", v))
	}
	return backend.Record{Version: v, Name: m.Name, Checksum: m.Up.Checksum}
}
