package execute_test

// Logic tests on the in-memory backend. The same behaviours are tested on
// PostgreSQL in postgres_test.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/memory"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// fakeSet is testdata/four: versions 1 to 4, with "broken" in v2 and v3
// for failOn to fail.
func fakeSet(t *testing.T) *source.Set {
	t.Helper()
	return testsets.Load(t, "four")
}

// failOn returns a Fail hook that fails any SQL containing word, at the
// word's offset.
func failOn(word string) *memory.Options {
	return &memory.Options{Fail: func(sql string) error {
		if i := strings.Index(sql, word); i >= 0 {
			at := sqlsplit.Locate(sql, i)
			return &backend.ScriptError{Pos: source.Position{Line: at.Line, Column: at.Column, Offset: at.Offset}, Err: errors.New("ERROR: boom (SQLSTATE XX000)")}
		}
		return nil
	}}
}

func versions(t *testing.T, db backend.Backend) []int64 {
	t.Helper()
	rs, err := db.ReadState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var vs []int64
	for _, r := range rs {
		vs = append(vs, r.Version)
	}
	return vs
}

func applied(res *execute.Result) []int64 {
	var vs []int64
	for _, s := range res.Steps {
		vs = append(vs, s.Version)
	}
	return vs
}

func mustPlan(t *testing.T, db backend.Backend, set *source.Set, target plan.Target) *plan.Plan {
	t.Helper()
	p, err := plan.Build(context.Background(), db, set, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunUpAndDown(t *testing.T) {
	set := fakeSet(t)
	db := memory.New(nil)
	ctx := context.Background()
	res, err := execute.Run(ctx, db, mustPlan(t, db, set, plan.To(1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1}, applied(res)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	res, err = execute.Run(ctx, db, mustPlan(t, db, set, plan.DownTo(0)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1}, applied(res)); diff != "" || res.Steps[0].Direction != source.Down {
		t.Errorf("down applied (-want +got):\n%s (direction %v)", diff, res.Steps[0].Direction)
	}
	if got := versions(t, db); len(got) != 0 {
		t.Errorf("state after down to 0 = %v", got)
	}
	want := []string{"CREATE TABLE one (id int);", "DROP TABLE one;"}
	if diff := cmp.Diff(want, db.Executed()); diff != "" {
		t.Errorf("executed (-want +got):\n%s", diff)
	}
}

func TestRunEmptyPlanTakesNoLock(t *testing.T) {
	set := fakeSet(t)
	db := memory.New(nil)
	p := mustPlan(t, db, set, plan.To(0))
	held, err := db.TryLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := execute.Run(ctx, db, p, nil)
	if err != nil || len(res.Steps) != 0 {
		t.Errorf("Run of an empty plan while the lock is held = %v, %v; want no steps, nil", res.Steps, err)
	}
}

func TestRunStalePlan(t *testing.T) {
	set := fakeSet(t)
	db := memory.New(nil)
	ctx := context.Background()
	p := mustPlan(t, db, set, plan.To(1))
	// Someone else migrates first.
	if _, err := execute.Run(ctx, db, mustPlan(t, db, set, plan.To(1)), nil); err != nil {
		t.Fatal(err)
	}
	before := db.Executed()
	res, err := execute.Run(ctx, db, p, nil)
	var stale *execute.StaleError
	if !errors.Is(err, execute.ErrStalePlan) || !errors.As(err, &stale) {
		t.Fatalf("Run of a stale plan = %v, want ErrStalePlan", err)
	}
	if stale.Planned.Version() != 0 || stale.Current.Version() != 1 {
		t.Errorf("StaleError = %+v, want planned at 0, current 1", stale)
	}
	if len(res.Steps) != 0 || len(db.Executed()) != len(before) {
		t.Errorf("a stale plan ran SQL or applied steps")
	}
	if !strings.Contains(err.Error(), "build a new plan") {
		t.Errorf("message %q does not say what to do", err)
	}
}

func TestRunFailingStep(t *testing.T) {
	set := fakeSet(t)
	db := memory.New(failOn("broken"))
	ctx := context.Background()
	res, err := execute.Run(ctx, db, mustPlan(t, db, set, plan.To(2)), nil)
	var se *execute.StepError
	if !errors.As(err, &se) {
		t.Fatalf("Run = %v, want a *StepError", err)
	}
	// "broken" follows "é" (one character, two bytes) on line 3: the
	// column counts characters.
	want := "four/v2_two.up.sql:3:33: ERROR: boom (SQLSTATE XX000)"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if se.Version != 2 || se.Pos.Line != 3 || se.Pos.Column != 33 || se.Dirty {
		t.Errorf("StepError = %+v", se)
	}
	var scriptErr *backend.ScriptError
	if !errors.As(err, &scriptErr) {
		t.Error("errors.As does not reach the backend's ScriptError")
	}
	if diff := cmp.Diff([]int64{1}, applied(res)); diff != "" {
		t.Errorf("result applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{1}, versions(t, db)); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

func TestStepErrorWithoutPosition(t *testing.T) {
	set := fakeSet(t)
	db := memory.New(&memory.Options{Fail: func(sql string) error {
		if strings.Contains(sql, "broken") {
			return &backend.ScriptError{Pos: source.Position{Statement: 2}, Err: errors.New("ERROR: boom")}
		}
		return nil
	}})
	_, err := execute.Run(context.Background(), db, mustPlan(t, db, set, plan.To(2)), nil)
	// No position: the start of the failing (second) statement.
	if want := "four/v2_two.up.sql:3:1: ERROR: boom"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestSingleTransaction(t *testing.T) {
	set := fakeSet(t)
	db := memory.New(failOn("broken"))
	ctx := context.Background()
	opts := &execute.Options{SingleTransaction: true}
	res, err := execute.Run(ctx, db, mustPlan(t, db, set, plan.To(2)), opts)
	if err == nil {
		t.Fatal("Run succeeded")
	}
	if len(res.Steps) != 0 || len(versions(t, db)) != 0 {
		t.Errorf("single transaction left applied = %v, state = %v; want nothing", applied(res), versions(t, db))
	}

	_, err = execute.Run(ctx, db, mustPlan(t, db, set, plan.To(3)), opts)
	if !errors.Is(err, execute.ErrBadPlan) || !strings.Contains(err.Error(), "four/v3_idx.up.sql") {
		t.Errorf("single transaction with a no-transaction step = %v, want ErrBadPlan naming the file", err)
	}

	good := memory.New(nil)
	res, err = execute.Run(ctx, good, mustPlan(t, good, set, plan.To(2)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 2}, applied(res)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
}

func TestNoTransactionStep(t *testing.T) {
	set := fakeSet(t)
	ctx := context.Background()
	db := memory.New(&memory.Options{Fail: func(sql string) error {
		if strings.HasPrefix(sql, "CREATE INDEX CONCURRENTLY b") {
			return &backend.ScriptError{Pos: source.Position{Line: 1, Column: 31, Offset: 30, Statement: 1}, Err: errors.New("ERROR: column \"broken\" does not exist (SQLSTATE 42703)")}
		}
		return nil
	}})
	res, err := execute.Run(ctx, db, mustPlan(t, db, set, plan.To(3)), nil)
	var se *execute.StepError
	if !errors.As(err, &se) {
		t.Fatalf("Run = %v, want a *StepError", err)
	}
	if se.Version != 3 || !se.Dirty || se.Pos.Statement != 2 || se.Statements != 2 || se.Pos.Line != 3 || se.Pos.Column != 31 {
		t.Errorf("StepError = %+v; want version 3, dirty, statement 2 of 2 at 3:31", se)
	}
	for _, want := range []string{"four/v3_idx.up.sql:3:31: ", "statement 2 of 2", "version 3 is left dirty", "execute.Resolve"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if diff := cmp.Diff([]int64{1, 2}, applied(res)); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	// The statements ran one at a time, the first one before the failure.
	log := db.Executed()
	if n := len(log); n < 2 || log[n-2] != "CREATE INDEX CONCURRENTLY a ON two (id);" || log[n-1] != "CREATE INDEX CONCURRENTLY b ON two (broken);" {
		t.Errorf("executed = %q", log)
	}
	rs, _ := db.ReadState(ctx)
	if len(rs) != 3 || rs[2].Dirty != source.Up {
		t.Fatalf("state = %+v, want version 3 dirty (up)", rs)
	}
	// Later plans refuse, naming the version.
	_, err = plan.Build(ctx, db, set, plan.Latest(), nil)
	if !errors.Is(err, plan.ErrDirty) || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("Build with a dirty version = %v, want ErrDirty naming version 3", err)
	}
	_, err = execute.Migrate(ctx, db, set, plan.Latest(), nil)
	if !errors.Is(err, plan.ErrDirty) {
		t.Errorf("Migrate with a dirty version = %v, want ErrDirty", err)
	}

	// Resolve: only a dirty version can be resolved.
	if err := execute.Resolve(ctx, db, 2, execute.MarkApplied, nil); !errors.Is(err, execute.ErrNotDirty) {
		t.Errorf("Resolve of a clean version = %v, want ErrNotDirty", err)
	}
	if err := execute.Resolve(ctx, db, 9, execute.MarkApplied, nil); !errors.Is(err, execute.ErrNotInHistory) || errors.Is(err, execute.ErrNotDirty) ||
		err.Error() != "execute: version 9: version is not in the history: there is nothing to resolve" {
		t.Errorf("Resolve of a version the history lacks = %v, want ErrNotInHistory (and not ErrNotDirty)", err)
	}
	if err := execute.Resolve(ctx, db, 3, execute.Resolution(7), nil); !errors.Is(err, execute.ErrBadResolution) {
		t.Errorf("Resolve with an invalid resolution = %v, want ErrBadResolution", err)
	}
	if err := execute.Resolve(ctx, db, 3, execute.MarkNotApplied, nil); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if diff := cmp.Diff([]int64{1, 2}, versions(t, db)); diff != "" {
		t.Errorf("state after MarkNotApplied (-want +got):\n%s", diff)
	}
}

func TestResolveMarkApplied(t *testing.T) {
	set := fakeSet(t)
	store := memory.NewStore()
	ctx := context.Background()
	if _, err := execute.Migrate(ctx, store.Backend("", nil), set, plan.To(3), nil); err != nil {
		t.Fatal(err)
	}
	failing := store.Backend("", &memory.Options{Fail: func(sql string) error {
		if strings.Contains(sql, "DROP INDEX CONCURRENTLY b") {
			return errors.New("ERROR: boom")
		}
		return nil
	}})
	_, err := execute.Run(ctx, failing, mustPlan(t, failing, set, plan.DownTo(2)), nil)
	var se *execute.StepError
	if !errors.As(err, &se) || !se.Dirty || se.Direction != source.Down {
		t.Fatalf("Run = %v, want a dirty down step", err)
	}
	rs, _ := failing.ReadState(ctx)
	if len(rs) != 3 || rs[2].Dirty != source.Down {
		t.Fatalf("state = %+v, want version 3 dirty (down)", rs)
	}
	if err := execute.Resolve(ctx, failing, 3, execute.MarkApplied, nil); err != nil {
		t.Fatal(err)
	}
	rs, _ = failing.ReadState(ctx)
	if len(rs) != 3 || rs[2].Dirty != 0 {
		t.Errorf("state after MarkApplied = %+v, want version 3 clean", rs)
	}
}

func TestRunRefusesEditedPlan(t *testing.T) {
	set := fakeSet(t)
	edits := []struct {
		name string
		edit func(*plan.Step)
		want string
	}{
		{"SQL without its checksum", func(s *plan.Step) { s.SQL = "DROP TABLE everything;" }, "does not match its checksum"},
		{"no-transaction flag", func(s *plan.Step) { s.NoTransaction = true }, "no-transaction flag"},
		{"transaction control, checksum and all", func(s *plan.Step) {
			s.SQL = "CREATE TABLE one (id int);\nCOMMIT;\nDROP TABLE two;"
			s.Checksum = source.ChecksumOf(s.SQL)
		}, "transaction control"},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			db := memory.New(nil)
			p := mustPlan(t, db, set, plan.To(1))
			e.edit(&p.Steps[0])
			_, err := execute.Run(context.Background(), db, p, nil)
			if !errors.Is(err, execute.ErrBadPlan) || !strings.Contains(err.Error(), e.want) {
				t.Errorf("Run of an edited plan = %v, want ErrBadPlan saying %q", err, e.want)
			}
			if got := db.Executed(); len(got) != 0 {
				t.Errorf("an edited plan ran %q", got)
			}
		})
	}
}

func TestRunPlanFromJSON(t *testing.T) {
	set := fakeSet(t)
	db := memory.New(nil)
	data, err := json.Marshal(mustPlan(t, db, set, plan.To(1)))
	if err != nil {
		t.Fatal(err)
	}
	var p plan.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if _, err := execute.Run(context.Background(), db, &p, nil); err != nil {
		t.Fatalf("Run of a plan read back from JSON: %v", err)
	}
	if diff := cmp.Diff([]int64{1}, versions(t, db)); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

func TestProgressAndLogging(t *testing.T) {
	set := fakeSet(t)
	db := memory.New(nil)
	var events []string
	var logs bytes.Buffer
	opts := &execute.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Progress: func(e execute.Event) {
			s := e.Step.Path
			if e.Done {
				s += " done"
			}
			events = append(events, s)
		},
	}
	if _, err := execute.Run(context.Background(), db, mustPlan(t, db, set, plan.To(3)), opts); err != nil {
		t.Fatal(err)
	}
	want := []string{"four/v1_one.up.sql", "four/v1_one.up.sql done", "four/v2_two.up.sql", "four/v2_two.up.sql done", "four/v3_idx.up.sql", "four/v3_idx.up.sql done"}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, want := range []string{"waymark: migrating", "version=3", "waymark: statement", "waymark: migrated"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, logs.String())
		}
	}
}

// lockCounter counts the tries for the lock of a memory backend.
type lockCounter struct {
	*memory.Backend
	tries int
}

func (c *lockCounter) TryLock(ctx context.Context) (backend.Session, error) {
	c.tries++
	return c.Backend.TryLock(ctx)
}

func TestMigrateFastPath(t *testing.T) {
	set := fakeSet(t)
	db := &lockCounter{Backend: memory.New(nil)}
	ctx := context.Background()
	if _, err := execute.Migrate(ctx, db, set, plan.To(2), nil); err != nil {
		t.Fatal(err)
	}
	// Up to date: the head says so, no lock.
	db.tries = 0
	res, err := execute.Migrate(ctx, db, set, plan.To(2), nil)
	if err != nil || !res.Plan.Empty() || res.Plan.From != 2 || db.tries != 0 {
		t.Errorf("Migrate when up to date = %v, %v, %d tries for the lock; want an empty plan at 2 and none", res.Plan, err, db.tries)
	}
	// While another run holds the lock, even an up-to-date Migrate waits:
	// what it reads may not be durable yet.
	held, err := db.Backend.TryLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err = execute.Migrate(short, db, set, plan.To(2), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Migrate while another holds the lock = %v, want it to wait until the deadline", err)
	}
	must(t, held.Unlock(ctx))
}

func TestMigrateConcurrently(t *testing.T) {
	set := fakeSet(t)
	store := memory.NewStore()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = execute.Migrate(ctx, store.Backend("", nil), set, plan.To(2), nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	db := store.Backend("", nil)
	want := []string{"CREATE TABLE one (id int);", "CREATE TABLE two (id int);\n-- note\nINSERT INTO two VALUES ('café', broken);"}
	if diff := cmp.Diff(want, db.Executed()); diff != "" {
		t.Errorf("executed (-want +got):\n%s", diff)
	}
}

func TestStepErrorMessages(t *testing.T) {
	base := execute.StepError{Version: 3, Pos: source.Position{Path: "four/v3.up.sql"}, Err: errors.New("ERROR: boom")}
	tests := []struct {
		edit func(*execute.StepError)
		want string
	}{
		{func(*execute.StepError) {}, "four/v3.up.sql: ERROR: boom"},
		{func(e *execute.StepError) { e.Pos.Line, e.Pos.Column = 4, 7 }, "four/v3.up.sql:4:7: ERROR: boom"},
		{func(e *execute.StepError) { e.Hint = "do this" }, "four/v3.up.sql: ERROR: boom (hint: do this)"},
		{func(e *execute.StepError) { e.Dirty, e.Pos.Statement, e.Statements = true, 2, 5 },
			"four/v3.up.sql: ERROR: boom; statement 2 of 5 failed after statement 1 took effect, so version 3 is left dirty: repair the database, then call execute.Resolve"},
		{func(e *execute.StepError) { e.Dirty = true },
			"four/v3.up.sql: ERROR: boom; version 3 is left dirty: check the database, then call execute.Resolve"},
		{func(e *execute.StepError) {
			e.Detail, e.ServerHint = "Key (id)=(1) is duplicated.", "Drop the duplicates."
		},
			"four/v3.up.sql: ERROR: boom\nDETAIL: Key (id)=(1) is duplicated.\nHINT: Drop the duplicates."},
	}
	for _, tt := range tests {
		e := base
		tt.edit(&e)
		if got := e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// A plan is stale when any record it was made from changed: a version
// added or removed, a checksum, a dirty marker. The error says which.
func TestRunStalePlanChanges(t *testing.T) {
	set := fakeSet(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, s backend.Session)
		want   string
	}{
		{"dirty marker", func(t *testing.T, s backend.Session) {
			if err := s.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Update, Record: backend.Record{Version: 1, Dirty: source.Up}}}); err != nil {
				t.Fatal(err)
			}
		}, "1 dirty none -> up"},
		{"checksum", func(t *testing.T, s backend.Session) {
			must(t, s.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Delete, Record: backend.Record{Version: 1}}}))
			must(t, s.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 1, Name: "one", Checksum: source.ChecksumOf("edited")}}}))
		}, "1 checksum "},
		{"removed and added", func(t *testing.T, s backend.Session) {
			must(t, s.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Delete, Record: backend.Record{Version: 1}}}))
			must(t, s.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Insert, Record: backend.Record{Version: 2, Name: "two"}}}))
		}, "1 removed, 2 added"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := memory.New(nil)
			if _, err := execute.Run(ctx, db, mustPlan(t, db, set, plan.To(1)), nil); err != nil {
				t.Fatal(err)
			}
			p := mustPlan(t, db, set, plan.To(4))
			s, err := db.TryLock(ctx)
			must(t, err)
			tt.change(t, s)
			must(t, s.Unlock(ctx))
			before := len(db.Executed())
			res, err := execute.Run(ctx, db, p, nil)
			var stale *execute.StaleError
			if !errors.Is(err, execute.ErrStalePlan) || !errors.As(err, &stale) {
				t.Fatalf("Run = %v, want ErrStalePlan", err)
			}
			if !strings.Contains(err.Error(), "changed since: "+tt.want) {
				t.Errorf("error %q does not list %q", err, tt.want)
			}
			if len(res.Steps) != 0 || len(db.Executed()) != before {
				t.Error("a stale plan ran SQL")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
