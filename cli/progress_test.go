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

// TestProgressBatches: the line of a step with waymark:batch statements
// shows its last batch, and keeps it in its final form.
func TestProgressBatches(t *testing.T) {
	var out syncBuffer
	p := newProgress(&out)
	st := plan.Step{Version: 5, Name: "fill", Direction: source.Up, NoTransaction: true}
	p.event(execute.Event{Step: st, Total: 1})
	p.event(execute.Event{Step: st, Total: 1, Batch: &execute.Batch{Statement: 1, N: 1, Rows: 1000, Total: 1000}})
	p.event(execute.Event{Step: st, Total: 1, Batch: &execute.Batch{Statement: 1, N: 2, Rows: 0, Total: 1000}})
	p.event(execute.Event{Step: st, Total: 1, Done: true, Duration: 2 * time.Second})
	got := out.String()
	for _, want := range []string{
		"\r\033[K[1/1] up 5 fill (no transaction) statement 1, batch 1: 1000 rows (1000 so far) ...",
		"\r\033[K[1/1] up 5 fill (no transaction) statement 1, batch 2: 0 rows (1000 so far) ok 2s\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("progress lacks %q:\n%q", want, got)
		}
	}
}
