package pgxbackend

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// cancelGrace is how long a cancelled statement may take to stop after the
// server was asked to cancel it, before the connection is closed instead.
const cancelGrace = 5 * time.Second

// watch runs fn on the session's connection so that ending ctx cancels the
// running statement on the server and keeps the connection usable.
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
func (s *session) watch(ctx context.Context, fn func(context.Context) error) error {
	if ctx.Done() == nil {
		return fn(ctx)
	}
	inner, breakConn := context.WithCancel(context.WithoutCancel(ctx))
	defer breakConn()
	var (
		mu       sync.Mutex
		returned bool // fn has returned
	)
	finished := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
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
			breakConn()
			return
		}
		select {
		case <-finished:
		case <-time.After(cancelGrace):
			breakConn()
		}
	}()
	err := fn(inner)
	mu.Lock()
	returned = true
	mu.Unlock()
	s.b.hooks.returned(ctx)
	close(finished)
	<-watcher
	if err != nil && ctx.Err() != nil {
		return &cancelled{ctx: ctx.Err(), err: err}
	}
	return err
}

// cancelled is the error of a statement stopped because its context ended.
// It reads as the context's error and unwraps to both it and the error the
// statement returned (for pgx, a *pgconn.PgError with SQLSTATE 57014).
type cancelled struct {
	ctx, err error
}

func (c *cancelled) Error() string {
	return fmt.Sprintf("%v (the statement was cancelled on the server)", c.ctx)
}

func (c *cancelled) Unwrap() []error { return []error{c.ctx, c.err} }
