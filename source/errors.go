package source

import (
	"cmp"
	"errors"
	"slices"

	"github.com/waymarkdb/waymark/internal/errfmt"
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
	ErrOpenTransaction    = errors.New("transaction left open")
	ErrNeedsNoTransaction = errors.New("statement cannot run in a transaction")
	ErrRead               = errors.New("cannot read")
	ErrOutside            = errors.New("file resolves outside the migration directory")
	ErrNoMigrations       = errors.New("no migration files")
)

// Error is one problem with one file (or the directory) of a migration set.
type Error struct {
	// Pos is where the problem is. Pos.Line is 0 when the problem is about
	// the file as a whole (its name, for instance).
	Pos Position
	// Err is one of the Err* sentinels (or, for a problem with another
	// tool's files, one of package adopt/convert's).
	Err error
	// Detail says what exactly is wrong; it may be empty.
	Detail string
	// Cause is the underlying error, or nil. For ErrRead it is what the
	// file system returned (fs.ErrNotExist, fs.ErrPermission, ...).
	Cause error
}

// Error formats the problem as "path:line:col: kind: detail", followed by
// ": cause" when there is one.
func (e *Error) Error() string {
	return e.Pos.String() + ": " + e.Err.Error() + errfmt.Tail(e.Detail, e.Cause)
}

// Unwrap returns Err and, if set, Cause, so that [errors.Is] finds both
// the sentinel and, say, fs.ErrNotExist.
func (e *Error) Unwrap() []error { return errfmt.Unwrap(e.Err, e.Cause) }

// ErrorList is every problem found in a migration set, sorted by file and
// position. [FromFS], [FromDir] and [ParseScript] return one when a set
// has problems: use [errors.As] to get it, or to get its first [*Error],
// and [errors.Is] to ask whether any of them is of a kind.
type ErrorList []*Error

// Error returns the problems, one per line.
func (l ErrorList) Error() string { return errfmt.Lines(l) }

// Unwrap returns the problems, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error { return errfmt.Errors(l) }

// Sort orders the list by path, line and column, keeping the order of
// problems at the same place.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Pos.Path, b.Pos.Path), cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
}

// Err returns the sorted list as an error, or nil if it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}
