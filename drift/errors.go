package drift

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; use errors.Is.
var (
	// ErrNoCreateDB is returned, wrapped, when the role of the scratch
	// server's connection string may not create databases.
	ErrNoCreateDB = errors.New("the scratch role cannot create databases (needs CREATEDB)")
	// ErrMajorMismatch is returned, wrapped, when the scratch server's
	// major version is not the live server's: the same migrations read
	// differently on two majors, so the comparison would report drift
	// that is not there.
	ErrMajorMismatch = errors.New("scratch server's major version differs from the live server's")
	// ErrHistory is returned, wrapped in a [*HistoryError], when the live
	// database's history cannot be checked against the files: a dirty
	// version, versions the files do not have (the database is ahead), or
	// a version never applied below applied ones.
	ErrHistory = errors.New("live history cannot be checked")
	// ErrBuild is returned, wrapped, when the migrations fail on the
	// scratch database.
	ErrBuild = errors.New("building the expected schema failed")
)

// HistoryError says why the live history cannot be compared with the
// files. It unwraps to [ErrHistory] and to the plan package's sentinel
// for the problem (plan.ErrDirty, plan.ErrUnknownVersion,
// plan.ErrOutOfOrder).
type HistoryError struct {
	// Versions are the versions concerned.
	Versions []int64
	// Problem is the plan package's sentinel.
	Problem error
	// Hint says what to do.
	Hint string
}

// Error returns "drift: live history cannot be checked: dirty version: 4
// (...)".
func (e *HistoryError) Error() string {
	vs := make([]string, len(e.Versions))
	for i, v := range e.Versions {
		vs[i] = fmt.Sprint(v)
	}
	return fmt.Sprintf("drift: %v: %v: %s (%s)", ErrHistory, e.Problem, strings.Join(vs, ", "), e.Hint)
}

// Unwrap returns ErrHistory and the problem.
func (e *HistoryError) Unwrap() []error { return []error{ErrHistory, e.Problem} }

// IgnoreError lists the problems of an ignore file, each with its line.
type IgnoreError struct {
	// File is the ignore file's name.
	File string
	// Problems are "line N: ..." messages.
	Problems []string
}

// Error returns every problem, one a line, each prefixed by the file.
func (e *IgnoreError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = e.File + ":" + p
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns ErrIgnoreFile.
func (e *IgnoreError) Unwrap() error { return ErrIgnoreFile }

// ErrIgnoreFile is returned, wrapped in an [*IgnoreError], for an ignore
// file that cannot be used: a line that is not "KIND PATTERN REASON", an
// unknown kind, a bad pattern, or no reason. Use errors.Is.
var ErrIgnoreFile = errors.New("bad ignore file")
