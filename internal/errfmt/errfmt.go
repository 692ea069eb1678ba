// Package errfmt holds the few lines that waymark's error types share:
// a list of errors printed one per line and unwrapped for errors.Is and
// errors.As, and an error's optional detail and cause.
package errfmt

import "strings"

// Lines returns the messages of errs, one per line.
func Lines[E error](errs []E) string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Errors returns errs as a []error, for an Unwrap() []error method.
func Errors[E error](errs []E) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return out
}

// Tail returns ": detail" and ": cause", each only when present, to end a
// message.
func Tail(detail string, cause error) string {
	var s string
	if detail != "" {
		s += ": " + detail
	}
	if cause != nil {
		s += ": " + cause.Error()
	}
	return s
}

// Unwrap returns sentinel and, when it is not nil, cause.
func Unwrap(sentinel, cause error) []error {
	if cause == nil {
		return []error{sentinel}
	}
	return []error{sentinel, cause}
}
