package plan

import (
	"errors"
	"fmt"
)

// Sentinel errors for the reasons [Compute] refuses to plan. An [*Error]
// unwraps to one of them; use [errors.Is].
var (
	ErrUnknownTarget  = errors.New("unknown version")
	ErrDirection      = errors.New("needs steps in the other direction")
	ErrUnknownVersion = errors.New("applied version is not in the source")
	ErrDrift          = errors.New("checksum drift")
	ErrOutOfOrder     = errors.New("version below the current one was never applied")
	ErrIrreversible   = errors.New("irreversible version")
	ErrDirty          = errors.New("dirty version")
	ErrBadState       = errors.New("invalid state")
)

// Error is one reason a plan cannot be made. When there are several, the
// error Compute returns joins them (use errors.As to get the first, or the
// Unwrap() []error method of the joined error to get them all).
type Error struct {
	// Err is one of the Err* sentinels.
	Err error
	// Version is the version the problem is about.
	Version int64
	// Path names the file involved, or is empty when there is none.
	Path string
	// Detail says what exactly is wrong and how to proceed.
	Detail string
}

// Error formats the problem as "version N (path): kind: detail", or
// "target N: kind: detail" when the target is the problem.
func (e *Error) Error() string {
	s := fmt.Sprintf("version %d", e.Version)
	if e.Err == ErrUnknownTarget || e.Err == ErrDirection {
		s = fmt.Sprintf("target %d", e.Version)
	}
	if e.Path != "" {
		s += " (" + e.Path + ")"
	}
	s += ": " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }
