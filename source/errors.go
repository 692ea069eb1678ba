package source

import (
	"errors"
	"fmt"
)

// Sentinel errors for the kinds of problem a migration set can have. An
// [*Error] unwraps to one of them; use [errors.Is].
var (
	ErrBadName            = errors.New("invalid migration file name")
	ErrBadVersion         = errors.New("invalid version")
	ErrDuplicateVersion   = errors.New("duplicate version")
	ErrNameMismatch       = errors.New("up and down file names differ")
	ErrMissingUp          = errors.New("down script without an up script")
	ErrEncoding           = errors.New("invalid encoding")
	ErrEmpty              = errors.New("up script has no statements")
	ErrDirective          = errors.New("invalid directive")
	ErrSyntax             = errors.New("cannot split script")
	ErrTransactionControl = errors.New("transaction control in a transactional script")
	ErrNoMigrations       = errors.New("no migration files")
)

// Error is one problem with one file of a migration set.
type Error struct {
	// Path is the file's path as the set names it (see [Script.Path]).
	Path string
	// Line and Column locate the problem inside the file, 1-based, the
	// column counted in characters; both are 0 when the problem is about
	// the file as a whole (its name, for instance).
	Line, Column int
	// Err is one of the Err* sentinels, or the error that reading the file
	// returned.
	Err error
	// Detail says what exactly is wrong; it may be empty.
	Detail string
}

// Error formats the problem as "path:line:col: kind: detail".
func (e *Error) Error() string {
	where := e.Path
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d:%d", e.Path, e.Line, e.Column)
	}
	if e.Detail == "" {
		return where + ": " + e.Err.Error()
	}
	return where + ": " + e.Err.Error() + ": " + e.Detail
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// join joins problems into one error, or returns nil if there are none.
func join(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}
