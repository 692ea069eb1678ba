package cli

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// syncBuffer is a bytes.Buffer safe for the ticker's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgress(t *testing.T) {
	var out syncBuffer
	p := newProgress(&out)
	p.every = 5 * time.Millisecond
	idx := plan.Step{Version: 3, Name: "idx", Direction: source.Up, NoTransaction: true}
	p.event(execute.Event{Step: idx, Index: 0, Total: 2})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "\r\033[K[1/2] up 3 idx (no transaction) ... ") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.event(execute.Event{Step: idx, Index: 0, Total: 2, Done: true, Duration: 1500 * time.Millisecond})
	p.event(execute.Event{Step: plan.Step{Version: 4, Direction: source.Up}, Index: 1, Total: 2})
	p.event(execute.Event{Step: plan.Step{Version: 4, Direction: source.Up}, Index: 1, Total: 2, Done: true, Err: errors.New("boom")})
	got := out.String()
	for _, want := range []string{
		"[1/2] up 3 idx (no transaction) ...",
		"\r\033[K[1/2] up 3 idx (no transaction) ... ", // the ticker's elapsed time
		"\r\033[K[1/2] up 3 idx (no transaction) ok 1.5s\n",
		"\r\033[K[2/2] up 4 - FAILED 0s\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("progress lacks %q:\n%q", want, got)
		}
	}
}
