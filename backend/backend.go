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
// applied and how long it took, and a dirty marker, and, if it can, the
// version's down script ([Record].Down), which lets a binary that lacks the
// version's files undo it. A backend that
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
// one small read. A [Session] may implement [RowCounter], to run the
// batches of a waymark:batch statement and count their rows.
package backend

import (
	"context"
	"errors"
	"fmt"
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
	// ErrConnect is returned (as a [*ConnectError]) when no connection to
	// the database could be made, or a connection pooler refused to serve
	// one: nothing ran, no lock was taken or waited for.
	ErrConnect = errors.New("cannot connect to the database")
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
	// AppliedAt is when the backend wrote the record or, for an Imported
	// record, when the other tool applied the version, if it kept that.
	AppliedAt time.Time
	// Duration is how long the version's up script took; zero for an
	// Imported record.
	Duration time.Duration
	// Imported marks a version recorded as applied without waymark
	// running it: taken over from another tool's history (adopt.Import),
	// or a baseline of a schema made otherwise (execute.Baseline).
	Imported bool
	// Dirty is zero for a clean record. Up means the version's
	// no-transaction up script started but did not finish; Down means its
	// no-transaction down script did.
	Dirty source.Direction
	// Down says what the record keeps of the version's down script, as
	// the binary that applied the version had it, so that a binary without
	// the version's files can still undo it; DownSQL is that script when
	// Down is [DownKept]. An Insert change stores both; a backend that
	// keeps no down scripts reads [DownUnknown].
	Down    DownState
	DownSQL string
}

// DownState is what a history record keeps of its version's down script.
type DownState int8

// The states of a record's down script.
const (
	// DownUnknown: the record keeps nothing, because the backend, the
	// history's format or the binary that wrote it did not keep down
	// scripts.
	DownUnknown DownState = iota
	// DownNone: the version had no down script (it is irreversible).
	DownNone
	// DownKept: Record.DownSQL is the version's down script.
	DownKept
)

// String returns "unknown", "none" or "kept".
func (d DownState) String() string {
	switch d {
	case DownNone:
		return "none"
	case DownKept:
		return "kept"
	}
	return "unknown"
}

// MarshalText encodes d as its String.
func (d DownState) MarshalText() ([]byte, error) {
	if d < DownUnknown || d > DownKept {
		return nil, fmt.Errorf("backend: invalid down state %d", int8(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes "unknown" (or ""), "none" or "kept".
func (d *DownState) UnmarshalText(b []byte) error {
	switch string(b) {
	case "unknown", "":
		*d = DownUnknown
	case "none":
		*d = DownNone
	case "kept":
		*d = DownKept
	default:
		return fmt.Errorf("backend: invalid down state %q", b)
	}
	return nil
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
	// Insert adds Record (Version, Name, Checksum, Dirty, Imported, and
	// Down and DownSQL if the backend keeps down scripts). The backend
	// sets AppliedAt and Duration, the time the change's SQL took; for an
	// Imported record it keeps AppliedAt when it is not zero (else it sets
	// the time of the insert), and Duration is zero.
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
	// ReadHead returns the head of the history. It writes nothing, never
	// waits for the migration lock and holds no lock when it returns. To
	// tell Head.Busy it may take the lock for an instant in a mode that
	// does not exclude other readers (pgxbackend tries the advisory lock's
	// key in shared mode and gives it back in the same statement); it must
	// not make a TryLock fail that would otherwise succeed for longer than
	// that instant.
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
	// OutcomeUnknown: the commit (or, outside a transaction, the
	// statement) may or may not have taken effect: the reply was lost, or
	// never came. The history, read again, tells.
	OutcomeUnknown Outcome = iota
	// OutcomeRolledBack: the server ended the transaction without
	// committing it (it said it ended the session), or no COMMIT was ever
	// sent for it.
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

// Error says that the connection was lost and what became of the work:
// "(transaction rolled back)" only when that is sure, else "(outcome
// unknown)".
func (e *ConnectionError) Error() string {
	if e.Outcome == OutcomeRolledBack {
		return "connection to the database lost (transaction rolled back): " + e.Err.Error()
	}
	return "connection to the database lost before the server confirmed the outcome (outcome unknown): " + e.Err.Error()
}

// Unwrap returns [ErrConnectionLost] and Err.
func (e *ConnectionError) Unwrap() []error { return []error{ErrConnectionLost, e.Err} }

// ConnectProblem is why a connection could not be made (see
// [ConnectError]).
type ConnectProblem int8

const (
	// ConnectFailed: the server could not be reached, did not answer, or
	// the context ended while connecting.
	ConnectFailed ConnectProblem = iota + 1
	// ConnectAuth: the server rejected the credentials or the role
	// (SQLSTATE class 28).
	ConnectAuth
	// ConnectRefused: the server, or a connection pooler in front of it,
	// answered with a refusal: too many connections, starting up or
	// shutting down, a database that does not exist, or a pooler's
	// back-off after failed logins to the server.
	ConnectRefused
)

// ConnectError is a connection that could not be made: nothing ran on it.
// Err is the driver's error, with the server's (or pooler's) message when
// it answered.
type ConnectError struct {
	Problem ConnectProblem
	Err     error
}

// Error names the problem, then the driver's message.
func (e *ConnectError) Error() string {
	switch e.Problem {
	case ConnectAuth:
		return "cannot connect to the database: authentication failed: " + e.Err.Error()
	case ConnectRefused:
		return "cannot connect to the database: the server or a connection pooler refused: " + e.Err.Error()
	}
	return "cannot connect to the database: " + e.Err.Error()
}

// Unwrap returns [ErrConnect] and Err.
func (e *ConnectError) Unwrap() []error { return []error{ErrConnect, e.Err} }

// Limits bound how long a step may wait and run on the server. Zero means
// no limit of waymark's (the server's settings apply). A backend may also
// derive from them how long to wait for a reply before it suspects the
// network (the pgx backend does: see its package doc).
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

// RowCounter is implemented by a Session that can run one data-changing
// statement of a no-transaction script as a batch and tell how many rows
// it touched; package execute needs it for waymark:batch statements.
type RowCounter interface {
	// ExecCount runs sql, one statement, outside any transaction that
	// Begin opened, in a transaction of its own that it commits, within
	// limits, and returns the number of rows the statement reports. The
	// fence that proves the lock (see [Session]) runs in the same
	// transaction, so a batch never runs without the lock. Its errors are
	// those of Session.Exec.
	ExecCount(ctx context.Context, sql string, limits Limits) (rows int64, err error)
}
