package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/waymarkdb/waymark/execute"
)

// progress shows the running step on a terminal, with its elapsed time
// updated every second, and replaces it with its result when it ends.
type progress struct {
	w     io.Writer
	every time.Duration

	mu    sync.Mutex
	line  string        // the running step's line, without the time
	batch string        // the last batch of the running step, or ""
	stop  chan struct{} // closes the ticker of the running step
	done  chan struct{} // closed when the ticker has stopped
}

func newProgress(w io.Writer) *progress { return &progress{w: w, every: time.Second} }

// event is an execute.Options.Progress function.
func (p *progress) event(e execute.Event) {
	if e.Batch != nil {
		b := e.Batch
		p.mu.Lock()
		p.batch = fmt.Sprintf(" statement %d, batch %d: %d rows (%d so far)", b.Statement, b.N, b.Rows, b.Total)
		fmt.Fprintf(p.w, "\r\033[K%s%s ...", p.line, p.batch)
		p.mu.Unlock()
		return
	}
	if !e.Done {
		tx := ""
		if e.Step.NoTransaction {
			tx = " (no transaction)"
		}
		p.mu.Lock()
		p.line = fmt.Sprintf("[%d/%d] %s %d %s%s", e.Index+1, e.Total, e.Step.Direction, e.Step.Version, dash(e.Step.Name), tx)
		p.batch = ""
		if e.Step.Repeatable {
			p.line = fmt.Sprintf("[%d/%d] %s repeatable %s%s", e.Index+1, e.Total, e.Step.Direction, e.Step.Name, tx)
		}
		fmt.Fprintf(p.w, "%s ...", p.line)
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		p.mu.Unlock()
		go p.tick(time.Now(), p.stop, p.done)
		return
	}
	close(p.stop)
	<-p.done
	result := "ok"
	if e.Err != nil {
		result = "FAILED"
	}
	p.mu.Lock()
	fmt.Fprintf(p.w, "\r\033[K%s%s %s %v\n", p.line, p.batch, result, e.Duration.Round(time.Millisecond))
	p.mu.Unlock()
}

// tick rewrites the running step's line with its elapsed time.
func (p *progress) tick(start time.Time, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			fmt.Fprintf(p.w, "\r\033[K%s%s ... %v", p.line, p.batch, now.Sub(start).Round(time.Second))
			p.mu.Unlock()
		}
	}
}
