package execute_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// wire counts, over every connection of a pool, the messages the client
// sends (each write is one flight to the server: a round trip) and the
// bytes it receives.
type wire struct {
	mu          sync.Mutex
	writes      int
	read, wrote int
}

func (w *wire) take() (writes, read int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	writes, read = w.writes, w.read
	w.writes, w.read, w.wrote = 0, 0, 0
	return writes, read
}

type countedConn struct {
	net.Conn
	w *wire
}

func (c countedConn) Write(b []byte) (int, error) {
	c.w.mu.Lock()
	c.w.writes++
	c.w.wrote += len(b)
	c.w.mu.Unlock()
	return c.Conn.Write(b)
}

func (c countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.w.mu.Lock()
	c.w.read += n
	c.w.mu.Unlock()
	return n, err
}

// countedPool opens a pool on a new database whose connections count
// their traffic in w.
func countedPool(t *testing.T, w *wire) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.ConnString(t))
	if err != nil {
		t.Fatal(err)
	}
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countedConn{c, w}, nil
	}
	cfg.MinConns = 2 // connect before the counting starts
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	return pool
}

func tinyMigrations(n int) map[string]string {
	files := map[string]string{}
	for v := 1; v <= n; v++ {
		files[fmt.Sprintf("v%03d_t%d.up.sql", v, v)] = fmt.Sprintf("CREATE TABLE t%d (id int);", v)
		files[fmt.Sprintf("v%03d_t%d.down.sql", v, v)] = fmt.Sprintf("DROP TABLE t%d;", v)
	}
	return files
}

// One round trip per transactional step, a constant for the lock, the
// state and the release; one round trip and one small row for a no-op.
func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	run := func(set *source.Set, target plan.Target) (writes, read int) {
		t.Helper()
		w := &wire{}
		pool := countedPool(t, w)
		db := pgxbackend.New(pool, nil)
		w.take()
		if _, err := execute.Migrate(ctx, db, set, target, nil); err != nil {
			t.Fatal(err)
		}
		return w.take()
	}
	small, large := mapSet(t, tinyMigrations(3)), mapSet(t, tinyMigrations(11))
	w3, _ := run(small, plan.Latest())
	w11, _ := run(large, plan.Latest())
	if w11-w3 != 8 {
		t.Errorf("8 more steps cost %d more round trips (%d for 3 steps, %d for 11), want 8", w11-w3, w3, w11)
	}
	t.Logf("round trips: %d for 3 steps, %d for 11", w3, w11)
	if w3 > 3+7 {
		t.Errorf("3 steps took %d round trips, want at most 3 and a constant of 7", w3)
	}

	// Down, and the no-op, on one database.
	w := &wire{}
	pool := countedPool(t, w)
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, large, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	w.take()
	res, err := execute.Migrate(ctx, db, large, plan.Latest(), nil)
	writes, read := w.take()
	if err != nil || !res.Plan.Empty() {
		t.Fatalf("no-op Migrate = %v, %v", res.Plan, err)
	}
	t.Logf("no-op: %d round trip, %d bytes read", writes, read)
	if writes != 1 || read > 600 {
		t.Errorf("a no-op Migrate took %d round trips and read %d bytes, want 1 and one small row (under 600 bytes)", writes, read)
	}
	// Once the table is found, the read is prepared: one more round trip
	// the first time on a connection, then one.
	for i := range 3 {
		res, err := execute.Migrate(ctx, db, large, plan.Latest(), nil)
		writes, read := w.take()
		if err != nil || !res.Plan.Empty() {
			t.Fatalf("no-op Migrate = %v, %v", res.Plan, err)
		}
		t.Logf("no-op %d: %d round trips, %d bytes read", i+2, writes, read)
		if writes > 2 || read > 600 || i == 2 && writes != 1 {
			t.Errorf("no-op Migrate %d took %d round trips and read %d bytes, want 1 (2 to prepare it on a connection) and one small row", i+2, writes, read)
		}
	}
	if _, err := execute.Migrate(ctx, db, large, plan.DownTo(8), nil); err != nil {
		t.Fatal(err)
	}
	down3, _ := w.take()
	if _, err := execute.Migrate(ctx, db, large, plan.DownTo(0), nil); err != nil {
		t.Fatal(err)
	}
	down8, _ := w.take()
	if down8-down3 != 5 {
		t.Errorf("5 more down steps cost %d more round trips (%d for 3, %d for 8), want 5", down8-down3, down3, down8)
	}
}
