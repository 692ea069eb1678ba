package errfmt

import (
	"errors"
	"testing"
)

func TestLinesAndErrors(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	if got := Lines([]error{a, b}); got != "a\nb" {
		t.Errorf("Lines = %q", got)
	}
	if got := Lines([]error(nil)); got != "" {
		t.Errorf("Lines(nil) = %q", got)
	}
	if got := Errors([]error{a, b}); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("Errors = %v", got)
	}
}

func TestTailAndUnwrap(t *testing.T) {
	cause := errors.New("disk full")
	for _, tt := range []struct {
		detail string
		cause  error
		want   string
	}{
		{"", nil, ""},
		{"the file", nil, ": the file"},
		{"", cause, ": disk full"},
		{"the file", cause, ": the file: disk full"},
	} {
		if got := Tail(tt.detail, tt.cause); got != tt.want {
			t.Errorf("Tail(%q, %v) = %q, want %q", tt.detail, tt.cause, got, tt.want)
		}
	}
	sentinel := errors.New("kind")
	if got := Unwrap(sentinel, nil); len(got) != 1 || got[0] != sentinel {
		t.Errorf("Unwrap without a cause = %v", got)
	}
	if got := Unwrap(sentinel, cause); len(got) != 2 || got[1] != cause {
		t.Errorf("Unwrap with a cause = %v", got)
	}
}
