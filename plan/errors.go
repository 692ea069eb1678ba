package plan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/waymarkdb/waymark/internal/errfmt"
)

// Sentinel errors for the reasons [Compute] refuses to plan. An [*Error]
// unwraps to one of them; use [errors.Is].
var (
	ErrUnknownTarget  = errors.New("unknown target version")
	ErrDirection      = errors.New("needs steps in the other direction")
	ErrUnknownVersion = errors.New("applied version is not in the source")
	ErrDrift          = errors.New("checksum drift")
	ErrOutOfOrder     = errors.New("version below the current one was never applied")
	ErrIrreversible   = errors.New("irreversible version")
	ErrDirty          = errors.New("dirty version")
	ErrBadState       = errors.New("invalid state")
)

// Error is one reason a plan cannot be made.
type Error struct {
	// Err is one of the Err* sentinels.
	Err error
	// Version is the version the problem is about: the target for
	// ErrUnknownTarget and ErrDirection.
	Version int64
	// Path names the file involved, or is empty when there is none.
	Path string
	// Detail says what exactly is wrong and how to proceed.
	Detail string
}

// Error formats the problem as "plan: version N (path): kind: detail", or
// "plan: target N: kind: detail" when the target is the problem.
func (e *Error) Error() string {
	s := fmt.Sprintf("plan: version %d", e.Version)
	if e.Err == ErrUnknownTarget || e.Err == ErrDirection {
		s = fmt.Sprintf("plan: target %d", e.Version)
	}
	if e.Path != "" {
		s += " (" + e.Path + ")"
	}
	return s + ": " + e.Err.Error() + errfmt.Tail(e.Detail, nil)
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every reason [Compute] refused to plan, sorted by version.
// Use [errors.As] to get the list or its first [*Error], and [errors.Is] to
// ask whether any of them is of a kind.
type ErrorList []*Error

// Error returns the reasons, one per line.
func (l ErrorList) Error() string { return errfmt.Lines(l) }

// Unwrap returns the reasons, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error { return errfmt.Errors(l) }

// Err returns the list sorted by version as an error, or nil if it is
// empty. Reasons about one version keep their order.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	slices.SortStableFunc(l, func(a, b *Error) int { return cmp.Compare(a.Version, b.Version) })
	return l
}
