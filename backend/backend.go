// Package backend defines what waymark needs from a database: the
// [Backend] interface, the [Session] it hands out under the migration lock,
// and the history [Record] it keeps per applied version.
//
// The PostgreSQL implementation is in the pgxbackend subpackage; this
// package does not import a driver. The memory subpackage is an in-memory
// fake for tests of planning and execution logic, and backendtest is the
// conformance suite every implementation must pass.
//
// # The history
//
// A backend keeps one history per app key: a record per applied version
// holding the version, its name, the checksum of its up script, when it was
// applied and how long it took, and a dirty marker. A backend that
// implements [HeadReader] also keeps the digest of the history (see
// source.Digest), up to date after every change. The dirty marker is set
// while a no-transaction script runs (it cannot be made atomic) and stays set
// if the script fails part-way, until someone repairs the database and
// resolves it.
//
// A backend that implements [RepeatableReader] also keeps a record per
// repeatable script (source.Repeatable): its name and the checksum of the
// text last applied, apart from the versions' records.
//
// # Contract
//
// Every method takes the context first and stops waiting when it ends,
// returning an error that wraps ctx.Err(). A [Backend] must be safe for
// concurrent use unless its documentation says otherwise. A [Session] is used
// by one goroutine at a time.
//
// Reading the state never writes: a database without a history yields an
// empty state. The history storage is created by the first write.
//
// # The lock
//
// [Backend.TryLock] tries once to take the exclusive migration lock of a
// history; waiting, backing off and telling the user who holds the lock are
// the caller's (package execute does it). A [Session] holds the lock for its
// whole life, and every write it makes proves that it still does (a fence):
// a write made after the lock was lost fails with [ErrLockLost] and changes
// nothing. [Session.Unlock] releases the lock and reports honestly: an error
// wrapping [ErrLockMayBeHeld] when the lock may still be held.
//
// # Optional interfaces
//
// A Backend may also implement [Checker], to report invalid options before
// anything touches the database, and [HeadReader], to answer "is the
// database exactly at version v of this set, with nothing under way?" in
// one small read.
package backend

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/source"
)

// Sentinel errors of the contract; use [errors.Is].
var (
	// ErrExists is returned by an Insert change for a version the history
	// already has.
	ErrExists = errors.New("version already in the history")
	// ErrNotRecorded is returned by a Delete or Update change for a version
	// the history does not have.
	ErrNotRecorded = errors.New("version not in the history")
	// ErrInTransaction is returned by Session.Exec and Session.Begin while
	// a transaction opened by Begin is open.
	ErrInTransaction = errors.New("a transaction is open")
	// ErrNoTransaction is returned by Session.Commit and Session.Rollback
	// when no transaction is open.
	ErrNoTransaction = errors.New("no transaction is open")
	// ErrUnlocked is returned by Session methods after Unlock.
	ErrUnlocked = errors.New("session is unlocked")
	// ErrLocked is returned (as a [*LockedError]) by TryLock when another
	// session holds the lock.
	ErrLocked = errors.New("the migration lock is held by another session")
	// ErrLockLost is returned by a Session write that found the lock no
	// longer held by the session; the write changed nothing.
	ErrLockLost = errors.New("the migration lock was lost")
	// ErrLockMayBeHeld is returned by Unlock when it could not make sure
	// that the lock was released.
	ErrLockMayBeHeld = errors.New("the migration lock may still be held")
	// ErrConnectionLost is returned (as a [*ConnectionError]) when the
	// connection to the database broke during a call.
	ErrConnectionLost = errors.New("connection to the database lost")
	// ErrInvalidIndex is returned (inside a [*ScriptError]) by Exec when a
	// statement that builds an index concurrently left it invalid: it
	// succeeded without a valid index, or it failed and left invalid
	// indexes (the error wraps the statement's own too), or it failed
	// because an invalid index of its name exists.
	ErrInvalidIndex = errors.New("index left invalid")
	// ErrBadOptions is returned by every call of a backend whose options
	// are invalid (see [Checker]).
	ErrBadOptions = errors.New("invalid backend options")
)

// Record is one version in the history.
type Record struct {
	Version int64
	Name    string
	// Checksum is that of the version's up script when it was applied.
	Checksum source.Checksum
	// AppliedAt is when the backend wrote the record.
	AppliedAt time.Time
	// Duration is how long the version's up script took.
	Duration time.Duration
	// Dirty is zero for a clean record. Up means the version's
	// no-transaction up script started but did not finish; Down means its
	// no-transaction down script did.
	Dirty source.Direction
}

// RepeatableRecord is a repeatable script (source.Repeatable) in the
// history: the checksum of the text last applied. A backend keeps these
// apart from the versions' records, where a reader that knows only
// versions (an older release) does not see them.
type RepeatableRecord struct {
	Name string
	// Checksum is that of the script when it was last applied.
	Checksum source.Checksum
	// AppliedAt is when the backend wrote the record.
	AppliedAt time.Time
	// Duration is how long the script took.
	Duration time.Duration
}

// Op is the kind of a [Change] to the history.
type Op int8

// The changes a session can make to the history.
const (
	// Insert adds Record (Version, Name, Checksum and Dirty). The backend
	// sets AppliedAt and Duration, the time the change's SQL took.
	Insert Op = iota + 1
	// Delete removes the record of Record.Version.
	Delete
	// Update sets the dirty marker of Record.Version to Record.Dirty and,
	// if Record.Duration is not zero, its duration.
	Update
	// Repeat records the repeatable script Record.Name as applied with
	// Record.Checksum, replacing its earlier record if any (the backend
	// sets AppliedAt and Duration). Record.Version must be 0. Only a
	// backend that implements [RepeatableReader] takes it.
	Repeat
	// Forget removes every repeatable script's record, so that the next
	// up plan applies them all again. The Record is unused. Only a backend
	// that implements [RepeatableReader] takes it.
	Forget
)

// String returns the op's name.
func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Delete:
		return "delete"
	case Update:
		return "update"
	case Repeat:
		return "repeat"
	case Forget:
		return "forget"
	}
	return "invalid op"
}

// Change is one write to the history.
type Change struct {
	Op     Op
	Record Record
}

// Backend is a database that keeps a migration history.
type Backend interface {
	// ReadState returns the history in ascending version order. It takes
	// no lock and writes nothing; without a history it returns an empty
	// slice and no error.
	ReadState(ctx context.Context) ([]Record, error)

	// TryLock tries once to take the exclusive migration lock of this
	// history (and app key) and returns a Session that holds it. When
	// another session holds the lock it returns a [*LockedError] (which
	// wraps [ErrLocked]) at once. Only one Session per history exists at a
	// time, across all processes sharing the database.
	TryLock(ctx context.Context) (Session, error)
}

// HeadReader is implemented by a Backend that keeps, with its history, the
// digest of its versions (see source.Digest), so that a no-op check reads
// one row instead of the whole history.
type HeadReader interface {
	// ReadHead returns the head of the history. It takes no lock and
	// writes nothing.
	ReadHead(ctx context.Context) (Head, error)
}

// RepeatableReader is implemented by a Backend, and by the Sessions it
// hands out, that records repeatable scripts: it takes the [Repeat] and
// [Forget] changes, and its [Head] covers the repeatable scripts too.
type RepeatableReader interface {
	// ReadRepeatables returns the records of repeatable scripts in name
	// order. Like ReadState it takes no lock and writes nothing, and a
	// session's reads see its open transaction.
	ReadRepeatables(ctx context.Context) ([]RepeatableRecord, error)
}

// Head is what a lock-free check needs to know of a history.
type Head struct {
	// Version is the highest applied version, or 0.
	Version int64
	// Digest is the digest of all applied versions and their checksums, in
	// version order (source.Digest); valid only when Known.
	Digest source.Digest
	// Known is false when the backend cannot vouch for Digest (a history
	// kept before digests existed, not yet upgraded); the caller then reads
	// the whole history.
	Known bool
	// Repeatables is the digest of the repeatable scripts' records
	// (source.DigestRepeatables); zero when there are none, or when the
	// backend does not record them.
	Repeatables source.Digest
	// Dirty is set when any version is dirty.
	Dirty bool
	// Busy is set when a session holds the migration lock: a run is under
	// way, and what it committed may not be durable yet.
	Busy bool
}

// Checker is implemented by a Backend that can tell, without touching the
// database, whether it is usable as configured. Check returns an error
// wrapping [ErrBadOptions], or nil.
type Checker interface {
	Check() error
}

// Holder describes the session that holds the migration lock, as far as
// the database tells. Any field may be empty.
type Holder struct {
	// ID identifies the holder: for PostgreSQL, "pid 1234" or a lease
	// holder's id.
	ID string
	// Application is the holder's application name; Client its address.
	Application, Client string
	// Since is when the holder took the lock, or, when that is not known,
	// when its current statement began.
	Since time.Time
	// Query is what the holder runs now, shortened.
	Query string
}

// String describes the holder in one line.
func (h Holder) String() string {
	s := h.ID
	if s == "" {
		s = "another session"
	}
	var about []string
	if h.Application != "" {
		about = append(about, "application "+strconv.Quote(h.Application))
	}
	if h.Client != "" {
		about = append(about, "client "+h.Client)
	}
	if !h.Since.IsZero() {
		about = append(about, "since "+h.Since.UTC().Format(time.RFC3339))
	}
	if h.Query != "" {
		about = append(about, "running "+strconv.Quote(h.Query))
	}
	if len(about) > 0 {
		s += " (" + strings.Join(about, ", ") + ")"
	}
	return s
}

// LockedError is TryLock's answer when another session holds the lock.
type LockedError struct {
	// Holder is who holds the lock, as far as the database tells.
	Holder Holder
}

// Error names the holder.
func (e *LockedError) Error() string { return "the migration lock is held by " + e.Holder.String() }

// Unwrap returns [ErrLocked].
func (e *LockedError) Unwrap() error { return ErrLocked }

// Outcome is what became of a transaction whose connection broke.
type Outcome int8

const (
	// OutcomeUnknown: the commit may or may not have happened; the
	// history, read again, tells.
	OutcomeUnknown Outcome = iota
	// OutcomeRolledBack: the server ended the transaction without
	// committing it.
	OutcomeRolledBack
)

// String returns "unknown" or "rolled back".
func (o Outcome) String() string {
	if o == OutcomeRolledBack {
		return "rolled back"
	}
	return "unknown"
}

// ConnectionError is a call that failed because the connection to the
// database broke (the server stopped, the network failed, the session was
// terminated), not because of the SQL it ran.
type ConnectionError struct {
	// Outcome says whether the transaction of the call, if it had one, was
	// rolled back or may have committed.
	Outcome Outcome
	// Err is the driver's error.
	Err error
}

// Error says that the connection was lost and what became of the work.
func (e *ConnectionError) Error() string {
	return "connection to the database lost (transaction " + e.Outcome.String() + "): " + e.Err.Error()
}

// Unwrap returns [ErrConnectionLost] and Err.
func (e *ConnectionError) Unwrap() []error { return []error{ErrConnectionLost, e.Err} }

// Limits bound how long a step may wait and run on the server. Zero means
// no limit of waymark's (the server's settings apply).
type Limits struct {
	// LockTimeout bounds each wait for a table lock (PostgreSQL's
	// lock_timeout), so that a step queued behind a long transaction gives
	// up instead of blocking the traffic that queues behind it.
	LockTimeout time.Duration
	// StatementTimeout bounds each statement (statement_timeout).
	StatementTimeout time.Duration
}

// Step is what Session.Apply runs: migration SQL and the history change
// that records it, atomically.
type Step struct {
	// SQL is the migration's SQL; empty for a change to the history only.
	SQL string
	// Change is the write to the history.
	Change Change
	// Limits bound the SQL's waits and run time.
	Limits Limits
	// Async lets the step commit without waiting for its commit to be
	// flushed to disk (PostgreSQL's synchronous_commit = off): a crash may
	// lose the step, whole, never half of it. The caller makes a later
	// commit of the run durable, which flushes every earlier one, and the
	// session makes its last commit durable when it unlocks.
	Async bool
}

// Session is the holder of the migration lock. It runs migration SQL and
// writes the history; it is not safe for concurrent use.
type Session interface {
	// ReadState is Backend.ReadState, read under the lock. Inside a
	// transaction opened by Begin it includes the changes made in that
	// transaction so far, as the transaction itself sees them.
	ReadState(ctx context.Context) ([]Record, error)

	// Apply runs st.SQL (none if empty) and then writes st.Change,
	// atomically: either both take effect or neither does. Every step
	// starts from the same session state (the settings, role and absence
	// of temporary objects the session had when it took the lock),
	// whatever earlier steps did. An error raised by the SQL itself is a
	// [*ScriptError]. Inside a transaction opened by Begin, Apply joins it;
	// otherwise it runs in a transaction of its own.
	Apply(ctx context.Context, st Step) error

	// Exec runs one statement outside any transaction block, for scripts
	// that cannot run inside one, within limits. Its errors are
	// [*ScriptError]s; a statement that builds an index concurrently and
	// leaves it invalid fails with one wrapping [ErrInvalidIndex], and so
	// does one that fails and leaves invalid indexes behind (naming them
	// and how to drop them) or that fails because an invalid index of its
	// name exists.
	Exec(ctx context.Context, sql string, limits Limits) error

	// Begin opens a transaction that the following Apply calls join until
	// Commit or Rollback.
	Begin(ctx context.Context) error
	// Commit commits the transaction opened by Begin.
	Commit(ctx context.Context) error
	// Rollback abandons the transaction opened by Begin and every change
	// made in it.
	Rollback(ctx context.Context) error

	// Unlock rolls back an open transaction, releases the lock and the
	// session's resources. It must release the lock even when ctx is
	// already cancelled: callers pass context.WithoutCancel(ctx) so it can
	// finish. It returns an error wrapping [ErrLockMayBeHeld] when it
	// cannot make sure the lock is released. After Unlock, other methods
	// return ErrUnlocked.
	Unlock(ctx context.Context) error
}

// ScriptError is an error raised by a migration's own SQL (rather than by
// the backend's bookkeeping), with where in that SQL it happened.
type ScriptError struct {
	// Pos locates the error in the SQL text given to Apply or Exec (Path
	// is empty): the place the database reported, or else the start of
	// the failing statement. Pos.Line is 0 when neither is known, and
	// Pos.Statement, the 1-based number of the failing statement among the
	// text's statements, is 0 when that is not known.
	Pos source.Position
	// Detail and Hint are the database's own elaboration of the error
	// (PostgreSQL's DETAIL and HINT fields), or empty.
	Detail, Hint string
	// Err is the driver's error (for pgx, a *pgconn.PgError).
	Err error
}

// Error returns the driver's message.
func (e *ScriptError) Error() string { return e.Err.Error() }

// Unwrap returns e.Err.
func (e *ScriptError) Unwrap() error { return e.Err }
