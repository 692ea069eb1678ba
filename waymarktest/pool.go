package waymarktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The warm pool: for every template, databases cloned from it before a
// test asks, so that a test waits for a rename rather than a copy. See
// "A database per test" in the package doc.
//
// A ready clone is a database named waymarktest_r_<16 hex digits of the
// template's hash>_<unix seconds>_<pid>_<n>, made with ALLOW_CONNECTIONS
// false so that nothing (autovacuum included) is connected to it when a
// test claims it. A test claims one by renaming it to a test database's
// name and allowing connections, in one statement batch: the rename
// succeeds for one claimer only, whichever process made the clone, so the
// test processes of a run share the clones on their server. Each process
// remembers the clones it made and tries those first; when it has none it
// lists the server's. One process at a time fills a template's pool (it
// holds an advisory lock while it does), up to the size and disk limits.
//
// On the throwaway cluster a process also claims ready clones ahead, into
// its stock (waymarktest_s_<pid>_<unix seconds>_<n>), and hands those to
// its tests without a round trip. The stock is not counted in the disk
// limit; it is at most stockMax databases per template and process, and
// what a process that ended left in it is dropped by the next process
// that fills a pool (sweepStock), but for the databases of failed tests,
// which the cleanup marks with keptComment.

// Environment variables that configure the warm pool.
const (
	// EnvPoolSize is the most ready clones kept for each template: a
	// whole number, 0 to turn the pool off. Default 16.
	EnvPoolSize = "WAYMARK_TEST_POOL"
	// EnvPoolMB bounds the disk space, in MiB, that the ready clones of
	// all templates on the server take together (not counting the few
	// each process claims ahead on the throwaway cluster). Default 512.
	EnvPoolMB = "WAYMARK_TEST_POOL_MB"
)

const (
	defaultPoolSize = 16
	defaultPoolMB   = 512
	// fillParallel is how many clones a filler makes at once.
	fillParallel = 2
	// readyPrefix starts the name of every ready clone.
	readyPrefix = "waymarktest_r_"
	// stockPrefix starts the name of every database a process claimed
	// ahead: waymarktest_s_<pid>_<unix seconds>_<n>.
	stockPrefix = "waymarktest_s_"
	// stockMax bounds the stock of a process, for each template.
	stockMax = 8
	// keptComment is the comment on a database of the stock that a
	// failed test kept, which sweepStock leaves alone.
	keptComment = "waymarktest kept"
)

// poolConfig is the warm pool's configuration, read from the
// environment.
type poolConfig struct {
	size     int
	maxBytes int64
}

// readPoolConfig reads EnvPoolSize and EnvPoolMB; a value that is not a
// whole number is an error naming the variable.
func readPoolConfig(getenv func(string) string) (poolConfig, error) {
	c := poolConfig{size: defaultPoolSize, maxBytes: defaultPoolMB << 20}
	if v := getenv(EnvPoolSize); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("waymarktest: %s=%q: want a whole number of databases (0 turns the pool off)", EnvPoolSize, v)
		}
		c.size = n
	}
	if v := getenv(EnvPoolMB); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return c, fmt.Errorf("waymarktest: %s=%q: want a whole number of MiB", EnvPoolMB, v)
		}
		c.maxBytes = n << 20
	}
	return c, nil
}

// warmPool holds the ready clones of one template.
type warmPool struct {
	s      *server
	cfg    poolConfig
	tpl    string // the template's name
	prefix string // of its ready clones' names
	wake   chan struct{}

	mu      sync.Mutex
	mine    []string // ready clones this process made, oldest first
	stock   []string // databases claimed ahead for this process's tests
	takes   int      // how many times this process asked for a clone
	filling bool     // the filler goroutine runs
}

// stockTarget is how many databases the process claims ahead: on the
// throwaway cluster, as many as it has asked for, up to stockMax and the
// pool's size; none on a server of the user's, where one left by a
// process that ended would stay until the sweep a day later. The caller
// holds p.mu.
func (p *warmPool) stockTarget() int {
	if !p.s.throwaway {
		return 0
	}
	return min(stockMax, p.takes, p.cfg.size)
}

// stockUp claims ready clones for this process until its stock is full,
// and returns how many it claimed.
func (p *warmPool) stockUp(ctx context.Context) (int, error) {
	claimed := 0
	for {
		p.mu.Lock()
		short := len(p.stock) < p.stockTarget()
		p.mu.Unlock()
		if !short {
			return claimed, nil
		}
		name := fmt.Sprintf("%s%d_%d_%d", stockPrefix, os.Getpid(), time.Now().Unix(), dbCounter.Add(1))
		ok, err := p.claimAny(ctx, name)
		if !ok || err != nil {
			return claimed, err
		}
		p.mu.Lock()
		p.stock = append(p.stock, name)
		p.mu.Unlock()
		claimed++
	}
}

// target is how many ready clones the pool keeps now: twice as many as
// the process has asked for, up to the size, so that a template a
// process clones once or twice does not cost it cfg.size clones.
func (p *warmPool) target() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return min(p.cfg.size, 2*p.takes)
}

// readyPrefixOf returns the prefix of the names of template tpl's ready
// clones.
func readyPrefixOf(tpl string) string {
	hash := strings.TrimPrefix(tpl, templatePrefix)
	return readyPrefix + hash[:min(16, len(hash))] + "_"
}

// warm returns the warm pool of template tpl, or nil when the pool is off.
func (s *server) warm(tpl string) *warmPool {
	if s.pool.size == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pools[tpl]
	if p == nil {
		p = newWarmPool(s, tpl, s.pool)
		s.pools[tpl] = p
	}
	return p
}

func newWarmPool(s *server, tpl string, cfg poolConfig) *warmPool {
	return &warmPool{s: s, cfg: cfg, tpl: tpl, prefix: readyPrefixOf(tpl), wake: make(chan struct{}, 1)}
}

// take returns a database for a test: one of the process's stock, else a
// ready clone it claims and renames to name. It returns "" when there is
// none (the caller clones the template itself); either way, it has the
// pool filled again in the background.
func (p *warmPool) take(ctx context.Context, name string) (string, error) {
	p.mu.Lock()
	p.takes++
	if !p.filling {
		p.filling = true
		go p.fill()
	}
	var stocked string
	if len(p.stock) > 0 {
		stocked, p.stock = p.stock[0], p.stock[1:]
	}
	p.mu.Unlock()
	defer p.poke()
	if stocked != "" {
		return stocked, nil
	}
	ok, err := p.claimAny(ctx, name)
	if !ok {
		return "", err
	}
	return name, nil
}

// claimAny claims one of the template's ready clones as database name:
// one this process made, else one another made. It returns false when
// there is none.
func (p *warmPool) claimAny(ctx context.Context, name string) (bool, error) {
	for {
		p.mu.Lock()
		var ready string
		if len(p.mine) > 0 {
			ready, p.mine = p.mine[0], p.mine[1:]
		}
		p.mu.Unlock()
		if ready == "" {
			break
		}
		if ok, err := p.claim(ctx, ready, name); ok || err != nil {
			return ok, err
		}
	}
	// None of ours: those other processes made.
	names, err := p.list(ctx)
	if err != nil {
		return false, err
	}
	for _, ready := range names {
		if ok, err := p.claim(ctx, ready, name); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// claim renames ready clone ready to name and lets it accept connections.
// It returns false when another process claimed it first.
func (p *warmPool) claim(ctx context.Context, ready, name string) (bool, error) {
	conn, err := p.s.admin.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("waymarktest: claim a ready database: %w", err)
	}
	defer conn.Release()
	to := pgx.Identifier{name}.Sanitize()
	sql := "ALTER DATABASE " + pgx.Identifier{ready}.Sanitize() + " RENAME TO " + to + ";\n" +
		"ALTER DATABASE " + to + " WITH ALLOW_CONNECTIONS true"
	_, err = conn.Conn().PgConn().Exec(ctx, sql).ReadAll()
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "3D000", "55006": // claimed by another process; being dropped
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("waymarktest: claim the ready database %s: %w", ready, err)
	}
	return true, nil
}

// list returns the names of the template's ready clones on the server.
func (p *warmPool) list(ctx context.Context) ([]string, error) {
	rows, err := p.s.admin.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname", likePrefix(p.prefix))
	if err != nil {
		return nil, fmt.Errorf("waymarktest: list the ready databases: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("waymarktest: list the ready databases: %w", err)
	}
	return names, nil
}

// poke wakes the filler.
func (p *warmPool) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// fill runs for the life of the process, or of the template: each time
// it is woken it tops the pool up.
func (p *warmPool) fill() {
	p.s.sweepStockOnce.Do(func() { p.s.sweepStock(context.Background()) })
	for range p.wake {
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		var err error
		for {
			// Top the shared pool up, then the stock from it, and the
			// pool again for what the stock took.
			if err = p.topUp(ctx); err != nil {
				break
			}
			var n int
			if n, err = p.stockUp(ctx); n == 0 || err != nil {
				break
			}
		}
		cancel()
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "3D000" && strings.Contains(pgErr.Message, p.tpl) {
			// The template is gone (dropped as too old by another
			// process): the next take, once it is built again, starts
			// a filler.
			p.mu.Lock()
			p.filling = false
			p.mu.Unlock()
			return
		}
	}
}

// topUp makes ready clones until the template has p.target() of them on
// the server, or the ready clones of all templates take cfg.maxBytes.
// Of several processes, one tops a template's pool up at a time; the
// others leave it to that one.
func (p *warmPool) topUp(ctx context.Context) error {
	conn, err := p.s.admin.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := lockKey("fill " + p.tpl)
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil || !got {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
	var one int64
	if err := conn.QueryRow(ctx, "SELECT pg_database_size($1)", p.tpl).Scan(&one); err != nil {
		return err
	}
	one = max(one, 1)
	for {
		have, bytes, err := p.count(ctx, conn)
		if err != nil {
			return err
		}
		want := min(p.target()-have, int((p.cfg.maxBytes-bytes)/one))
		if want <= 0 {
			return nil
		}
		errs := make(chan error, want)
		sem := make(chan struct{}, fillParallel)
		for range want {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				name := fmt.Sprintf("%s%d_%d_%d", p.prefix, time.Now().Unix(), os.Getpid(), dbCounter.Add(1))
				err := p.s.create(ctx, name, p.tpl, " ALLOW_CONNECTIONS false")
				if err == nil {
					p.mu.Lock()
					p.mine = append(p.mine, name)
					p.mu.Unlock()
				}
				errs <- err
			}()
		}
		for range want {
			if e := <-errs; e != nil && err == nil {
				err = e
			}
		}
		if err != nil {
			return err
		}
	}
}

// count counts the template's ready clones and sums the size of the
// ready clones of all templates.
func (p *warmPool) count(ctx context.Context, conn *pgxpool.Conn) (have int, bytes int64, err error) {
	return sizes(ctx, conn, readyPrefix, p.prefix)
}

// sizes sums the size of the databases whose names start with all, and
// counts those of them whose names start with mine. Other processes
// claim and drop ready clones all the while, so each is sized apart: a
// database dropped after the catalog was read (PostgreSQL 18 says
// "database with OID n does not exist", 42704, where earlier versions say
// 3D000) is left out, as is one this role may not connect to.
func sizes(ctx context.Context, conn *pgxpool.Conn, all, mine string) (have int, bytes int64, err error) {
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1", likePrefix(all))
	if err != nil {
		return 0, 0, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, 0, err
	}
	for _, name := range names {
		var size int64
		err := conn.QueryRow(ctx, "SELECT coalesce(pg_database_size($1), 0)", name).Scan(&size)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "3D000" || pgErr.Code == "42704" || pgErr.Code == "42501") {
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		bytes += size
		if strings.HasPrefix(name, mine) {
			have++
		}
	}
	return have, bytes, nil
}

// likePrefix returns the LIKE pattern of the names that start with
// prefix.
func likePrefix(prefix string) string {
	r := strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`)
	return r.Replace(prefix) + "%"
}

// sweepStock drops, on the throwaway cluster, the databases that
// processes of the run claimed ahead and did not use before they ended:
// those whose process is gone, but for the databases of failed tests.
func (s *server) sweepStock(ctx context.Context) {
	if !s.throwaway {
		return
	}
	rows, err := s.admin.Query(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '')
FROM pg_database WHERE datname LIKE $1`, likePrefix(stockPrefix))
	if err != nil {
		return
	}
	var name, comment string
	var gone []string
	_, err = pgx.ForEachRow(rows, []any{&name, &comment}, func() error {
		pid, _, _ := strings.Cut(strings.TrimPrefix(name, stockPrefix), "_")
		if n, err := strconv.Atoi(pid); err == nil && comment != keptComment && !processAlive(n) {
			gone = append(gone, name)
		}
		return nil
	})
	if err != nil {
		return
	}
	for _, name := range gone {
		s.dropDB(ctx, name)
	}
}
