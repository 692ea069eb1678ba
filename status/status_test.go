package status_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/memory"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/status"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// row is what a test checks of an entry.
type row struct {
	Version  int64
	State    status.State
	Problems []error
}

func rows(r *status.Report) []row {
	var out []row
	for _, e := range r.Entries {
		x := row{Version: e.Version, State: e.State}
		for _, p := range e.Problems {
			x.Problems = append(x.Problems, p.Err)
		}
		out = append(out, x)
	}
	return out
}

var errCmp = cmp.Comparer(func(a, b error) bool { return a == b })

func TestCompute(t *testing.T) {
	set := testsets.Load(t, "mixed") // 1, 2, 3, 5, 8
	applied := func(vs ...int64) plan.State { return plantest.Applied(set, vs...) }
	with := func(st plan.State, recs ...backend.Record) plan.State {
		st.Records = append(st.Records, recs...)
		return st
	}
	drift := func(st plan.State, v int64) plan.State {
		for i := range st.Records {
			if st.Records[i].Version == v {
				st.Records[i].Checksum = source.ChecksumOf("edited")
			}
		}
		return st
	}
	P, A, D, R, M, O := status.Pending, status.Applied, status.Dirty, status.Drifted, status.Missing, status.OutOfOrder
	tests := []struct {
		name  string
		state plan.State
		opts  *plan.Options
		want  []row
	}{
		{"empty database", plan.State{}, nil,
			[]row{{1, P, nil}, {2, P, nil}, {3, P, nil}, {5, P, nil}, {8, P, nil}}},
		{"part applied", applied(1, 2), nil,
			[]row{{1, A, nil}, {2, A, nil}, {3, P, nil}, {5, P, nil}, {8, P, nil}}},
		{"up to date", applied(1, 2, 3, 5, 8), nil,
			[]row{{1, A, nil}, {2, A, nil}, {3, A, nil}, {5, A, nil}, {8, A, nil}}},
		{"dirty", plantest.Dirty(set, applied(1, 2), 3, source.Up), nil,
			[]row{{1, A, nil}, {2, A, nil}, {3, D, []error{plan.ErrDirty}}, {5, P, nil}, {8, P, nil}}},
		{"drifted", drift(applied(1, 2), 2), nil,
			[]row{{1, A, nil}, {2, R, []error{plan.ErrDrift}}, {3, P, nil}, {5, P, nil}, {8, P, nil}}},
		{"drift ignored", drift(applied(1, 2), 2), &plan.Options{IgnoreDrift: true},
			[]row{{1, A, nil}, {2, A, nil}, {3, P, nil}, {5, P, nil}, {8, P, nil}}},
		{"dirty and drifted", drift(plantest.Dirty(set, applied(1), 3, source.Up), 3), nil,
			[]row{{1, A, nil}, {2, O, []error{plan.ErrOutOfOrder}}, {3, D, []error{plan.ErrDrift, plan.ErrDirty}}, {5, P, nil}, {8, P, nil}}},
		{"out of order", applied(1, 3), nil,
			[]row{{1, A, nil}, {2, O, []error{plan.ErrOutOfOrder}}, {3, A, nil}, {5, P, nil}, {8, P, nil}}},
		{"out of order allowed", applied(1, 3), &plan.Options{AllowOutOfOrder: true},
			[]row{{1, A, nil}, {2, P, nil}, {3, A, nil}, {5, P, nil}, {8, P, nil}}},
		{"missing in a gap", with(applied(1, 2), backend.Record{Version: 4, Name: "gone"}), nil,
			[]row{{1, A, nil}, {2, A, nil}, {3, O, []error{plan.ErrOutOfOrder}}, {4, M, []error{plan.ErrUnknownVersion}}, {5, P, nil}, {8, P, nil}}},
		{"newer database", with(applied(1, 2, 3, 5, 8), backend.Record{Version: 9}), nil,
			[]row{{1, A, nil}, {2, A, nil}, {3, A, nil}, {5, A, nil}, {8, A, nil}, {9, M, []error{plan.ErrUnknownVersion}}}},
		{"newer database allowed", with(applied(1, 2, 3, 5, 8), backend.Record{Version: 9}), &plan.Options{AllowNewerDatabase: true},
			[]row{{1, A, nil}, {2, A, nil}, {3, A, nil}, {5, A, nil}, {8, A, nil}, {9, M, nil}}},
		{"missing and dirty", with(applied(1), backend.Record{Version: 4, Dirty: source.Up}), nil,
			[]row{{1, A, nil}, {2, O, []error{plan.ErrOutOfOrder}}, {3, O, []error{plan.ErrOutOfOrder}}, {4, D, []error{plan.ErrDirty, plan.ErrUnknownVersion}}, {5, P, nil}, {8, P, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := status.Compute(set, tt.state, tt.opts)
			if diff := cmp.Diff(tt.want, rows(r), errCmp); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
			_, perr := plan.Compute(set, tt.state, plan.Latest(), tt.opts)
			if (r.Err == nil) != (perr == nil) {
				t.Errorf("Err = %v, plan.Compute's error = %v", r.Err, perr)
			}
		})
	}
}

// TestAgreesWithPlan checks on random states that every refusal of
// plan.Compute appears on the entry of its version, and that a version's
// state is a refusal state exactly when plan.Compute refuses because of it.
func TestAgreesWithPlan(t *testing.T) {
	set := testsets.Load(t, "mixed")
	rng := rand.New(rand.NewPCG(1, 2))
	candidates := []int64{1, 2, 3, 4, 5, 8, 9, 100}
	for i := range 2000 {
		var st plan.State
		for _, v := range candidates {
			if rng.IntN(2) == 0 {
				continue
			}
			rec := backend.Record{Version: v, Checksum: source.ChecksumOf("x")}
			if m, ok := set.Lookup(v); ok && rng.IntN(4) > 0 {
				rec.Checksum = m.Up.Checksum
			}
			if rng.IntN(5) == 0 {
				rec.Dirty = source.Direction(1 + rng.IntN(2))
			}
			st.Records = append(st.Records, rec)
		}
		opts := &plan.Options{AllowNewerDatabase: rng.IntN(2) == 0, AllowOutOfOrder: rng.IntN(2) == 0, IgnoreDrift: rng.IntN(2) == 0}
		r := status.Compute(set, st, opts)
		_, perr := plan.Compute(set, st, plan.Latest(), opts)
		var list plan.ErrorList
		errors.As(perr, &list)
		if (r.Err == nil) != (perr == nil) {
			t.Fatalf("case %d: Err = %v, plan.Compute: %v", i, r.Err, perr)
		}
		seen := 0
		for _, e := range r.Entries {
			seen += len(e.Problems)
			is := func(kind error) bool {
				for _, p := range e.Problems {
					if p.Err == kind {
						return true
					}
				}
				return false
			}
			want := map[status.State]bool{
				status.Dirty:      is(plan.ErrDirty),
				status.Drifted:    is(plan.ErrDrift) && !is(plan.ErrDirty),
				status.OutOfOrder: is(plan.ErrOutOfOrder),
			}
			for s, ok := range want {
				if (e.State == s) != ok {
					t.Fatalf("case %d (%v, %+v): version %d is %v with problems %v", i, st.Records, opts, e.Version, e.State, e.Problems)
				}
			}
			if is(plan.ErrUnknownVersion) && e.State != status.Missing && e.State != status.Dirty {
				t.Fatalf("case %d: version %d is %v with problems %v", i, e.Version, e.State, e.Problems)
			}
		}
		if seen != len(list) {
			t.Fatalf("case %d: entries carry %d problems, plan.Compute gives %d: %v", i, seen, len(list), perr)
		}
	}
}

func TestString(t *testing.T) {
	set := testsets.Load(t, "mixed")
	st := plantest.Dirty(set, plantest.Applied(set, 1, 2), 3, source.Up)
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.FixedZone("CET", 3600))
	for i := range st.Records {
		st.Records[i].AppliedAt = at.Add(time.Duration(i) * time.Minute)
		st.Records[i].Duration = time.Duration(i+1) * 12345678 * time.Nanosecond
	}
	got := status.Compute(set, st, nil).String()
	want := `status: database at version 3, files up to 8: 2 applied, 2 pending, 1 dirty; plans are refused
  VERSION  STATE    NAME   APPLIED               TOOK     FILE
  1        applied  one    2026-01-02T14:04:05Z  12.35ms  mixed/v1_one.up.sql
  2        applied  two    2026-01-02T14:05:05Z  24.69ms  mixed/v2_two.up.sql
  3        dirty    idx    2026-01-02T14:06:05Z  37.04ms  mixed/v3_idx.up.sql
  5        pending  five   -                     -        mixed/v5_five.up.sql
  8        pending  eight  -                     -        mixed/v8_eight.up.sql
problems:
  plan: version 3 (mixed/v3_idx.up.sql): dirty version: its no-transaction up script did not finish; if it failed (rather than still running elsewhere), repair the database by hand, then record the outcome with execute.Resolve
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("String (-want +got):\n%s", diff)
	}
	done := status.Compute(set, plantest.Applied(set, 1, 2, 3, 5, 8), nil).String()
	if first := strings.SplitN(done, "\n", 2)[0]; first != "status: database at version 8, files up to 8: 5 applied; up to date" {
		t.Errorf("summary of an up-to-date database = %q", first)
	}
}

func TestJSON(t *testing.T) {
	set := testsets.Load(t, "mixed")
	st := plantest.Dirty(set, plantest.Applied(set, 1), 3, source.Up)
	st.Records[0].AppliedAt = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	st.Records[0].Duration = 1500 * time.Microsecond
	data, err := json.Marshal(status.Compute(set, st, nil))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Format   string `json:"format"`
		Current  int64  `json:"current"`
		Latest   int64  `json:"latest"`
		Refused  bool   `json:"refused"`
		Versions []struct {
			Version   int64      `json:"version"`
			State     string     `json:"state"`
			AppliedAt *time.Time `json:"applied_at"`
			Duration  string     `json:"duration"`
			Dirty     string     `json:"dirty"`
			Problems  []string   `json:"problems"`
		} `json:"versions"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if got.Format != "waymark.status/v1" || got.Current != 3 || got.Latest != 8 || !got.Refused || len(got.Problems) != 2 {
		t.Errorf("report header = %+v\n%s", got, data)
	}
	var states []string
	for _, v := range got.Versions {
		states = append(states, v.State)
	}
	if diff := cmp.Diff([]string{"applied", "out-of-order", "dirty", "pending", "pending"}, states); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if v := got.Versions[0]; v.AppliedAt == nil || v.Duration != "1.5ms" {
		t.Errorf("version 1 = %+v, want its time and duration", v)
	}
	if v := got.Versions[2]; v.Dirty != "up" || len(v.Problems) != 1 || !strings.Contains(v.Problems[0], "dirty version") {
		t.Errorf("version 3 = %+v, want dirty up with its problem", v)
	}
	if v := got.Versions[3]; v.AppliedAt != nil || v.Duration != "" {
		t.Errorf("pending version 5 = %+v, want no time", v)
	}
}

func TestReadMemory(t *testing.T) {
	set := testsets.Load(t, "four")
	db := memory.New(nil)
	ctx := context.Background()
	if _, err := execute.Migrate(ctx, db, set, plan.To(2), nil); err != nil {
		t.Fatal(err)
	}
	r, err := status.Read(ctx, db, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]row{{1, status.Applied, nil}, {2, status.Applied, nil}, {3, status.Pending, nil}, {4, status.Pending, nil}}, rows(r), errCmp); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, e := range r.Entries[:2] {
		if e.AppliedAt.IsZero() {
			t.Errorf("version %d: no AppliedAt", e.Version)
		}
	}
}

// TestReadPostgres reads a real history, and checks that reading a database
// without one creates nothing and takes no lock.
func TestReadPostgres(t *testing.T) {
	set := testsets.Load(t, "sample")
	pool := pgtest.Pool(t)
	ctx := context.Background()
	db := pgxbackend.New(pool, nil)

	before := pgtest.Objects(t, pool)
	r, err := status.Read(ctx, db, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, pgtest.Objects(t, pool)); diff != "" {
		t.Errorf("Read changed the database (-before +after):\n%s", diff)
	}
	if r.Count(status.Pending) != 4 {
		t.Errorf("fresh database: %s", r)
	}

	if _, err := execute.Migrate(ctx, db, set, plan.To(2), nil); err != nil {
		t.Fatal(err)
	}
	// Hold the migration lock: Read does not wait for it.
	sess, err := db.TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Unlock(context.WithoutCancel(ctx))
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err = status.Read(rctx, db, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]row{{1, status.Applied, nil}, {2, status.Applied, nil}, {3, status.Pending, nil}, {4, status.Pending, nil}}, rows(r), errCmp); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if e := r.Entries[0]; e.AppliedAt.IsZero() || e.Duration <= 0 {
		t.Errorf("version 1 = %+v, want when and how long", e)
	}
}

// TestImportedAndFileProblems: an imported record says so instead of a
// duration, in text and JSON; file problems are listed in both, and make
// the report refused.
func TestImportedAndFileProblems(t *testing.T) {
	set := testsets.Load(t, "mixed")
	st := plantest.Applied(set, 1, 2)
	at := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	st.Records[0].AppliedAt, st.Records[0].Imported = at, true
	st.Records[1].AppliedAt, st.Records[1].Duration = at.Add(time.Hour), 2*time.Millisecond
	r := status.Compute(set, st, nil)
	r.FileProblems = source.ErrorList{{Pos: source.Position{Path: "mixed/v9_x.down.sql", Line: 1, Column: 1}, Err: source.ErrSyntax, Detail: "bad"}}
	text := r.String()
	for _, want := range []string{
		"status: database at version 2, files up to 8: 2 applied, 3 pending; plans are refused\n",
		"  1        applied  one    2021-03-04T05:06:07Z  imported  mixed/v1_one.up.sql\n",
		"  2        applied  two    2021-03-04T06:06:07Z  2ms       mixed/v2_two.up.sql\n",
		"file problems (1 file left out above; fix them first):\n  mixed/v9_x.down.sql:1:1: cannot split script: bad\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("String lacks %q:\n%s", want, text)
		}
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Refused      bool     `json:"refused"`
		FileProblems []string `json:"file_problems"`
		Versions     []struct {
			Imported bool   `json:"imported"`
			Duration string `json:"duration"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Refused || len(got.FileProblems) != 1 || !got.Versions[0].Imported || got.Versions[0].Duration != "" || got.Versions[1].Imported || got.Versions[1].Duration != "2ms" {
		t.Errorf("JSON = %s", data)
	}
	if s := status.BadFile.String(); s != "bad-file" {
		t.Errorf("BadFile = %q", s)
	}
	// Without file problems the document has no file_problems key.
	data, _ = json.Marshal(status.Compute(set, st, nil))
	if strings.Contains(string(data), "file_problems") {
		t.Errorf("JSON without file problems mentions them: %s", data)
	}
}
