package waymarktest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/source"
)

// uniqueSet returns a set no other test uses, so that its template and
// warm pool are the test's own.
func uniqueSet(t testing.TB) *source.Set {
	return testsets.Map(t, map[string]string{
		"v1_a.up.sql": fmt.Sprintf("-- %s %d\nCREATE TABLE a (id int);", t.Name(), time.Now().UnixNano()),
	})
}

// readyOf lists the ready clones of template tpl on the server.
func readyOf(t testing.TB, s *server, tpl string) []string {
	t.Helper()
	names, err := (&warmPool{s: s, prefix: readyPrefixOf(tpl)}).list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// stockOf returns how many databases pool p holds claimed ahead.
func stockOf(p *warmPool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.stock)
}

// waitPool waits until template tpl has n ready clones and, on the
// throwaway cluster, its process stock stock databases.
func waitPool(t testing.TB, s *server, tpl string, n, stock int) []string {
	t.Helper()
	if !s.throwaway {
		stock = 0
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		names := readyOf(t, s, tpl)
		got := stockOf(s.warm(tpl))
		if len(names) == n && got == stock {
			return names
		}
		if time.Now().After(deadline) {
			t.Fatalf("template %s has %d ready clones and %d claimed ahead after 30 s; want %d and %d", tpl, len(names), got, n, stock)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWarmPool asks ConnString for databases of a set: the first is
// cloned while the test waits and starts the pool, which fills to twice
// the number of requests, and (on the throwaway cluster) claims as many
// as there were requests ahead for the process; the next tests get those
// or ready clones, each a database of its own at the set's version, and
// the pool fills again behind them. No database is handed out twice.
func TestWarmPool(t *testing.T) {
	t.Parallel()
	s := getServer(t)
	if s.pool.size < 6 {
		t.Skipf("%s=%d: the test needs a pool of 6", EnvPoolSize, s.pool.size)
	}
	set := uniqueSet(t)
	ctx := t.Context()
	tp, err := s.template(ctx, set, 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	first := currentDatabase(t, ConnString(t, set, nil))
	ready := waitPool(t, s, tp.name, 2, 1)
	time.Sleep(100 * time.Millisecond)
	if got := readyOf(t, s, tp.name); len(got) != 2 {
		t.Fatalf("after one request the pool has %v; want 2", got)
	}
	p := s.warm(tp.name)
	p.mu.Lock()
	stock := slices.Clone(p.stock)
	p.mu.Unlock()

	var mu sync.Mutex
	names := []string{first}
	t.Run("group", func(t *testing.T) {
		for i := range 2 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				conn, err := pgx.Connect(ctx, ConnString(t, set, nil))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				if _, err := conn.Exec(ctx, "INSERT INTO a VALUES (1)"); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				names = append(names, conn.Config().Database)
				mu.Unlock()
			})
		}
	})
	// Filled again: twice the three requests ready, three claimed ahead.
	again := waitPool(t, s, tp.name, 6, 3)
	p.mu.Lock()
	again = append(again, p.stock...)
	p.mu.Unlock()
	for _, name := range names {
		if strings.HasPrefix(name, readyPrefix) || slices.Contains(ready, name) {
			t.Errorf("a test got %s, a ready clone that was not claimed", name)
		}
		if slices.Contains(again, name) {
			t.Errorf("database %s, handed out, is in the pool again", name)
		}
	}
	if slices.Sort(names); len(slices.Compact(slices.Clone(names))) != 3 {
		t.Errorf("databases %v: want 3 different ones", names)
	}
	for _, name := range stock {
		if !slices.Contains(names, name) {
			t.Errorf("database %s, claimed ahead, was not handed out first: %v", name, names)
		}
	}
}

// TestSweepStock drops, on the throwaway cluster, the databases that a
// process that ended claimed ahead, but not those of failed tests (which
// the cleanup marks) nor those of a live process.
func TestSweepStock(t *testing.T) {
	t.Parallel()
	s := getServer(t)
	if !s.throwaway {
		t.Skip("a process claims databases ahead on the throwaway cluster only")
	}
	ctx := t.Context()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	name := func(pid int) string {
		return fmt.Sprintf("%s%d_%d_%d", stockPrefix, pid, time.Now().Unix(), dbCounter.Add(1))
	}
	unused, kept, live := name(dead), name(dead), name(os.Getpid())
	for _, db := range []string{unused, kept, live} {
		if err := s.createDB(ctx, db, "template0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.dropDB(context.Background(), db) })
	}
	s.cleanup(failedTB{t}, kept)
	s.sweepStock(ctx)
	for db, want := range map[string]bool{unused: false, kept: true, live: true} {
		if got := dbExists(t, db); got != want {
			t.Errorf("after the sweep, database %s exists: %v; want %v", db, got, want)
		}
	}
}

// failedTB is a test that has failed, whose logs go nowhere.
type failedTB struct{ testing.TB }

func (failedTB) Failed() bool        { return true }
func (failedTB) Logf(string, ...any) {}

// TestWarmPoolShared makes ready clones with one pool and claims them
// with another that did not make them, as a second test process does;
// two claimers of one ready clone get it once.
func TestWarmPoolShared(t *testing.T) {
	t.Parallel()
	s := getServer(t)
	set := uniqueSet(t)
	ctx := t.Context()
	tp, err := s.template(ctx, set, 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	maker := newWarmPool(s, tp.name, poolConfig{size: 2, maxBytes: 1 << 40})
	maker.takes = 1
	if err := maker.topUp(ctx); err != nil {
		t.Fatal(err)
	}
	ready := readyOf(t, s, tp.name)
	if len(ready) != 2 {
		t.Fatalf("ready clones %v; want 2", ready)
	}
	var wg sync.WaitGroup
	got := make([]bool, 3)
	targets := make([]string, 3)
	for i := range got {
		targets[i] = fmt.Sprintf("waymarktest_%d_%d_%d", time.Now().Unix(), 0, dbCounter.Add(1))
		t.Cleanup(func() { s.dropDB(context.Background(), targets[i]) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			other := newWarmPool(s, tp.name, poolConfig{}) // knows no clone; never fills
			other.filling = true
			name, err := other.take(ctx, targets[i])
			if err != nil {
				t.Error(err)
			}
			got[i] = name == targets[i]
		}()
	}
	wg.Wait()
	var n int
	for i, ok := range got {
		if ok {
			n++
			if !dbExists(t, targets[i]) {
				t.Errorf("claimed %s, which does not exist", targets[i])
			}
		}
	}
	if n != 2 {
		t.Errorf("%d of 3 claims of 2 ready clones succeeded: %v", n, got)
	}
	// The maker's own memory of them is stale: it finds none.
	maker.filling = true // no filler
	name, err := maker.take(ctx, fmt.Sprintf("waymarktest_%d_%d_%d", time.Now().Unix(), 0, dbCounter.Add(1)))
	if err != nil || name != "" {
		t.Errorf("the maker took a clone another pool claimed: %q, %v", name, err)
	}
}

// TestWarmPoolBounds fills pools with limits: no more ready clones than
// the size, none when the disk limit leaves no room for one.
func TestWarmPoolBounds(t *testing.T) {
	t.Parallel()
	s := getServer(t)
	ctx := t.Context()
	for _, tt := range []struct {
		name string
		cfg  poolConfig
		want int
	}{
		{"size", poolConfig{size: 3, maxBytes: 1 << 40}, 3},
		{"disk", poolConfig{size: 3, maxBytes: 0}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := s.template(ctx, uniqueSet(t), 1, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			p := newWarmPool(s, tp.name, tt.cfg)
			p.takes = 100
			for range 2 {
				if err := p.topUp(ctx); err != nil {
					t.Fatal(err)
				}
			}
			got := readyOf(t, s, tp.name)
			if len(got) != tt.want {
				t.Errorf("ready clones %v; want %d", got, tt.want)
			}
			for _, r := range got {
				s.dropDB(context.Background(), r)
			}
		})
	}
}

// TestReadPoolConfig reads the pool's environment variables, and names
// the variable of a bad value.
func TestReadPoolConfig(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    poolConfig
		wantErr string
	}{
		{nil, poolConfig{size: 16, maxBytes: 512 << 20}, ""},
		{map[string]string{EnvPoolSize: "0"}, poolConfig{size: 0, maxBytes: 512 << 20}, ""},
		{map[string]string{EnvPoolSize: "8", EnvPoolMB: "64"}, poolConfig{size: 8, maxBytes: 64 << 20}, ""},
		{map[string]string{EnvPoolSize: "many"}, poolConfig{}, `waymarktest: WAYMARK_TEST_POOL="many": want a whole number of databases (0 turns the pool off)`},
		{map[string]string{EnvPoolMB: "-1"}, poolConfig{}, `waymarktest: WAYMARK_TEST_POOL_MB="-1": want a whole number of MiB`},
	}
	for _, tt := range tests {
		got, err := readPoolConfig(func(k string) string { return tt.env[k] })
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%v: err = %v; want %s", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tt.env, err)
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(poolConfig{})); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tt.env, diff)
		}
	}
}

// TestSizesWhileDatabasesAreDropped sums the sizes of databases, as the
// pool does its ready clones, while other sessions drop and make them
// again: a database dropped between the catalog read and its size is no
// error. Twenty stand at any time, so that sizing them takes long enough
// for drops to land in it; their prefix is the test's own, so that the
// pools of other tests do not count them against their disk limit.
func TestSizesWhileDatabasesAreDropped(t *testing.T) {
	t.Parallel()
	s := getServer(t)
	ctx := t.Context()
	prefix := fmt.Sprintf("waymarktest_churn_%d_%d_", os.Getpid(), dbCounter.Add(1))
	const standing, workers = 20, 2
	for i := range standing {
		name := fmt.Sprintf("%s%d", prefix, i)
		t.Cleanup(func() { s.dropDB(context.Background(), name) })
		if err := s.create(ctx, name, "template0", ""); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker drops and makes again its own share of the
			// standing databases, in turn.
			for i := w; ; i += workers {
				select {
				case <-done:
					return
				default:
				}
				name := fmt.Sprintf("%s%d", prefix, i%standing)
				if err := s.dropDB(context.Background(), name); err != nil {
					t.Error(err)
					return
				}
				if err := s.create(context.Background(), name, "template0", ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	conn, err := s.admin.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var calls int
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		calls++
		have, bytes, err := sizes(ctx, conn, prefix, prefix)
		if err != nil {
			t.Errorf("count %d: %v", calls, err)
			break
		}
		// Those dropped while the others were sized are left out: each
		// worker may drop several meanwhile.
		if have < standing/2 || have > standing || bytes <= 0 {
			t.Errorf("count %d: %d databases of %d bytes; want %d to %d", calls, have, bytes, standing/2, standing)
			break
		}
	}
	close(done)
	wg.Wait()
}
