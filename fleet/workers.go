package fleet

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
)

// DefaultParallel is how many targets run at once when Options.Parallel
// is 0.
const DefaultParallel = 4

// closeTimeout bounds closing a connection, which runs without the
// caller's cancellation.
const closeTimeout = 10 * time.Second

// dialer holds a worker's one connection of its own, for the targets
// given by connection string: consecutive targets on the same connection
// string share it.
type dialer struct {
	cfgs connConfigs
	conn *pgx.Conn
	key  string // the connection string of conn
}

// open returns the backend of t: its own, or one on the worker's
// connection to t.Conn, connecting (and closing the previous connection)
// when needed.
func (d *dialer) open(ctx context.Context, t Target) (backend.Backend, error) {
	if t.DB != nil {
		d.close() // an idle connection would count beyond the bound
		return t.DB, nil
	}
	if d.conn != nil && (d.key != t.Conn || d.conn.IsClosed()) {
		d.close()
	}
	if d.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, d.cfgs[t.Conn])
		if err != nil {
			return nil, err
		}
		d.conn, d.key = conn, t.Conn
	}
	return pgxbackend.New(d.conn, t.Backend), nil
}

// close closes the worker's connection, if it has one.
func (d *dialer) close() {
	if d.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	d.conn.Close(ctx)
	cancel()
	d.conn, d.key = nil, ""
}

// work is what a worker does for target i, on db (nil when opening it
// failed with openErr). It returns false when the target failed: the
// worker then closes its connection rather than reuse it.
type work func(ctx context.Context, i int, db backend.Backend, openErr error) bool

// each runs fn for the targets at the indexes idx, in that order, at most
// n at once. It starts no target once stop is set or ctx has ended, and
// returns when every started target is done.
func each(ctx context.Context, n int, targets []Target, cfgs connConfigs, idx []int, stop *atomic.Bool, fn work) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(n, len(idx)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &dialer{cfgs: cfgs}
			defer d.close()
			for i := range jobs {
				if stop.Load() || ctx.Err() != nil {
					continue // not started
				}
				db, err := d.open(ctx, targets[i])
				if !fn(ctx, i, db, err) || ctx.Err() != nil {
					d.close()
				}
			}
		}()
	}
	for _, i := range idx {
		if stop.Load() || ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}
