package execute

import (
	"errors"
	"fmt"
	"strings"

	"github.com/waymarkdb/waymark/internal/errfmt"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Sentinel errors; use [errors.Is]. Every error of this package unwraps to
// one of them: a [*StepError] to ErrStepFailed, a [*StaleError] to
// ErrStalePlan, an [*Error] to the one in its Err field. [Migrate] also
// returns the [plan.ErrorList] of a plan it refused to make.
var (
	// ErrStepFailed means a step of the plan failed (see [StepError]).
	ErrStepFailed = errors.New("migration step failed")
	// ErrStalePlan means the database's state changed between planning
	// and execution. Nothing was changed; build a new plan.
	ErrStalePlan = errors.New("stale plan")
	// ErrBadPlan means a plan cannot be executed as it is: a step's SQL does
	// not match its checksum, or cannot be split into statements, or the
	// options ask for something the plan cannot do. Nothing was changed.
	ErrBadPlan = errors.New("plan cannot be executed")
	// ErrConnect means no connection to the database could be made, or a
	// connection pooler refused one (the Cause wraps backend.ErrConnect,
	// as a *backend.ConnectError that says which, with the server's
	// message); nothing ran and no lock was waited for.
	ErrConnect = errors.New("no connection")
	// ErrLock means the migration lock could not be taken; nothing ran.
	ErrLock = errors.New("cannot take the migration lock")
	// ErrLockTimeout means the context ended while another session held
	// the migration lock (see [LockError]); nothing ran.
	ErrLockTimeout = errors.New("gave up waiting for the migration lock")
	// ErrUnlock means releasing the migration lock failed; see the Cause.
	ErrUnlock = errors.New("cannot release the migration lock")
	// ErrReadState means the history could not be read under the lock.
	ErrReadState = errors.New("cannot read the history")
	// ErrWriteHistory means a change to the history failed outside a
	// step (Resolve's); nothing was changed.
	ErrWriteHistory = errors.New("cannot write the history")
	// ErrTransaction means opening or committing the transaction of a
	// single-transaction run failed.
	ErrTransaction = errors.New("transaction failed")
	// ErrNotInHistory is returned by Resolve for a version that the
	// history does not have.
	ErrNotInHistory = errors.New("version is not in the history")
	// ErrNotDirty is returned by Resolve for a version that is recorded
	// but not dirty.
	ErrNotDirty = errors.New("version is not dirty")
	// ErrBadResolution is returned by Resolve for a Resolution that is
	// neither MarkApplied nor MarkNotApplied.
	ErrBadResolution = errors.New("invalid resolution")
)

// Error is a failure of [Run], [Migrate], [Resolve] or [Baseline] other than a failed
// step ([StepError]) or a stale plan ([StaleError]).
type Error struct {
	// Err is one of the Err* sentinels.
	Err error
	// Version is the version concerned, or 0 when the failure is not about
	// one version.
	Version int64
	// Path names the version's script file, or is empty.
	Path string
	// Detail says what exactly is wrong, or is empty.
	Detail string
	// Cause is the underlying error (the backend's, or a source.ErrorList
	// for a step whose SQL is not a valid script), or nil.
	Cause error
}

// Error formats the failure as "execute: version N (path): kind: detail:
// cause", leaving out what is not known.
func (e *Error) Error() string {
	s := "execute: "
	if e.Version != 0 {
		s += fmt.Sprintf("version %d", e.Version)
		if e.Path != "" {
			s += " (" + e.Path + ")"
		}
		s += ": "
	}
	return s + e.Err.Error() + errfmt.Tail(e.Detail, e.Cause)
}

// Unwrap returns Err and, if set, Cause.
func (e *Error) Unwrap() []error { return errfmt.Unwrap(e.Err, e.Cause) }

// StaleError reports a plan whose state is no longer the database's. It
// unwraps to [ErrStalePlan].
type StaleError struct {
	// Planned is the state the plan was computed from; Current is the
	// state found under the migration lock.
	Planned, Current plan.State
	// Changes lists, by version, how Current differs from Planned.
	Changes []Change
}

// Change is how one version's history record differs between two states.
type Change struct {
	Version int64
	// Repeatable names the repeatable script whose record changed
	// (Version is then 0), or is "".
	Repeatable string
	// What changed: "added", "removed", "checksum" or "dirty".
	What string
	// Was and Now describe the record before and after for "checksum"
	// (short checksums) and "dirty" (none, up or down).
	Was, Now string
}

// String describes the change: "3 added", "2 checksum 1a2b3c4d -> 5e6f7a8b",
// "repeatable active_users added".
func (c Change) String() string {
	s := fmt.Sprintf("%d %s", c.Version, c.What)
	if c.Repeatable != "" {
		s = "repeatable " + c.Repeatable + " " + c.What
	}
	if c.Was != "" || c.Now != "" {
		s += " " + c.Was + " -> " + c.Now
	}
	return s
}

// Error says which versions changed.
func (e *StaleError) Error() string {
	changes := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		changes[i] = c.String()
	}
	return fmt.Sprintf("execute: stale plan: the plan was made at version %d, the database is now at %d, changed since: %s; build a new plan",
		e.Planned.Version(), e.Current.Version(), strings.Join(changes, ", "))
}

// Unwrap returns [ErrStalePlan].
func (e *StaleError) Unwrap() error { return ErrStalePlan }

// stale returns the StaleError for a plan made from planned when the
// database is in current, or nil if they are the same state.
func stale(planned, current plan.State) error {
	if planned.Equal(current) {
		return nil
	}
	e := &StaleError{Planned: planned, Current: current}
	a, b := planned.Records, current.Records
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || len(a) > 0 && a[0].Version < b[0].Version:
			e.Changes = append(e.Changes, Change{Version: a[0].Version, What: "removed"})
			a = a[1:]
		case len(a) == 0 || b[0].Version < a[0].Version:
			e.Changes = append(e.Changes, Change{Version: b[0].Version, What: "added"})
			b = b[1:]
		default:
			if a[0].Checksum != b[0].Checksum {
				e.Changes = append(e.Changes, Change{Version: a[0].Version, What: "checksum", Was: a[0].Checksum.Short(), Now: b[0].Checksum.Short()})
			}
			if a[0].Dirty != b[0].Dirty {
				e.Changes = append(e.Changes, Change{Version: a[0].Version, What: "dirty", Was: a[0].Dirty.String(), Now: b[0].Dirty.String()})
			}
			a, b = a[1:], b[1:]
		}
	}
	was := map[string]source.Checksum{}
	for _, r := range planned.Repeatables {
		was[r.Name] = r.Checksum
	}
	for _, r := range current.Repeatables {
		c, ok := was[r.Name]
		switch {
		case !ok:
			e.Changes = append(e.Changes, Change{Repeatable: r.Name, What: "added"})
		case c != r.Checksum:
			e.Changes = append(e.Changes, Change{Repeatable: r.Name, What: "checksum", Was: c.Short(), Now: r.Checksum.Short()})
		}
		delete(was, r.Name)
	}
	for _, r := range planned.Repeatables {
		if _, ok := was[r.Name]; ok {
			e.Changes = append(e.Changes, Change{Repeatable: r.Name, What: "removed"})
		}
	}
	return e
}

// StepError is the failure of one step. When the migration's own SQL
// failed, it says where in the file, and the database's DETAIL and HINT
// follow on lines of their own:
//
//	migrations/v003_orders.up.sql:12:5: ERROR: relation "user" does not exist (SQLSTATE 42P01)
//
// It unwraps to [ErrStepFailed] and to Err, the backend's error: with pgx,
// errors.As(err, &pgErr) gives the *pgconn.PgError.
type StepError struct {
	Version   int64
	Direction source.Direction
	// Repeatable is the name of the repeatable script that failed (Version
	// is then 0), or "".
	Repeatable string
	// Pos locates the error in the script's file: Pos.Path is always set,
	// Pos.Line is 0 when the error cannot be located, and Pos.Statement is
	// the 1-based number of the failing statement, or 0 when unknown.
	Pos source.Position
	// Statements is how many statements the script has.
	Statements int
	// Dirty is set when the step ran outside a transaction and left its
	// version dirty: the statements before Pos.Statement took effect, and
	// the message says which.
	Dirty bool
	// Resumable is set when the step's script is resumable (every
	// statement a waymark:batch): its committed batches stay, and running
	// the plan again resumes the step instead of needing Resolve.
	Resumable bool
	// Detail and ServerHint are the database's own elaboration of the
	// error (PostgreSQL's DETAIL and HINT), or empty.
	Detail, ServerHint string
	// Hint is waymark's suggestion for a fix, or empty.
	Hint string
	Err  error
}

// Error formats the failure as "path:line:col: message", followed by the
// database's DETAIL and HINT lines.
func (e *StepError) Error() string {
	s := e.Pos.String() + ": " + e.Err.Error()
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	switch {
	case e.Dirty && e.Resumable:
		s += fmt.Sprintf("; version %d is left dirty with the batches that committed: run again, and the step resumes where it stopped", e.Version)
	case e.Dirty && e.Pos.Statement > 0:
		s += fmt.Sprintf("; statement %d of %d failed %s, so version %d is left dirty: repair the database, then call execute.Resolve",
			e.Pos.Statement, e.Statements, tookEffect(e.Pos.Statement), e.Version)
	case e.Dirty:
		s += fmt.Sprintf("; version %d is left dirty: check the database, then call execute.Resolve", e.Version)
	case e.Repeatable != "" && e.Pos.Statement > 1 && e.Statements > 1:
		s += fmt.Sprintf("; statement %d of the no-transaction repeatable script %s failed %s; the next run applies the script again from the start",
			e.Pos.Statement, e.Repeatable, tookEffect(e.Pos.Statement))
	}
	if e.Detail != "" {
		s += "\nDETAIL: " + e.Detail
	}
	if e.ServerHint != "" {
		s += "\nHINT: " + e.ServerHint
	}
	return s
}

// tookEffect says which statements of a no-transaction step took effect
// before statement n failed.
func tookEffect(n int) string {
	switch n {
	case 1:
		return "before any statement of the step took effect"
	case 2:
		return "after statement 1 took effect"
	}
	return fmt.Sprintf("after statements 1 to %d took effect", n-1)
}

// Unwrap returns [ErrStepFailed] and e.Err.
func (e *StepError) Unwrap() []error { return []error{ErrStepFailed, e.Err} }
