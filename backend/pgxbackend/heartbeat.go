package pgxbackend

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// heartbeat renews a lease every third of its TTL from a connection of its
// own, so that a long no-transaction statement does not let the lease
// expire. A transactional step keeps the lease row locked, and renews it
// itself, so a renewal that finds the row locked is skipped.
type heartbeat struct {
	stop chan struct{}
	done sync.WaitGroup
	lost atomic.Bool // the lease was found taken by another holder
}

func (s *session) startHeartbeat() {
	hb := &heartbeat{stop: make(chan struct{})}
	s.hb = hb
	every := s.b.opts.LeaseTTL / 3
	q := "BEGIN; SET LOCAL lock_timeout = '" + leaseWait + "'; " + s.renewal() + "; COMMIT"
	hb.done.Add(1)
	go func() {
		defer hb.done.Done()
		var conn *pgx.Conn
		defer func() {
			if conn != nil {
				ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
				conn.Close(ctx)
				cancel()
			}
		}()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-hb.stop:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			if conn == nil || conn.IsClosed() {
				var err error
				if conn, err = s.b.connected(ctx); err != nil {
					conn = nil
					cancel()
					continue // the next tick tries again; steps renew too
				}
			}
			s.renewed.Store(time.Now().UnixNano())
			results, err := conn.PgConn().Exec(ctx, q).ReadAll()
			cancel()
			if err != nil {
				if conn.PgConn().TxStatus() != 'I' {
					rctx, rcancel := context.WithTimeout(context.Background(), unlockTimeout)
					_, _ = conn.PgConn().Exec(rctx, "ROLLBACK").ReadAll()
					rcancel()
				}
				continue // busy (a step holds the row) or a passing fault
			}
			for _, r := range results {
				if r.CommandTag.Update() && r.CommandTag.RowsAffected() == 0 {
					hb.lost.Store(true)
				}
			}
		}
	}()
}

// stopHeartbeat stops renewing the lease and waits for the renewer.
func (s *session) stopHeartbeat() {
	if s.hb != nil {
		close(s.hb.stop)
		s.hb.done.Wait()
	}
}
