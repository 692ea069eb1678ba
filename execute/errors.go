package execute

import (
	"errors"
	"fmt"

	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Sentinel errors; use [errors.Is].
var (
	// ErrStalePlan means the database's state changed between planning
	// and execution. Nothing was changed; build a new plan.
	ErrStalePlan = errors.New("stale plan")
	// ErrBadPlan means a plan cannot be executed as it is: a step's SQL does
	// not match its checksum, or cannot be split into statements, or the
	// options ask for something the plan cannot do. Nothing was changed.
	ErrBadPlan = errors.New("plan cannot be executed")
	// ErrNotDirty is returned by Resolve for a version that is not dirty.
	ErrNotDirty = errors.New("version is not dirty")
)

// StaleError reports a plan whose state is no longer the database's.
// It unwraps to [ErrStalePlan].
type StaleError struct {
	// Planned is the state the plan was computed from; Current is the
	// state found under the migration lock.
	Planned, Current plan.State
}

// Error says how the state moved.
func (e *StaleError) Error() string {
	return fmt.Sprintf("execute: stale plan: the plan was made at version %d (%d applied), the database is now at %d (%d applied); build a new plan",
		e.Planned.Version(), len(e.Planned.Applied), e.Current.Version(), len(e.Current.Applied))
}

// Unwrap returns [ErrStalePlan].
func (e *StaleError) Unwrap() error { return ErrStalePlan }

// StepError is the failure of one step. When the migration's own SQL failed,
// it says where in the file:
//
//	migrations/v003_orders.up.sql:12:5: ERROR: relation "user" does not exist (SQLSTATE 42P01)
//
// Err is the backend's error; with pgx, errors.As(err, &pgErr) gives the
// *pgconn.PgError.
type StepError struct {
	Version   int64
	Direction source.Direction
	// Path names the script's file.
	Path string
	// Line and Column locate the error in the file (1-based, the column in
	// characters), or are 0 when it cannot be located.
	Line, Column int
	// Statement is the 1-based number of the failing statement in the
	// script, or 0 when unknown; Statements is how many the script has.
	Statement, Statements int
	// Dirty is set when the step ran outside a transaction and left its
	// version dirty: the statements before Statement took effect.
	Dirty bool
	// Hint suggests a fix, or is empty.
	Hint string
	Err  error
}

// Error formats the failure as "path:line:col: message".
func (e *StepError) Error() string {
	s := e.Path
	if e.Line > 0 {
		s += fmt.Sprintf(":%d:%d", e.Line, e.Column)
	}
	s += ": " + e.Err.Error()
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	switch {
	case e.Dirty && e.Statement > 0:
		s += fmt.Sprintf("; statement %d of %d failed, so version %d is left dirty: repair the database, then call execute.Resolve", e.Statement, e.Statements, e.Version)
	case e.Dirty:
		s += fmt.Sprintf("; version %d is left dirty: check the database, then call execute.Resolve", e.Version)
	}
	return s
}

// Unwrap returns e.Err.
func (e *StepError) Unwrap() error { return e.Err }
