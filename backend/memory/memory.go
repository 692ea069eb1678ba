// Package memory is an in-memory [backend.Backend] for tests of planning
// and execution logic. It keeps histories and the migration lock like a
// database would, but it does not run SQL: it records every script it is
// given, and an [Options].Fail hook decides which of them fail.
//
// It passes the backendtest conformance suite. It is no substitute for a
// test against PostgreSQL: use it for logic, and a real database for
// behaviour.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

// Options configure a Backend. A nil *Options means the defaults.
type Options struct {
	// Fail is called with every SQL text given to Apply or Exec. An error
	// it returns fails that call as if the database had raised it; it is
	// wrapped in a *backend.ScriptError unless it is one. Default: nothing
	// fails.
	Fail func(sql string) error
	// Now is the clock for AppliedAt. Default: time.Now.
	Now func() time.Time
}

// Store is an in-memory database: histories by app key, and their locks.
type Store struct {
	mu        sync.Mutex
	histories map[string][]backend.Record
	repeats   map[string][]backend.RepeatableRecord // by name
	executed  map[string][]string                   // every SQL text given, in order
	limits    map[string][]backend.Limits           // the limits each was given with
	steps     map[string][]backend.Step             // every Step given to Apply
	committed []string                              // the SQL texts that took effect
	locks     map[string]chan struct{}
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{histories: map[string][]backend.Record{}, repeats: map[string][]backend.RepeatableRecord{}, executed: map[string][]string{},
		limits: map[string][]backend.Limits{}, steps: map[string][]backend.Step{}, locks: map[string]chan struct{}{}}
}

// Committed returns, in order, the SQL texts that have taken effect in the
// store: those of successful Apply calls (once their transaction, if any,
// committed) and Exec calls, for all app keys.
func (s *Store) Committed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.committed)
}

// New returns a Backend on a store of its own, with the app key "".
func New(opts *Options) *Backend { return NewStore().Backend("", opts) }

// Backend returns a backend for the history of appKey in s.
func (s *Store) Backend(appKey string, opts *Options) *Backend {
	b := &Backend{store: s, key: appKey, now: time.Now}
	if opts != nil {
		b.fail = opts.Fail
		if opts.Now != nil {
			b.now = opts.Now
		}
	}
	s.mu.Lock()
	if s.locks[appKey] == nil {
		s.locks[appKey] = make(chan struct{}, 1)
	}
	s.mu.Unlock()
	return b
}

// Backend is the history of one app key in a [Store]. It is safe for
// concurrent use.
type Backend struct {
	store *Store
	key   string
	fail  func(string) error
	now   func() time.Time
}

var (
	_ backend.Backend          = (*Backend)(nil)
	_ backend.HeadReader       = (*Backend)(nil)
	_ backend.RepeatableReader = (*Backend)(nil)
)

// ReadHead returns the head of the history: its top version, the digest of
// all its versions, whether one is dirty, and whether the lock is held.
func (b *Backend) ReadHead(ctx context.Context) (backend.Head, error) {
	if err := ctx.Err(); err != nil {
		return backend.Head{}, fmt.Errorf("memory: read head: %w", err)
	}
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	h := backend.Head{Known: true, Busy: len(b.store.locks[b.key]) > 0}
	for _, r := range b.store.histories[b.key] {
		h.Version, h.Digest = r.Version, source.Chain(h.Digest, r.Version, r.Checksum)
		h.Dirty = h.Dirty || r.Dirty != 0
	}
	h.Repeatables = digestOf(b.store.repeats[b.key])
	return h, nil
}

// digestOf returns the digest of repeatable records.
func digestOf(reps []backend.RepeatableRecord) source.Digest {
	sums := make([]source.NamedChecksum, len(reps))
	for i, r := range reps {
		sums[i] = source.NamedChecksum{Name: r.Name, Checksum: r.Checksum}
	}
	return source.DigestRepeatables(sums)
}

// ReadRepeatables returns a copy of the repeatable scripts' records.
func (b *Backend) ReadRepeatables(ctx context.Context) ([]backend.RepeatableRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: read repeatables: %w", err)
	}
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	return slices.Clone(b.store.repeats[b.key]), nil
}

// ReadState returns a copy of the history.
func (b *Backend) ReadState(ctx context.Context) ([]backend.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: read state: %w", err)
	}
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	return slices.Clone(b.store.histories[b.key]), nil
}

// TryLock takes the app key's lock if it is free.
func (b *Backend) TryLock(ctx context.Context) (backend.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: try the migration lock: %w", err)
	}
	b.store.mu.Lock()
	lock := b.store.locks[b.key]
	b.store.mu.Unlock()
	select {
	case lock <- struct{}{}:
		return &session{b: b}, nil
	default:
		return nil, &backend.LockedError{Holder: backend.Holder{ID: "memory session", Application: "app key " + b.key}}
	}
}

// Executed returns every SQL text given to Apply or Exec for this app key,
// in order, whether it succeeded or not.
func (b *Backend) Executed() []string {
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	return slices.Clone(b.store.executed[b.key])
}

// Limits returns the limits that each SQL text of Executed was given with.
func (b *Backend) Limits() []backend.Limits {
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	return slices.Clone(b.store.limits[b.key])
}

// Steps returns every Step given to Apply for this app key, in order.
func (b *Backend) Steps() []backend.Step {
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	return slices.Clone(b.store.steps[b.key])
}

// session holds the lock of one app key.
type session struct {
	b        *Backend
	unlocked bool
	tx       []backend.Record // working copy while a transaction is open
	rtx      []backend.RepeatableRecord
	pending  []string // SQL applied in the open transaction
	inTx     bool
	aborted  bool // a statement failed inside the transaction
}

func (s *session) check(ctx context.Context) error {
	if s.unlocked {
		return backend.ErrUnlocked
	}
	return ctx.Err()
}

func (s *session) ReadState(ctx context.Context) ([]backend.Record, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memory: read state: %w", err)
	}
	if s.inTx {
		return slices.Clone(s.tx), nil
	}
	return s.b.ReadState(ctx)
}

func (s *session) ReadRepeatables(ctx context.Context) ([]backend.RepeatableRecord, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memory: read repeatables: %w", err)
	}
	if s.inTx {
		return slices.Clone(s.rtx), nil
	}
	return s.b.ReadRepeatables(ctx)
}

// run records sql and its limits and asks the Fail hook about it.
func (s *session) run(sql string, limits backend.Limits) error {
	st := s.b.store
	st.mu.Lock()
	st.executed[s.b.key] = append(st.executed[s.b.key], sql)
	st.limits[s.b.key] = append(st.limits[s.b.key], limits)
	st.mu.Unlock()
	if s.b.fail == nil {
		return nil
	}
	err := s.b.fail(sql)
	if _, ok := err.(*backend.ScriptError); err != nil && !ok {
		err = &backend.ScriptError{Err: err}
	}
	return err
}

func (s *session) Apply(ctx context.Context, step backend.Step) error {
	sql, ch := step.SQL, step.Change
	s.b.store.mu.Lock()
	s.b.store.steps[s.b.key] = append(s.b.store.steps[s.b.key], step)
	s.b.store.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memory: apply: %w", err)
	}
	if s.aborted {
		return fmt.Errorf("memory: apply: the transaction failed earlier; roll it back")
	}
	st := s.b.store
	st.mu.Lock()
	hist, reps := s.tx, s.rtx
	if !s.inTx {
		hist, reps = slices.Clone(st.histories[s.b.key]), slices.Clone(st.repeats[s.b.key])
	}
	st.mu.Unlock()

	err := error(nil)
	if sql != "" {
		err = s.run(sql, step.Limits)
	}
	if err == nil && (ch.Op == backend.Repeat || ch.Op == backend.Forget) {
		reps, err = repeat(reps, ch, s.b.now())
	} else if err == nil {
		hist, err = change(hist, ch, s.b.now())
	}
	if err != nil {
		s.aborted = s.inTx
		return err
	}
	if s.inTx {
		s.tx, s.rtx = hist, reps
		if sql != "" {
			s.pending = append(s.pending, sql)
		}
		return nil
	}
	st.mu.Lock()
	st.histories[s.b.key], st.repeats[s.b.key] = hist, reps
	if sql != "" {
		st.committed = append(st.committed, sql)
	}
	st.mu.Unlock()
	return nil
}

// repeat applies a Repeat or Forget change to reps, which it may modify.
func repeat(reps []backend.RepeatableRecord, ch backend.Change, now time.Time) ([]backend.RepeatableRecord, error) {
	if ch.Op == backend.Forget {
		return nil, nil
	}
	if ch.Record.Version != 0 || ch.Record.Name == "" {
		return nil, fmt.Errorf("memory: repeat: want a name and version 0, got %q and %d", ch.Record.Name, ch.Record.Version)
	}
	r := backend.RepeatableRecord{Name: ch.Record.Name, Checksum: ch.Record.Checksum, AppliedAt: now}
	i, found := slices.BinarySearchFunc(reps, r.Name, func(x backend.RepeatableRecord, n string) int { return cmp.Compare(x.Name, n) })
	if found {
		reps[i] = r
		return reps, nil
	}
	return slices.Insert(reps, i, r), nil
}

// change applies ch to hist, which it may modify.
func change(hist []backend.Record, ch backend.Change, now time.Time) ([]backend.Record, error) {
	v := ch.Record.Version
	i, found := slices.BinarySearchFunc(hist, v, func(r backend.Record, v int64) int { return cmp.Compare(r.Version, v) })
	switch {
	case ch.Op == backend.Insert && found:
		return nil, fmt.Errorf("memory: insert version %d: %w", v, backend.ErrExists)
	case ch.Op == backend.Insert:
		r := ch.Record
		if !r.Imported || r.AppliedAt.IsZero() {
			r.AppliedAt = now
		}
		r.Duration = 0
		return slices.Insert(hist, i, r), nil
	case !found:
		return nil, fmt.Errorf("memory: %s version %d: %w", ch.Op, v, backend.ErrNotRecorded)
	case ch.Op == backend.Delete:
		return slices.Delete(hist, i, i+1), nil
	case ch.Op == backend.Update:
		hist[i].Dirty = ch.Record.Dirty
		if ch.Record.Duration != 0 {
			hist[i].Duration = ch.Record.Duration
		}
		return hist, nil
	}
	return nil, fmt.Errorf("memory: invalid change op %d", ch.Op)
}

func (s *session) Exec(ctx context.Context, sql string, limits backend.Limits) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memory: exec: %w", err)
	}
	if s.inTx {
		return fmt.Errorf("memory: exec: %w", backend.ErrInTransaction)
	}
	if err := s.run(sql, limits); err != nil {
		return err
	}
	s.b.store.mu.Lock()
	s.b.store.committed = append(s.b.store.committed, sql)
	s.b.store.mu.Unlock()
	return nil
}

func (s *session) Begin(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memory: begin: %w", err)
	}
	if s.inTx {
		return fmt.Errorf("memory: begin: %w", backend.ErrInTransaction)
	}
	s.b.store.mu.Lock()
	s.tx, s.rtx = slices.Clone(s.b.store.histories[s.b.key]), slices.Clone(s.b.store.repeats[s.b.key])
	s.b.store.mu.Unlock()
	s.inTx, s.aborted = true, false
	return nil
}

func (s *session) Commit(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memory: commit: %w", err)
	}
	if !s.inTx {
		return fmt.Errorf("memory: commit: %w", backend.ErrNoTransaction)
	}
	tx, rtx, pending, aborted := s.tx, s.rtx, s.pending, s.aborted
	s.tx, s.rtx, s.pending, s.inTx, s.aborted = nil, nil, nil, false, false
	if aborted {
		return fmt.Errorf("memory: commit: the transaction failed earlier and was rolled back")
	}
	s.b.store.mu.Lock()
	s.b.store.histories[s.b.key], s.b.store.repeats[s.b.key] = tx, rtx
	s.b.store.committed = append(s.b.store.committed, pending...)
	s.b.store.mu.Unlock()
	return nil
}

func (s *session) Rollback(ctx context.Context) error {
	if s.unlocked {
		return fmt.Errorf("memory: rollback: %w", backend.ErrUnlocked)
	}
	if !s.inTx {
		return fmt.Errorf("memory: rollback: %w", backend.ErrNoTransaction)
	}
	s.tx, s.pending, s.inTx, s.aborted = nil, nil, false, false
	return nil
}

func (s *session) Unlock(ctx context.Context) error {
	if s.unlocked {
		return fmt.Errorf("memory: unlock: %w", backend.ErrUnlocked)
	}
	s.tx, s.pending, s.inTx, s.aborted, s.unlocked = nil, nil, false, false, true
	s.b.store.mu.Lock()
	lock := s.b.store.locks[s.b.key]
	s.b.store.mu.Unlock()
	<-lock
	return nil
}
