package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
)

// cancelGrace is how long a cancelled statement may take to stop after the
// server was asked to cancel it, before the connection is closed instead.
const cancelGrace = 5 * time.Second

// watch runs fn on the session's connection so that ending ctx cancels the
// running statement on the server and keeps the connection usable, and so
// that a reply that never comes ends the wait (see probe).
//
// pgx, by default, closes the socket when a query's context ends. The
// server does not notice a closed socket while a statement runs, so it
// would go on running it, holding the migration lock, for as long as the
// statement takes. Instead, fn gets a context that ctx's end does not
// reach; when ctx ends, watch sends a cancel request, and only if the
// statement has not returned cancelGrace later does it end fn's context.
//
// Once fn has returned, no cancel request is sent: one could reach the
// session's next statement. (A request already on its way when fn returns
// finds the session idle, which the server ignores; watch waits for it to
// be delivered before it returns.)
//
// watch claims a cancel only when the server confirmed it: when neither the
// statement nor the cancel request got an answer, the error is a
// *backend.ConnectionError whose outcome is unknown.
func (s *session) watch(ctx context.Context, fn func(context.Context) error) error {
	patience := s.patience
	if !s.probing {
		patience = 0
	}
	if ctx.Done() == nil && patience == 0 {
		return fn(ctx)
	}
	inner, breakConn := context.WithCancel(context.WithoutCancel(ctx))
	defer breakConn()
	var (
		mu       sync.Mutex
		returned bool  // fn has returned
		gaveUp   error // why the probe gave up on the reply
		broke    bool  // the cancel went unanswered: the connection was closed
	)
	closeConn := func() {
		mu.Lock()
		broke = true
		mu.Unlock()
		breakConn()
	}
	finished := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		var probe <-chan time.Time
		if patience > 0 {
			t := time.NewTimer(patience)
			defer t.Stop()
			probe = t.C
			start := time.Now()
			for probe != nil {
				select {
				case <-finished:
					return
				case <-ctx.Done():
					probe = nil
				case <-probe:
					why := s.probe(inner)
					mu.Lock()
					if why != nil && !returned {
						gaveUp = fmt.Errorf("no reply from the server for %v: %w", time.Since(start).Round(time.Second), why)
					}
					late := returned || why != nil
					mu.Unlock()
					if late {
						if why != nil {
							breakConn()
						}
						return
					}
					t.Reset(patience)
				}
			}
		}
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		mu.Lock()
		late := returned
		mu.Unlock()
		if late {
			return
		}
		s.b.hooks.cancelSent()
		cctx, cancel := context.WithTimeout(inner, cancelGrace)
		err := s.conn.PgConn().CancelRequest(cctx)
		cancel()
		if err != nil {
			// The request did not reach the server: close the connection
			// at once, which at least ends the wait; the server notices
			// the closed socket within client_connection_check_interval.
			closeConn()
			return
		}
		select {
		case <-finished:
		case <-time.After(cancelGrace):
			closeConn()
		}
	}()
	err := fn(inner)
	mu.Lock()
	returned = true
	why, unanswered := gaveUp, broke
	mu.Unlock()
	s.b.hooks.returned(ctx)
	close(finished)
	<-watcher
	switch {
	case err == nil:
		return nil
	case why != nil:
		return &backend.ConnectionError{Outcome: backend.OutcomeUnknown, Err: fmt.Errorf("%w; the connection was closed: %w", why, err)}
	case ctx.Err() == nil:
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Severity != "FATAL" && pgErr.Severity != "PANIC" {
		return &cancelled{ctx: ctx.Err(), err: err} // the server answered
	}
	if !unanswered {
		return err // the server answered (it ended the session), or the network failed: connError says which
	}
	// Neither the statement nor the cancel request was answered: what
	// became of the statement is not known.
	return &backend.ConnectionError{Outcome: backend.OutcomeUnknown,
		Err: fmt.Errorf("%w, and the server did not confirm a cancel request, so the connection was closed: %w", ctx.Err(), err)}
}

// cancelled is the error of a statement stopped because its context ended,
// after the server answered. It reads as the context's error and unwraps
// to both it and the error the statement returned (for pgx, a
// *pgconn.PgError, with SQLSTATE 57014 when the cancel took effect).
type cancelled struct {
	ctx, err error
}

func (c *cancelled) Error() string {
	var pgErr *pgconn.PgError
	if errors.As(c.err, &pgErr) && pgErr.Code == "57014" {
		return fmt.Sprintf("%v (the statement was cancelled on the server)", c.ctx)
	}
	return fmt.Sprintf("%v: %v", c.ctx, c.err)
}

func (c *cancelled) Unwrap() []error { return []error{c.ctx, c.err} }
