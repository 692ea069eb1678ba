// Package backendtest is the conformance suite for implementations of
// [backend.Backend]. An implementation passes it by calling [Run] from a
// test with a [Harness] that opens fresh, empty stores:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, backendtest.Harness{
//			Open: func(t *testing.T) backendtest.Store { ... },
//			GoodSQL: "CREATE TABLE IF NOT EXISTS good (x int); INSERT INTO good VALUES (1)",
//			BadSQL:  "SELECT 1; SELECT * FROM no_such_table",
//			BadSQLOffset: 24,
//			GoodStatement: "SELECT 1",
//			BadStatement: "SELECT 1/0",
//		})
//	}
//
// The suite checks the contract written in package backend: reading an
// empty history, each history change and its sentinel errors, atomicity of
// Apply (a failed history write undoes the script's effects, and a failed
// script writes no history), transactions opened by Begin, positions in
// script errors, separation of app keys, the exclusive lock with its
// context handling, and, for a backend that implements them, the head and
// the repeatable scripts' records.
package backendtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/source"
)

// Harness tells the suite how to use an implementation.
type Harness struct {
	// Open prepares a new, empty store (a fresh database) for one test.
	Open func(t *testing.T) Store
	// GoodSQL is a script of two statements that succeeds every time it
	// runs (it runs several times on one store), with an effect that
	// Store.Effects can count.
	GoodSQL string
	// BadSQL is a script of two statements whose second one fails.
	BadSQL string
	// BadSQLOffset is the byte offset in BadSQL at which the failure is
	// reported, or -1 if the implementation cannot tell. The suite expects
	// ScriptError.Pos to be that place, and Pos.Statement to be 2.
	BadSQLOffset int
	// GoodStatement is one statement that succeeds outside a transaction
	// block, and BadStatement one that fails; the suite gives them to Exec.
	GoodStatement, BadStatement string
}

// Store is one fresh store (a database) of a test.
type Store struct {
	// Backend makes a backend for the history of appKey. Backends for
	// different app keys share the store but not their histories; two calls
	// with the same key give two backends on the same history, as two
	// processes would have.
	Backend func(appKey string) backend.Backend
	// Effects returns how many runs of GoodSQL have taken effect (are
	// committed) in the store.
	Effects func(t *testing.T) int
}

// Run runs the suite as subtests of t.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"EmptyState", testEmptyState},
		{"InsertAndRead", testInsertAndRead},
		{"InsertImported", testInsertImported},
		{"ChangeErrors", testChangeErrors},
		{"UpdateAndDelete", testUpdateAndDelete},
		{"ScriptError", testScriptError},
		{"Exec", testExec},
		{"Transaction", testTransaction},
		{"TransactionFailure", testTransactionFailure},
		{"ReadStateInTransaction", testReadStateInTransaction},
		{"AppKeys", testAppKeys},
		{"LockExclusive", testLockExclusive},
		{"TryLockCancelledContext", testTryLockCancelledContext},
		{"UnlockCancelledContext", testUnlockCancelledContext},
		{"UseAfterUnlock", testUseAfterUnlock},
		{"Head", testHead},
		{"Repeatables", testRepeatables},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, h) })
	}
}

// record is the part of a Record the backend must store as given.
type record struct {
	Version  int64
	Name     string
	Checksum source.Checksum
	Dirty    source.Direction
}

func records(rs []backend.Record) []record {
	out := make([]record, len(rs))
	for i, r := range rs {
		out[i] = record{r.Version, r.Name, r.Checksum, r.Dirty}
	}
	return out
}

func rec(v int64, name string) backend.Record {
	return backend.Record{Version: v, Name: name, Checksum: source.ChecksumOf(name)}
}

func insert(r backend.Record) backend.Change { return backend.Change{Op: backend.Insert, Record: r} }

func step(sql string, ch backend.Change) backend.Step { return backend.Step{SQL: sql, Change: ch} }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// cleanupTimeout bounds how long the suite waits for an Unlock at the end
// of a test: a backend whose Unlock hangs fails the suite rather than
// hanging it.
const cleanupTimeout = 30 * time.Second

// lock takes the lock or fails the test, and unlocks at cleanup unless the
// test did.
func lock(t *testing.T, b backend.Backend) backend.Session {
	t.Helper()
	s, err := b.TryLock(ctxT(t))
	if err != nil {
		t.Fatalf("TryLock: %v", err)
	}
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
			defer cancel()
			_ = s.Unlock(ctx) // ErrUnlocked when the test unlocked already
		}()
		select {
		case <-done:
		case <-time.After(cleanupTimeout + 5*time.Second):
			t.Errorf("Unlock at the end of the test did not return within %v", cleanupTimeout)
		}
	})
	return s
}

func wantState(t *testing.T, b backend.Backend, want []record) {
	t.Helper()
	got, err := b.ReadState(ctxT(t))
	if err != nil {
		t.Fatalf("ReadState: %v", err)
	}
	if diff := cmp.Diff(want, records(got), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func testEmptyState(t *testing.T, h Harness) {
	b := h.Open(t).Backend("")
	got, err := b.ReadState(ctxT(t))
	if err != nil {
		t.Fatalf("ReadState on an empty store: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("ReadState on an empty store = %v, want none", got)
	}
	s := lock(t, b)
	got, err = s.ReadState(ctxT(t))
	if err != nil || len(got) != 0 {
		t.Errorf("Session.ReadState on an empty store = %v, %v; want none, nil", got, err)
	}
}

func wantEffects(t *testing.T, st Store, want int, when string) {
	t.Helper()
	if got := st.Effects(t); got != want {
		t.Errorf("%s: GoodSQL has taken effect %d times, want %d", when, got, want)
	}
}

// testInsertImported: an imported record keeps the other tool's time and
// reads back as imported, with no duration; a record of a run does not
// read as imported, and an imported record without a time gets the
// insert's.
func testInsertImported(t *testing.T, h Harness) {
	st := h.Open(t)
	b := st.Backend("")
	s := lock(t, b)
	ctx := ctxT(t)
	then := time.Date(2021, 3, 4, 5, 6, 7, 891011000, time.UTC)
	before := time.Now()
	old := rec(1, "old")
	old.Imported, old.AppliedAt = true, then
	must(t, "Apply insert imported 1", s.Apply(ctx, step("", insert(old))))
	untimed := rec(2, "untimed")
	untimed.Imported = true
	must(t, "Apply insert imported 2", s.Apply(ctx, step("", insert(untimed))))
	must(t, "Apply insert 3", s.Apply(ctx, step(h.GoodSQL, insert(rec(3, "ran")))))
	after := time.Now()
	must(t, "Unlock", s.Unlock(ctx))
	got, err := b.ReadState(ctx)
	must(t, "ReadState", err)
	if len(got) != 3 {
		t.Fatalf("ReadState = %d records, want 3", len(got))
	}
	if r := got[0]; !r.Imported || !r.AppliedAt.Equal(then) || r.Duration != 0 {
		t.Errorf("imported record = imported %v, applied %v, took %v; want imported, applied %v, took 0", r.Imported, r.AppliedAt, r.Duration, then)
	}
	if r := got[1]; !r.Imported || r.AppliedAt.Before(before.Add(-time.Minute)) || r.AppliedAt.After(after.Add(time.Minute)) || r.Duration != 0 {
		t.Errorf("imported record without a time = imported %v, applied %v, took %v; want imported, applied at the insert, took 0", r.Imported, r.AppliedAt, r.Duration)
	}
	if r := got[2]; r.Imported {
		t.Errorf("the record of a run reads as imported: %+v", r)
	}
}

func testInsertAndRead(t *testing.T, h Harness) {
	st := h.Open(t)
	b := st.Backend("")
	s := lock(t, b)
	ctx := ctxT(t)
	before := time.Now()
	// Out of order on purpose: the state must come back sorted.
	must(t, "Apply insert 2", s.Apply(ctx, step(h.GoodSQL, insert(rec(2, "second")))))
	dirty := rec(1, "first")
	dirty.Dirty = source.Up
	must(t, "Apply insert 1", s.Apply(ctx, step("", insert(dirty))))
	after := time.Now()
	wantEffects(t, st, 1, "after one Apply(GoodSQL)")

	want := []record{{1, "first", source.ChecksumOf("first"), source.Up}, {2, "second", source.ChecksumOf("second"), 0}}
	wantState(t, b, want)
	got, err := s.ReadState(ctx)
	must(t, "Session.ReadState", err)
	if diff := cmp.Diff(want, records(got)); diff != "" {
		t.Errorf("Session.ReadState (-want +got):\n%s", diff)
	}
	for _, r := range got {
		// Allow for clock differences between the process and the store.
		if r.AppliedAt.Before(before.Add(-time.Minute)) || r.AppliedAt.After(after.Add(time.Minute)) {
			t.Errorf("version %d AppliedAt = %v, want between %v and %v", r.Version, r.AppliedAt, before, after)
		}
		if r.Duration < 0 || r.Duration > after.Sub(before)+time.Second {
			t.Errorf("version %d Duration = %v, want between 0 and %v", r.Version, r.Duration, after.Sub(before))
		}
	}
}

func testChangeErrors(t *testing.T, h Harness) {
	st := h.Open(t)
	b := st.Backend("")
	s := lock(t, b)
	ctx := ctxT(t)
	must(t, "Apply insert 1", s.Apply(ctx, step("", insert(rec(1, "one")))))
	cases := []struct {
		name string
		ch   backend.Change
		want error
	}{
		{"insert existing", insert(rec(1, "again")), backend.ErrExists},
		{"delete missing", backend.Change{Op: backend.Delete, Record: backend.Record{Version: 7}}, backend.ErrNotRecorded},
		{"update missing", backend.Change{Op: backend.Update, Record: backend.Record{Version: 7, Dirty: source.Up}}, backend.ErrNotRecorded},
	}
	for _, c := range cases {
		err := s.Apply(ctx, step(h.GoodSQL, c.ch))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Apply error = %v, want %v", c.name, err, c.want)
		}
	}
	wantState(t, b, []record{{1, "one", source.ChecksumOf("one"), 0}})
	// The failed history writes took the script's effects with them.
	wantEffects(t, st, 0, "after Apply(GoodSQL) calls whose history writes failed")
}

func testUpdateAndDelete(t *testing.T, h Harness) {
	b := h.Open(t).Backend("")
	s := lock(t, b)
	ctx := ctxT(t)
	must(t, "insert 1", s.Apply(ctx, step("", insert(rec(1, "one")))))
	must(t, "insert 2", s.Apply(ctx, step("", insert(rec(2, "two")))))
	must(t, "update 2 down", s.Apply(ctx, step("", backend.Change{Op: backend.Update, Record: backend.Record{Version: 2, Dirty: source.Down}})))
	wantState(t, b, []record{{1, "one", source.ChecksumOf("one"), 0}, {2, "two", source.ChecksumOf("two"), source.Down}})

	must(t, "update 2 clean", s.Apply(ctx, step("", backend.Change{Op: backend.Update, Record: backend.Record{Version: 2, Duration: 1500 * time.Millisecond}})))
	got, err := b.ReadState(ctx)
	must(t, "ReadState", err)
	if len(got) != 2 || got[1].Dirty != 0 || got[1].Duration != 1500*time.Millisecond {
		t.Errorf("after an Update to clean with a duration, state = %+v; want version 2 clean with Duration 1.5s", got)
	}
	must(t, "delete 1", s.Apply(ctx, step(h.GoodSQL, backend.Change{Op: backend.Delete, Record: backend.Record{Version: 1}})))
	wantState(t, b, []record{{2, "two", source.ChecksumOf("two"), 0}})
}

func testScriptError(t *testing.T, h Harness) {
	st := h.Open(t)
	b := st.Backend("")
	s := lock(t, b)
	ctx := ctxT(t)
	err := s.Apply(ctx, step(h.BadSQL, insert(rec(1, "bad"))))
	var se *backend.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("Apply(BadSQL) error = %v, want a *backend.ScriptError", err)
	}
	if se.Pos.Statement != 2 {
		t.Errorf("ScriptError.Pos.Statement = %d, want 2 (the second statement)", se.Pos.Statement)
	}
	if h.BadSQLOffset >= 0 {
		if want := sqlsplit.Locate(h.BadSQL, h.BadSQLOffset); se.Pos.Offset != want.Offset || se.Pos.Line != want.Line || se.Pos.Column != want.Column {
			t.Errorf("ScriptError.Pos = %+v, want offset %d at %d:%d", se.Pos, want.Offset, want.Line, want.Column)
		}
	}
	if se.Pos.Path != "" {
		t.Errorf("ScriptError.Pos.Path = %q, want none: the backend does not know the file", se.Pos.Path)
	}
	wantState(t, b, nil)
	// The session stays usable after a failed Apply.
	must(t, "Apply after a failure", s.Apply(ctx, step(h.GoodSQL, insert(rec(1, "good")))))
	wantState(t, b, []record{{1, "good", source.ChecksumOf("good"), 0}})
	wantEffects(t, st, 1, "after a failed and a good Apply")
}

func testExec(t *testing.T, h Harness) {
	b := h.Open(t).Backend("")
	s := lock(t, b)
	ctx := ctxT(t)
	if err := s.Exec(ctx, h.GoodStatement, backend.Limits{}); err != nil {
		t.Errorf("Exec(GoodStatement) = %v", err)
	}
	var se *backend.ScriptError
	if err := s.Exec(ctx, h.BadStatement, backend.Limits{}); !errors.As(err, &se) {
		t.Errorf("Exec(BadStatement) = %v, want a *backend.ScriptError", err)
	}
	if err := s.Exec(ctx, h.GoodStatement, backend.Limits{}); err != nil {
		t.Errorf("Exec after a failure = %v", err)
	}
	wantState(t, b, nil)
}

func testTransaction(t *testing.T, h Harness) {
	st := h.Open(t)
	b := st.Backend("")
	s := lock(t, b)
	ctx := ctxT(t)
	if err := s.Commit(ctx); !errors.Is(err, backend.ErrNoTransaction) {
		t.Errorf("Commit without Begin = %v, want ErrNoTransaction", err)
	}
	if err := s.Rollback(ctx); !errors.Is(err, backend.ErrNoTransaction) {
		t.Errorf("Rollback without Begin = %v, want ErrNoTransaction", err)
	}

	must(t, "Begin", s.Begin(ctx))
	if err := s.Begin(ctx); !errors.Is(err, backend.ErrInTransaction) {
		t.Errorf("Begin twice = %v, want ErrInTransaction", err)
	}
	if err := s.Exec(ctx, h.GoodStatement, backend.Limits{}); !errors.Is(err, backend.ErrInTransaction) {
		t.Errorf("Exec inside a transaction = %v, want ErrInTransaction", err)
	}
	must(t, "Apply 1", s.Apply(ctx, step(h.GoodSQL, insert(rec(1, "one")))))
	must(t, "Apply 2", s.Apply(ctx, step("", insert(rec(2, "two")))))
	must(t, "Rollback", s.Rollback(ctx))
	wantState(t, b, nil)
	wantEffects(t, st, 0, "after Rollback")

	must(t, "Begin again", s.Begin(ctx))
	must(t, "Apply 1", s.Apply(ctx, step(h.GoodSQL, insert(rec(1, "one")))))
	must(t, "Apply 2", s.Apply(ctx, step(h.GoodSQL, insert(rec(2, "two")))))
	must(t, "Commit", s.Commit(ctx))
	wantState(t, b, []record{{1, "one", source.ChecksumOf("one"), 0}, {2, "two", source.ChecksumOf("two"), 0}})
	wantEffects(t, st, 2, "after Commit")
}

func testTransactionFailure(t *testing.T, h Harness) {
	st := h.Open(t)
	b := st.Backend("")
	s := lock(t, b)
	ctx := ctxT(t)
	must(t, "Begin", s.Begin(ctx))
	must(t, "Apply 1", s.Apply(ctx, step(h.GoodSQL, insert(rec(1, "one")))))
	if err := s.Apply(ctx, step(h.BadSQL, insert(rec(2, "two")))); err == nil {
		t.Fatal("Apply(BadSQL) in a transaction succeeded")
	}
	must(t, "Rollback after a failure", s.Rollback(ctx))
	wantState(t, b, nil)
	wantEffects(t, st, 0, "after a failed transaction was rolled back")

	// Unlock rolls back an open transaction.
	must(t, "Begin", s.Begin(ctx))
	must(t, "Apply 1", s.Apply(ctx, step("", insert(rec(1, "one")))))
	must(t, "Unlock", s.Unlock(ctx))
	wantState(t, b, nil)
}

func testReadStateInTransaction(t *testing.T, h Harness) {
	b := h.Open(t).Backend("")
	s := lock(t, b)
	ctx := ctxT(t)
	must(t, "insert 1", s.Apply(ctx, step("", insert(rec(1, "one")))))
	must(t, "Begin", s.Begin(ctx))
	must(t, "insert 2 in the transaction", s.Apply(ctx, step("", insert(rec(2, "two")))))
	must(t, "delete 1 in the transaction", s.Apply(ctx, step("", backend.Change{Op: backend.Delete, Record: backend.Record{Version: 1}})))
	got, err := s.ReadState(ctx)
	must(t, "Session.ReadState in the transaction", err)
	if diff := cmp.Diff([]record{{2, "two", source.ChecksumOf("two"), 0}}, records(got)); diff != "" {
		t.Errorf("Session.ReadState inside the transaction must see its changes (-want +got):\n%s", diff)
	}
	must(t, "Rollback", s.Rollback(ctx))
	got, err = s.ReadState(ctx)
	must(t, "Session.ReadState after Rollback", err)
	if diff := cmp.Diff([]record{{1, "one", source.ChecksumOf("one"), 0}}, records(got)); diff != "" {
		t.Errorf("Session.ReadState after Rollback (-want +got):\n%s", diff)
	}
}

func testAppKeys(t *testing.T, h Harness) {
	open := h.Open(t).Backend
	a, z := open("alpha"), open("zulu")
	ctx := ctxT(t)
	sa := lock(t, a)
	// Different keys have different locks: this must not wait.
	sz := lock(t, z)
	must(t, "alpha insert", sa.Apply(ctx, step("", insert(rec(1, "a1")))))
	must(t, "zulu insert", sz.Apply(ctx, step("", insert(rec(1, "z1")))))
	must(t, "zulu insert", sz.Apply(ctx, step("", insert(rec(2, "z2")))))
	wantState(t, a, []record{{1, "a1", source.ChecksumOf("a1"), 0}})
	wantState(t, z, []record{{1, "z1", source.ChecksumOf("z1"), 0}, {2, "z2", source.ChecksumOf("z2"), 0}})
	wantState(t, open("alpha"), []record{{1, "a1", source.ChecksumOf("a1"), 0}})
}

func testLockExclusive(t *testing.T, h Harness) {
	open := h.Open(t).Backend
	s := lock(t, open("k"))
	start := time.Now()
	s2, err := open("k").TryLock(ctxT(t))
	if err == nil {
		_ = s2.Unlock(context.Background())
		t.Fatal("a second TryLock on the same history succeeded while the first was held")
	}
	var locked *backend.LockedError
	if !errors.Is(err, backend.ErrLocked) || !errors.As(err, &locked) {
		t.Fatalf("second TryLock error = %v, want a *backend.LockedError wrapping ErrLocked", err)
	}
	if locked.Holder.ID == "" {
		t.Errorf("LockedError.Holder = %+v, want at least its ID", locked.Holder)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("second TryLock returned after %v, want at once", waited)
	}
	must(t, "Unlock", s.Unlock(context.Background()))
	// Free again: another backend of the same history takes it.
	s3 := lock(t, open("k"))
	must(t, "Unlock", s3.Unlock(context.Background()))
}

func testTryLockCancelledContext(t *testing.T, h Harness) {
	b := h.Open(t).Backend("k")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s, err := b.TryLock(ctx); err == nil {
		_ = s.Unlock(context.Background())
		t.Fatal("TryLock with a cancelled context succeeded")
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("TryLock with a cancelled context = %v, want one wrapping context.Canceled", err)
	}
	// The failed try left nothing held.
	s := lock(t, b)
	must(t, "Unlock", s.Unlock(context.Background()))
}

func testUnlockCancelledContext(t *testing.T, h Harness) {
	open := h.Open(t).Backend
	s := lock(t, open("k"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Unlock(ctx); err != nil {
		t.Errorf("Unlock with a cancelled context = %v, want nil", err)
	}
	s2, err := open("k").TryLock(ctxT(t))
	if err != nil {
		t.Fatalf("TryLock after Unlock with a cancelled context: %v", err)
	}
	must(t, "Unlock", s2.Unlock(context.Background()))
}

func testUseAfterUnlock(t *testing.T, h Harness) {
	b := h.Open(t).Backend("")
	s := lock(t, b)
	ctx := ctxT(t)
	must(t, "Unlock", s.Unlock(ctx))
	if err := s.Apply(ctx, step("", insert(rec(1, "one")))); !errors.Is(err, backend.ErrUnlocked) {
		t.Errorf("Apply after Unlock = %v, want ErrUnlocked", err)
	}
	if err := s.Exec(ctx, h.GoodStatement, backend.Limits{}); !errors.Is(err, backend.ErrUnlocked) {
		t.Errorf("Exec after Unlock = %v, want ErrUnlocked", err)
	}
	if _, err := s.ReadState(ctx); !errors.Is(err, backend.ErrUnlocked) {
		t.Errorf("ReadState after Unlock = %v, want ErrUnlocked", err)
	}
	if err := s.Unlock(ctx); !errors.Is(err, backend.ErrUnlocked) {
		t.Errorf("second Unlock = %v, want ErrUnlocked", err)
	}
	wantState(t, b, nil)
}

func testHead(t *testing.T, h Harness) {
	st := h.Open(t)
	b := st.Backend("")
	if _, ok := b.(backend.HeadReader); !ok {
		t.Skip("the backend does not implement backend.HeadReader, which is optional")
	}
	// The head is read as another process would: through another backend
	// of the same history.
	hr := st.Backend("").(backend.HeadReader)
	ctx := ctxT(t)
	want := func(what string, v int64, versions []backend.Record, dirty, busy bool) {
		t.Helper()
		got, err := hr.ReadHead(ctx)
		must(t, "ReadHead "+what, err)
		var d source.Digest
		for _, r := range versions {
			d = source.Chain(d, r.Version, r.Checksum)
		}
		if got.Version != v || !got.Known || got.Digest != d || got.Dirty != dirty || got.Busy != busy {
			t.Errorf("%s: head = {version %d, digest %s, known %v, dirty %v, busy %v}, want {%d, %s, true, %v, %v}",
				what, got.Version, got.Digest, got.Known, got.Dirty, got.Busy, v, d, dirty, busy)
		}
	}
	r1, r2, r3 := rec(1, "one"), rec(2, "two"), rec(3, "three")
	want("empty", 0, nil, false, false)
	s := lock(t, b)
	want("empty, locked", 0, nil, false, true)
	must(t, "insert 1", s.Apply(ctx, step(h.GoodSQL, insert(r1))))
	must(t, "insert 3", s.Apply(ctx, step("", insert(r3))))
	want("1 and 3", 3, []backend.Record{r1, r3}, false, true)
	// A version below the top: the digest covers it in order.
	must(t, "insert 2", s.Apply(ctx, step("", insert(r2))))
	want("1 to 3", 3, []backend.Record{r1, r2, r3}, false, true)
	must(t, "delete 2", s.Apply(ctx, step("", backend.Change{Op: backend.Delete, Record: backend.Record{Version: 2}})))
	want("1 and 3 again", 3, []backend.Record{r1, r3}, false, true)
	must(t, "update 1 dirty", s.Apply(ctx, step("", backend.Change{Op: backend.Update, Record: backend.Record{Version: 1, Dirty: source.Up}})))
	want("1 dirty", 3, []backend.Record{r1, r3}, true, true)
	must(t, "update 1 clean", s.Apply(ctx, step("", backend.Change{Op: backend.Update, Record: backend.Record{Version: 1}})))
	must(t, "Unlock", s.Unlock(ctx))
	want("unlocked", 3, []backend.Record{r1, r3}, false, false)
	// With the history read under the lock, as a run does: inserts on
	// top, a delete of the top, an insert below and one on top again.
	r4, r5 := rec(4, "four"), rec(5, "five")
	s = lock(t, b)
	if _, err := s.ReadState(ctx); err != nil {
		t.Fatalf("ReadState: %v", err)
	}
	must(t, "insert 4", s.Apply(ctx, step("", insert(r4))))
	want("4 on top", 4, []backend.Record{r1, r3, r4}, false, true)
	must(t, "delete 4", s.Apply(ctx, step("", backend.Change{Op: backend.Delete, Record: backend.Record{Version: 4}})))
	must(t, "insert 4 again", s.Apply(ctx, step("", insert(r4))))
	want("4 on top again", 4, []backend.Record{r1, r3, r4}, false, true)
	must(t, "insert 2 again", s.Apply(ctx, step("", insert(r2))))
	must(t, "insert 5", s.Apply(ctx, step("", insert(r5))))
	want("1 to 5", 5, []backend.Record{r1, r2, r3, r4, r5}, false, true)
	must(t, "Unlock", s.Unlock(ctx))
	// Another app key's history is another head.
	other, ok := st.Backend("other").(backend.HeadReader)
	if ok {
		got, err := other.ReadHead(ctx)
		must(t, "ReadHead of another app key", err)
		if got.Version != 0 || !got.Digest.IsZero() {
			t.Errorf("another app key's head = %+v, want empty", got)
		}
	}
}

func testRepeatables(t *testing.T, h Harness) {
	st := h.Open(t)
	b := st.Backend("")
	if _, ok := b.(backend.RepeatableReader); !ok {
		t.Skip("the backend does not implement backend.RepeatableReader, which is optional")
	}
	ctx := ctxT(t)
	repeat := func(name, sql string) backend.Change {
		return backend.Change{Op: backend.Repeat, Record: backend.Record{Name: name, Checksum: source.ChecksumOf(sql)}}
	}
	wantReps := func(what string, rr backend.RepeatableReader, want ...string) {
		t.Helper()
		got, err := rr.ReadRepeatables(ctx)
		must(t, "ReadRepeatables "+what, err)
		var names []string
		var sums []source.NamedChecksum
		for _, r := range got {
			names = append(names, r.Name+"="+r.Checksum.Short())
			sums = append(sums, source.NamedChecksum{Name: r.Name, Checksum: r.Checksum})
			if r.AppliedAt.IsZero() {
				t.Errorf("%s: %s has no AppliedAt", what, r.Name)
			}
		}
		if diff := cmp.Diff(want, names, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: repeatable scripts (-want +got):\n%s", what, diff)
		}
		if _, inTx := rr.(backend.Session); inTx {
			return // another process's head sees what is committed
		}
		if hr, ok := st.Backend("").(backend.HeadReader); ok && any(rr) == any(b) {
			head, err := hr.ReadHead(ctx)
			must(t, "ReadHead "+what, err)
			if head.Repeatables != source.DigestRepeatables(sums) {
				t.Errorf("%s: head's digest of the repeatable scripts %s, want %s", what, head.Repeatables, source.DigestRepeatables(sums))
			}
		}
	}
	short := func(sql string) string { return source.ChecksumOf(sql).Short() }
	wantReps("none", b.(backend.RepeatableReader))
	s := lock(t, b)
	must(t, "insert 1", s.Apply(ctx, step("", insert(rec(1, "one")))))
	must(t, "repeat b", s.Apply(ctx, step(h.GoodSQL, repeat("b", "b1"))))
	must(t, "repeat a", s.Apply(ctx, step("", repeat("a", "a1"))))
	wantReps("a and b", b.(backend.RepeatableReader), "a="+short("a1"), "b="+short("b1"))
	// The versions are apart from them.
	wantState(t, b, records([]backend.Record{rec(1, "one")}))
	must(t, "repeat b again", s.Apply(ctx, step("", repeat("b", "b2"))))
	wantReps("b replaced", b.(backend.RepeatableReader), "a="+short("a1"), "b="+short("b2"))
	// A failed script records nothing.
	if err := s.Apply(ctx, step(h.BadSQL, repeat("c", "c1"))); err == nil {
		t.Error("Apply of BadSQL with a Repeat change succeeded")
	}
	// Inside a transaction, the session sees its own changes; a rollback
	// undoes them.
	rr, ok := s.(backend.RepeatableReader)
	if !ok {
		t.Fatal("the backend is a RepeatableReader, its session is not")
	}
	must(t, "Begin", s.Begin(ctx))
	must(t, "forget", s.Apply(ctx, step("", backend.Change{Op: backend.Forget})))
	wantReps("forgotten, in the transaction", rr)
	must(t, "Rollback", s.Rollback(ctx))
	wantReps("after the rollback", rr, "a="+short("a1"), "b="+short("b2"))
	must(t, "forget", s.Apply(ctx, step("", backend.Change{Op: backend.Forget})))
	wantReps("forgotten", b.(backend.RepeatableReader))
	must(t, "Unlock", s.Unlock(ctx))
	// Another app key has its own.
	if o, ok := st.Backend("other").(backend.RepeatableReader); ok {
		wantReps("another app key", o)
	}
}
