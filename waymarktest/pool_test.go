package waymarktest

import (
	"context"
	"fmt"
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

// waitReady waits until template tpl has n ready clones.
func waitReady(t testing.TB, s *server, tpl string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		names := readyOf(t, s, tpl)
		if len(names) == n {
			return names
		}
		if time.Now().After(deadline) {
			t.Fatalf("template %s has %d ready clones after 30 s; want %d", tpl, len(names), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWarmPool asks ConnString for databases of a set: the first is
// cloned while the test waits and starts the pool, which fills to twice
// the number of requests and no further; the next tests get ready
// clones, each a database of its own at the set's version, renamed so
// that no ready clone is handed out twice, and the pool fills again
// behind them, to twice the requests so far.
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
	ConnString(t, set, nil)
	ready := waitReady(t, s, tp.name, 2)
	time.Sleep(100 * time.Millisecond)
	if got := readyOf(t, s, tp.name); len(got) != 2 {
		t.Fatalf("after one request the pool has %v; want 2", got)
	}

	var mu sync.Mutex
	var names []string
	t.Run("group", func(t *testing.T) {
		for i := range 2 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				conn, err := pgx.Connect(ctx, ConnString(t, set, nil))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				name := conn.Config().Database
				if _, err := conn.Exec(ctx, "INSERT INTO a VALUES (1)"); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				names = append(names, name)
				mu.Unlock()
			})
		}
	})
	slices.Sort(names)
	if n := len(slices.Compact(slices.Clone(names))); n != 2 || strings.HasPrefix(names[0], readyPrefix) {
		t.Errorf("databases %v: want 2 different ones, named as test databases", names)
	}
	for _, r := range ready {
		if dbExists(t, r) {
			t.Errorf("ready clone %s is still there after two tests took one each", r)
		}
	}
	// Filled again, to twice the three requests, with new databases.
	again := waitReady(t, s, tp.name, 6)
	for _, r := range again {
		if slices.Contains(ready, r) {
			t.Errorf("ready clone %s handed out twice", r)
		}
	}
}

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
			ok, err := other.take(ctx, targets[i])
			if err != nil {
				t.Error(err)
			}
			got[i] = ok
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
	ok, err := maker.take(ctx, fmt.Sprintf("waymarktest_%d_%d_%d", time.Now().Unix(), 0, dbCounter.Add(1)))
	if err != nil || ok {
		t.Errorf("the maker took a clone another pool claimed: %v, %v", ok, err)
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
