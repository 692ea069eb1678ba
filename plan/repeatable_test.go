package plan_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// repSet has versions 1 and 2 and three repeatable scripts.
func repSet(t *testing.T, view string) *source.Set {
	t.Helper()
	return testsets.Map(t, map[string]string{
		"v1_users.up.sql":   "CREATE TABLE users (id int);",
		"v1_users.down.sql": "DROP TABLE users;",
		"v2_more.up.sql":    "ALTER TABLE users ADD COLUMN active bool;",
		"v2_more.down.sql":  "DROP VIEW IF EXISTS active_users;\nALTER TABLE users DROP COLUMN active;",
		"r_b_view.sql":      view,
		"r_a_fn.sql":        "CREATE OR REPLACE FUNCTION one() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
		"r_c_notx.sql":      "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_id ON users (id);",
	})
}

const view1 = "CREATE OR REPLACE VIEW active_users AS SELECT id FROM users WHERE active;"

// recorded is the state of a database that applied versions vs and the
// repeatable scripts of set named in names, as they are in set.
func recorded(set *source.Set, vs []int64, names ...string) plan.State {
	var st plan.State
	for _, v := range vs {
		m, _ := set.Lookup(v)
		st.Records = append(st.Records, backend.Record{Version: v, Name: m.Name, Checksum: m.Up.Checksum})
	}
	for _, n := range names {
		r, _ := set.LookupRepeatable(n)
		st.Repeatables = append(st.Repeatables, backend.RepeatableRecord{Name: n, Checksum: r.Script.Checksum})
	}
	return st
}

func steps(p *plan.Plan) []string {
	var s []string
	for _, st := range p.Steps {
		if st.Repeatable {
			s = append(s, "R "+st.Name)
		} else {
			s = append(s, st.Direction.String()+" "+st.Path)
		}
	}
	return s
}

func TestComputeRepeatables(t *testing.T) {
	set := repSet(t, view1)
	changed := repSet(t, view1+"\n-- now with a comment\n")
	for _, tc := range []struct {
		name   string
		set    *source.Set
		state  plan.State
		target plan.Target
		want   []string
		forget bool
	}{
		{"fresh: versions, then every script in name order", set, plan.State{}, plan.Latest(),
			[]string{"up m/v1_users.up.sql", "up m/v2_more.up.sql", "R a_fn", "R b_view", "R c_notx"}, false},
		{"all applied: nothing", set, recorded(set, []int64{1, 2}, "a_fn", "b_view", "c_notx"), plan.Latest(), nil, false},
		{"a changed script only", changed, recorded(set, []int64{1, 2}, "a_fn", "b_view", "c_notx"), plan.Latest(), []string{"R b_view"}, false},
		{"a new script only", set, recorded(set, []int64{1, 2}, "a_fn", "c_notx"), plan.To(2), []string{"R b_view"}, false},
		{"a script removed from the files is left alone", testsets.Map(t, map[string]string{"v1_users.up.sql": "CREATE TABLE users (id int);", "v2_more.up.sql": "ALTER TABLE users ADD COLUMN active bool;"}),
			recorded(set, []int64{1, 2}, "a_fn", "b_view"), plan.Latest(), nil, false},
		{"below the latest version: no scripts", set, plan.State{}, plan.To(1), []string{"up m/v1_users.up.sql"}, false},
		{"down forgets the scripts", set, recorded(set, []int64{1, 2}, "a_fn"), plan.DownTo(1), []string{"down m/v2_more.down.sql"}, true},
		{"down without scripts recorded", set, recorded(set, []int64{1, 2}), plan.DownTo(1), []string{"down m/v2_more.down.sql"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan.Compute(tc.set, tc.state, tc.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, steps(p)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if p.ForgetRepeatables != tc.forget {
				t.Errorf("ForgetRepeatables = %v", p.ForgetRepeatables)
			}
			if len(p.Steps) > 0 && p.Direction == 0 {
				t.Error("a plan with steps has no direction")
			}
		})
	}
}

// An older binary (the database has versions above its latest) leaves the
// repeatable scripts alone, even those whose text differs.
func TestComputeRepeatablesNewerDatabase(t *testing.T) {
	set := repSet(t, view1)
	st := recorded(set, []int64{1, 2})
	st.Records = append(st.Records, backend.Record{Version: 3, Checksum: source.ChecksumOf("x")})
	p, err := plan.Compute(set, st, plan.Latest(), &plan.Options{AllowNewerDatabase: true})
	if err != nil || !p.Empty() {
		t.Errorf("plan = %v, %v; want nothing to do", p, err)
	}
}

func TestRepeatablesPrintJSONAndSave(t *testing.T) {
	set := repSet(t, view1)
	p, err := plan.Compute(set, recorded(set, []int64{1}, "a_fn"), plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	text := p.String()
	for _, want := range []string{"plan: up from 1 to 2 (3 steps)", "up  R  b_view  m/r_b_view.sql", "no-transaction"} {
		if !strings.Contains(text, want) {
			t.Errorf("String() lacks %q:\n%s", want, text)
		}
	}
	review := p.Review()
	for _, want := range []string{"made from: version 1 applied; repeatable script a_fn applied", "step 2 of 3: up repeatable b_view, in a transaction",
		"step 3 of 3: up repeatable c_notx, NO TRANSACTION: 1 statement, run one by one; after a failure the next run applies it again from the start", "1 | CREATE OR REPLACE VIEW"} {
		if !strings.Contains(review, want) {
			t.Errorf("Review() lacks %q:\n%s", want, review)
		}
	}
	key := bytes.Repeat([]byte("k"), plan.MinKeyLen)
	var buf bytes.Buffer
	if err := plan.Save(&buf, p, &plan.SaveOptions{Key: key}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"format": "waymark.plan/v3"`) || !strings.Contains(buf.String(), `"repeatable": true`) {
		t.Errorf("saved plan:\n%s", buf.String())
	}
	q, err := plan.Load(bytes.NewReader(buf.Bytes()), &plan.LoadOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, q); diff != "" {
		t.Errorf("loaded plan (-want +got):\n%s", diff)
	}
	if err := q.CheckFiles(set); err != nil {
		t.Errorf("CheckFiles = %v", err)
	}
	if err := q.CheckFiles(repSet(t, view1+" ")); !errors.Is(err, plan.ErrFileChanged) || !strings.Contains(err.Error(), "m/r_b_view.sql") {
		t.Errorf("CheckFiles after an edit = %v, want ErrFileChanged naming m/r_b_view.sql", err)
	}
	// Signed: renaming the script is noticed.
	edited := strings.Replace(buf.String(), `"name": "b_view"`, `"name": "b_viex"`, 1)
	if _, err := plan.Load(strings.NewReader(edited), &plan.LoadOptions{Key: key}); !errors.Is(err, plan.ErrSignature) {
		t.Errorf("edited signed plan: %v, want ErrSignature", err)
	}
	// A release before repeatable scripts wrote v2; a v2 plan with them is
	// refused, as v2 readers refuse a v3 plan.
	v2 := strings.Replace(buf.String(), "waymark.plan/v3", "waymark.plan/v2", 1)
	if _, err := plan.Load(strings.NewReader(v2), nil); err == nil || !strings.Contains(err.Error(), "has no repeatable scripts") {
		t.Errorf("v2 plan with repeatable scripts: %v", err)
	}
	// Out of order: a version after a repeatable script.
	var bad plan.Plan
	js, _ := p.MarshalJSON()
	swapped := strings.Replace(string(js), `"steps":[`, `"steps":[`, 1)
	if err := bad.UnmarshalJSON([]byte(swapped)); err != nil {
		t.Fatal(err)
	}
	bad.Steps[0], bad.Steps[1] = bad.Steps[1], bad.Steps[0]
	js, _ = bad.MarshalJSON()
	if err := new(plan.Plan).UnmarshalJSON(js); err == nil || !strings.Contains(err.Error(), "versions come first") {
		t.Errorf("a version after a repeatable script: %v", err)
	}
}

func TestForgetPrinted(t *testing.T) {
	set := repSet(t, view1)
	p, err := plan.Compute(set, recorded(set, []int64{1, 2}, "a_fn", "b_view"), plan.DownTo(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "  first forgets the records of repeatable scripts a_fn, b_view, so that the next up plan applies them all again\n"; !strings.HasSuffix(p.String(), want) {
		t.Errorf("String() = %q, want it to end in %q", p.String(), want)
	}
	js, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var q plan.Plan
	if err := q.UnmarshalJSON(js); err != nil || !q.ForgetRepeatables || len(q.State.Repeatables) != 2 {
		t.Errorf("decoded: %+v, %v", q, err)
	}
}

// Plans with repeatable scripts are their own path, with and without the
// files; one edited by hand (a repeatable step deleted, added while
// recorded unchanged, put on a down plan, the forget flag flipped) is
// refused with ErrNotPath.
func TestCheckPathRepeatables(t *testing.T) {
	set := repSet(t, view1)
	compute := func(st plan.State, target plan.Target) *plan.Plan {
		t.Helper()
		p, err := plan.Compute(set, st, target, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, p := range map[string]*plan.Plan{
		"up with the scripts":         compute(recorded(set, nil), plan.Latest()),
		"only the scripts":            compute(recorded(set, []int64{1, 2}, "a_fn"), plan.Latest()),
		"down forgetting the scripts": compute(recorded(set, []int64{1, 2}, "a_fn", "b_view"), plan.DownTo(1)),
	} {
		if len(p.Steps) == 0 {
			t.Fatalf("%s: no steps", name)
		}
		if err := p.CheckPath(nil, nil); err != nil {
			t.Errorf("%s: CheckPath without files: %v", name, err)
		}
		if err := p.CheckPath(set, nil); err != nil {
			t.Errorf("%s: CheckPath with the files: %v", name, err)
		}
	}

	refused := func(what string, p *plan.Plan, files *source.Set, want string) {
		t.Helper()
		err := p.CheckPath(files, nil)
		if !errors.Is(err, plan.ErrNotPath) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: CheckPath = %v; want ErrNotPath saying %q", what, err, want)
		}
	}
	p := compute(recorded(set, []int64{1, 2}), plan.Latest()) // the three scripts
	deleted := *p
	deleted.Steps = p.Steps[:2]
	refused("a repeatable step deleted", &deleted, set, "repeatable script c_notx")

	p = compute(recorded(set, []int64{1, 2}, "a_fn"), plan.Latest()) // b_view, c_notx
	a, _ := set.LookupRepeatable("a_fn")
	added := *p
	added.Steps = append([]plan.Step{{Name: "a_fn", Direction: source.Up, Path: a.Script.Path, Checksum: a.Script.Checksum, SQL: a.Script.SQL, Repeatable: true}}, p.Steps...)
	refused("a step of a script recorded unchanged", &added, nil, "recorded with the same checksum")

	down := compute(recorded(set, []int64{1, 2}, "a_fn"), plan.DownTo(1))
	kept := *down
	kept.ForgetRepeatables = false
	refused("a down plan that keeps the records", &kept, nil, "does not forget")
	upForget := *p
	upForget.ForgetRepeatables = true
	refused("an up plan that forgets", &upForget, nil, "only a down plan does")
	withRep := *down
	withRep.Steps = append(append([]plan.Step{}, down.Steps...), plan.Step{Name: "a_fn", Direction: source.Down, Path: a.Script.Path,
		Checksum: a.Script.Checksum, SQL: a.Script.SQL, Repeatable: true})
	refused("a repeatable step in a down plan", &withRep, nil, "only an up plan applies them")
}

// A v1 plan with repeatable scripts is refused like a v2 one.
func TestRepeatablesV1Refused(t *testing.T) {
	set := repSet(t, view1)
	p, err := plan.Compute(set, recorded(set, []int64{1, 2}), plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	v1 := strings.Replace(string(data), "waymark.plan/v3", "waymark.plan/v1", 1)
	var q plan.Plan
	if err := q.UnmarshalJSON([]byte(v1)); err == nil || !strings.Contains(err.Error(), `format "waymark.plan/v1" has no repeatable scripts`) {
		t.Errorf("v1 plan with repeatable scripts: %v", err)
	}
}
