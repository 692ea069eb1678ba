package convert

import (
	"cmp"
	"errors"
	"slices"

	"github.com/waymarkdb/waymark/internal/errfmt"
	"github.com/waymarkdb/waymark/source"
)

// Sentinel errors; use [errors.Is]. Convert's problems come as an
// [ErrorList] of [*Error]s, each wrapping one of them.
var (
	// ErrUnknownTool: the tool is not one Convert knows.
	ErrUnknownTool = errors.New("unknown migration tool")
	// ErrLayout: the tool itself would refuse the file or the directory
	// (two files for a version, a goose file without "-- +goose Up", a
	// gap in tern's numbers).
	ErrLayout = errors.New("invalid migration")
	// ErrInvalid: a converted script is not a valid waymark script (an
	// unterminated quote, a transaction left open); the Cause is the
	// source package's problem.
	ErrInvalid = errors.New("not a valid waymark script once converted")
	// ErrNoMigrations: the directory holds no migration of the tool.
	ErrNoMigrations = errors.New("no migrations")
	// ErrRead: a file or directory could not be read.
	ErrRead = errors.New("cannot read")
	// ErrExists: Write found .sql files in the directory.
	ErrExists = errors.New("directory is not empty")
	// ErrWrite: Write could not write a file.
	ErrWrite = errors.New("cannot write")
)

// Error is one problem of a conversion, located in the tool's file.
type Error struct {
	// Pos is where: the tool's file, and the line and column when known.
	Pos source.Position
	// Err is one of the Err* sentinels.
	Err error
	// Detail says what exactly is wrong; it may be empty.
	Detail string
	// Cause is the underlying error, or nil: for ErrInvalid, the
	// *source.Error of the converted script.
	Cause error
}

// Error formats the problem as "path:line:col: kind: detail: cause".
func (e *Error) Error() string {
	return e.Pos.String() + ": " + e.Err.Error() + errfmt.Tail(e.Detail, e.Cause)
}

// Unwrap returns Err and, if set, Cause.
func (e *Error) Unwrap() []error { return errfmt.Unwrap(e.Err, e.Cause) }

// ErrorList is every problem of a conversion, sorted by file and position.
type ErrorList []*Error

// Error returns the problems, one per line.
func (l ErrorList) Error() string { return errfmt.Lines(l) }

// Unwrap returns the problems, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error { return errfmt.Errors(l) }

// Err returns the sorted list as an error, or nil if it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Pos.Path, b.Pos.Path), cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	return l
}
