package fleet

import (
	"errors"

	"github.com/waymarkdb/waymark/internal/errfmt"
	"github.com/waymarkdb/waymark/source"
)

// Sentinel errors; use [errors.Is]. Every [*Error] unwraps to one of them.
var (
	// ErrBadTarget means a list of targets (or a line of a targets file)
	// that a call refuses before touching any database: a target without
	// a name or with a name used twice, without a backend or connection
	// string or with both, a connection string that does not parse, a
	// canary that is not a target.
	ErrBadTarget = errors.New("invalid target")
	// ErrBadPattern means a schema pattern of [Schemas] that PostgreSQL
	// rejects as a LIKE pattern (one ending with the escape character).
	ErrBadPattern = errors.New("invalid schema pattern")
	// ErrTargetFailed means a target's run failed; its Cause says how
	// (an *execute.StepError for a failing step). Steps before the
	// failure stay applied.
	ErrTargetFailed = errors.New("failed")
	// ErrTargetRefused means waymark's checks refused a target's plan
	// before changing anything (a dirty version, drift, a version the
	// files lack, invalid backend options); its Cause says which.
	ErrTargetRefused = errors.New("refused")
	// ErrRead means a target's history could not be read (Status, Plan).
	ErrRead = errors.New("cannot read the history")
	// ErrNotStarted means some targets were not started; the Cause says
	// why: [ErrCanaryFailed], [ErrStopped] or the context's error.
	ErrNotStarted = errors.New("not started")
	// ErrCanaryFailed is why targets were not started when a canary
	// target failed.
	ErrCanaryFailed = errors.New("a canary target failed")
	// ErrStopped is why targets were not started after a target failed
	// under the [Stop] policy.
	ErrStopped = errors.New("stopped after a target failed")
)

// Error is one problem of a fleet call, about one target, a line of a
// targets file, or targets that were not started. It prints as
// "fleet: target NAME: kind: detail: cause", or, for a line of a targets
// file, "path:line:col: kind: detail".
type Error struct {
	// Target names the target, or is empty.
	Target string
	// Pos is the line of a targets file, or zero.
	Pos source.Position
	// Err is one of the sentinels.
	Err error
	// Detail says what exactly is wrong, or is empty.
	Detail string
	// Cause is the underlying error, or nil.
	Cause error
}

// Error formats the problem (see the type's doc).
func (e *Error) Error() string {
	s := "fleet: "
	if e.Pos.IsValid() {
		s = e.Pos.String() + ": "
	}
	if e.Target != "" {
		s += "target " + e.Target + ": "
	}
	return s + e.Err.Error() + errfmt.Tail(e.Detail, e.Cause)
}

// Unwrap returns Err and, if set, Cause.
func (e *Error) Unwrap() []error { return errfmt.Unwrap(e.Err, e.Cause) }

// ErrorList is several problems at once, one per line, in the order of
// the targets (or of the file's lines).
type ErrorList []*Error

// Error returns the problems, one per line.
func (l ErrorList) Error() string { return errfmt.Lines(l) }

// Unwrap returns the problems, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error { return errfmt.Errors(l) }

// err returns l as an error, or nil if it is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
