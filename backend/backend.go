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
// applied and how long it took, and a dirty marker. The dirty marker is set
// while a no-transaction script runs (it cannot be made atomic) and stays set
// if the script fails part-way, until someone repairs the database and
// resolves it.
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
package backend

import (
	"context"
	"errors"
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

	// Lock waits until it holds the exclusive migration lock of this
	// history (and app key), or until ctx ends, and returns a Session that
	// holds it. Only one Session per history exists at a time, across all
	// processes sharing the database.
	Lock(ctx context.Context) (Session, error)
}

// Session is the holder of the migration lock. It runs migration SQL and
// writes the history; it is not safe for concurrent use.
type Session interface {
	// ReadState is Backend.ReadState, read under the lock. Inside a
	// transaction opened by Begin it includes the changes made in that
	// transaction so far, as the transaction itself sees them.
	ReadState(ctx context.Context) ([]Record, error)

	// Apply runs sql (none if empty) and then writes ch, atomically:
	// either both take effect or neither does. An error raised by sql
	// itself is a [*ScriptError]. Inside a transaction opened by Begin,
	// Apply joins it; otherwise it runs in a transaction of its own.
	Apply(ctx context.Context, sql string, ch Change) error

	// Exec runs one statement outside any transaction block, for scripts
	// that cannot run inside one. Its errors are [*ScriptError]s.
	Exec(ctx context.Context, sql string) error

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
	// finish. After Unlock, other methods return ErrUnlocked.
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
