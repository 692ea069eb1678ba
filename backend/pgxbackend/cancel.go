package pgxbackend

import (
	"context"
	"fmt"
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
func (s *session) watch(ctx context.Context, fn func(context.Context) error) error {
	if ctx.Done() == nil {
		return fn(ctx)
	}
	inner, breakConn := context.WithCancel(context.WithoutCancel(ctx))
	defer breakConn()
	finished := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		select {
		case <-finished:
			return // it ended by itself; a cancel now could hit the next query
		default:
		}
		cctx, cancel := context.WithTimeout(inner, cancelGrace)
		err := s.conn.PgConn().CancelRequest(cctx)
		cancel()
		if err != nil {
			s.b.log.Warn("pgxbackend: cancel request failed", "error", err)
		}
		select {
		case <-finished:
		case <-time.After(cancelGrace):
			breakConn()
		}
	}()
	err := fn(inner)
	close(finished)
	<-watcher
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}
