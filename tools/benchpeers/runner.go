package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/countproxy"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/workload"
)

// The workloads, as the tables' columns name them.
const (
	w1     = "W1"
	w2down = "W2down"
	w3cold = "W3 cold"
	w3warm = "W3warm"
	w4     = "W4"
)

// key is a cell of the tables.
type key struct{ row, workload string }

// tally is what the counting pass measures for a cell, per unit (step,
// process or call).
type tally struct {
	roundTrips, walSyncs, conns float64
	serverCPU                   float64 // µs; negative when unknown
}

func (t tally) minus(u tally) tally {
	cpu := t.serverCPU - u.serverCPU
	if t.serverCPU < 0 || u.serverCPU < 0 {
		cpu = -1
	}
	return tally{t.roundTrips - u.roundTrips, t.walSyncs - u.walSyncs, t.conns - u.conns, cpu}
}

func (t tally) per(n int) tally {
	f := float64(n)
	cpu := t.serverCPU / f
	if t.serverCPU < 0 {
		cpu = -1
	}
	return tally{t.roundTrips / f, t.walSyncs / f, t.conns / f, cpu}
}

// runner runs the tools and keeps the measurements.
type runner struct {
	cfg        config
	files, bin string
	host       string // the server's socket directory
	port       uint16
	seq        int

	// One value per repetition, in order: wall time (s; ms for W3 cold,
	// µs for W3warm) and client CPU time per unit (µs).
	times, cpu map[key][]float64
	counts     map[key]tally

	proxy      *countproxy.Proxy // set for the counting pass
	stats      *pgx.Conn         // the counting pass's own connection, not through the proxy
	postmaster int               // the server's pid, 0 when unknown
}

func newRunner(c *pgcluster.Cluster, cfg config, files, bin string) (*runner, error) {
	pc, err := pgconn.ParseConfig(c.ConnString("postgres"))
	if err != nil {
		return nil, err
	}
	return &runner{cfg: cfg, files: files, bin: bin, host: pc.Host, port: pc.Port,
		times: map[key][]float64{}, cpu: map[key][]float64{}, counts: map[key]tally{}}, nil
}

func (r *runner) close() {
	if r.stats != nil {
		r.stats.Close(context.Background())
	}
	if r.proxy != nil {
		r.proxy.Close()
	}
}

// direct is the connection string of db on the server's own socket.
func (r *runner) direct(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", r.host, r.port, pgcluster.Superuser, db)
}

// conn is the connection string the tools use: through the proxy in the
// counting pass.
func (r *runner) conn(db string) string {
	if r.proxy != nil {
		return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", r.proxy.Dir(), r.port, pgcluster.Superuser, db)
	}
	return r.direct(db)
}

// startCounting starts the proxy and the statistics connection, turns
// autovacuum off and finds the server's pid (the parent of that
// connection's server process).
func (r *runner) startCounting(ctx context.Context) error {
	p, err := countproxy.Start(r.host, r.port)
	if err != nil {
		return err
	}
	r.proxy = p
	if r.stats, err = pgx.Connect(ctx, r.direct("postgres")); err != nil {
		return err
	}
	// Autovacuum, which analyzes the tables W1 made, would add its own
	// WAL flushes and CPU time to the next tool's: the counting pass runs
	// without it (the timed runs keep the server's defaults).
	for _, sql := range []string{"ALTER SYSTEM SET autovacuum = off", "SELECT pg_catalog.pg_reload_conf()"} {
		if _, err := r.stats.Exec(ctx, sql); err != nil {
			return err
		}
	}
	var backend int
	if err := r.stats.QueryRow(ctx, "SELECT pg_catalog.pg_backend_pid()").Scan(&backend); err != nil {
		return err
	}
	if _, _, ppid, err := procTimes(backend); err == nil {
		r.postmaster = ppid
	} else {
		fmt.Fprintf(os.Stderr, "peers: no server CPU times: %v\n", err)
	}
	return nil
}

// exec runs statements on a connection of its own to db.
func (r *runner) exec(ctx context.Context, db string, sqls ...string) error {
	conn, err := pgx.Connect(ctx, r.direct(db))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

func (r *runner) createDB(ctx context.Context) (string, error) {
	r.seq++
	name := fmt.Sprintf("peers_%d", r.seq)
	return name, r.exec(ctx, "postgres", "CREATE DATABASE "+name+" TEMPLATE template0")
}

func (r *runner) dropDB(ctx context.Context, name string) error {
	return r.exec(ctx, "postgres", "DROP DATABASE "+name+" WITH (FORCE)")
}

// expect fails unless query, a count, on db returns want.
func (r *runner) expect(ctx context.Context, db, what, query string, want int) error {
	conn, err := pgx.Connect(ctx, r.direct(db))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("%s: %d, want %d", what, n, want)
	}
	return nil
}

const (
	tablesQuery = `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname ~ '^t[0-9]+$'`
	rowsQuery = "SELECT count(*) FROM " + workload.W4Table
)

// pass runs every workload of the tools once, in phases, so that the
// tools take turns within each workload: W1 for each tool, then W3warm
// and W3 cold on the databases W1 left (in turns of 20 calls, and of one
// process), then W2down on them, then W4 for each tool on fresh
// databases. rep is the 0-based repetition (-1: the counting pass, which
// runs one tool at a time throughout).
func (r *runner) pass(ctx context.Context, tools []tool, rep int) error {
	dir := func(t tool, sub string) string { return r.files + "/" + t.layout + "/" + sub }
	dbs := make([]string, len(tools))
	for i, t := range tools {
		db, err := r.createDB(ctx)
		if err != nil {
			return err
		}
		dbs[i] = db
		conn := r.conn(db)
		if err := r.measure(ctx, key{t.row, w1}, rep, r.cfg.steps, func() error { return t.up(ctx, conn, dir(t, "w1")) }); err != nil {
			return fmt.Errorf("%s: W1: %w", t.row, err)
		}
		if err := r.expect(ctx, db, t.row+": W1: tables", tablesQuery, r.cfg.steps); err != nil {
			return err
		}
	}
	if err := r.warm(ctx, tools, dbs, rep, dir); err != nil {
		return err
	}
	if err := r.cold(ctx, tools, dbs, rep, dir); err != nil {
		return err
	}
	for i, t := range tools {
		conn := r.conn(dbs[i])
		if err := r.measure(ctx, key{t.row, w2down}, rep, r.cfg.steps, func() error { return t.down(ctx, conn, dir(t, "w1")) }); err != nil {
			return fmt.Errorf("%s: W2down: %w", t.row, err)
		}
		if err := r.expect(ctx, dbs[i], t.row+": W2down: tables", tablesQuery, 0); err != nil {
			return err
		}
		if err := r.dropDB(ctx, dbs[i]); err != nil {
			return err
		}
	}
	for _, t := range tools {
		db, err := r.createDB(ctx)
		if err != nil {
			return err
		}
		conn := r.conn(db)
		if err := r.measure(ctx, key{t.row, w4}, rep, r.cfg.w4n, func() error { return t.up(ctx, conn, dir(t, "w4")) }); err != nil {
			return fmt.Errorf("%s: W4: %w", t.row, err)
		}
		if err := r.expect(ctx, db, t.row+": W4: rows", rowsQuery, r.cfg.w4n*r.cfg.rows); err != nil {
			return err
		}
		if err := r.dropDB(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

// measure times f and its client CPU time per unit, or counts what it
// does per unit.
func (r *runner) measure(ctx context.Context, k key, rep, units int, f func() error) error {
	if r.proxy == nil {
		cpu := selfCPU()
		start := time.Now()
		if err := f(); err != nil {
			return err
		}
		d := time.Since(start)
		perUnit := float64((selfCPU() - cpu).Microseconds()) / float64(units)
		r.times[k] = append(r.times[k], d.Seconds())
		r.cpu[k] = append(r.cpu[k], perUnit)
		r.log(k, rep, "%.3f s, client CPU %.0f µs per step", d.Seconds(), perUnit)
		return nil
	}
	before, err := r.snapshot(ctx, true)
	if err != nil {
		return err
	}
	if err := f(); err != nil {
		return err
	}
	after, err := r.snapshot(ctx, true)
	if err != nil {
		return err
	}
	r.store(k, after.minus(before).per(units))
	return nil
}

func (r *runner) store(k key, t tally) {
	r.counts[k] = t
	r.log(k, -1, "%.2f round trips, %.2f WAL flushes, %.0f µs server CPU, %.3f connections per unit",
		t.roundTrips, t.walSyncs, t.serverCPU, t.conns)
}

func (r *runner) log(k key, rep int, format string, args ...any) {
	what := "count"
	if rep >= 0 {
		what = fmt.Sprintf("rep %d/%d", rep+1, r.cfg.reps)
	}
	fmt.Fprintf(os.Stderr, "%-8s %-28s %-8s %s\n", what, k.row, k.workload, fmt.Sprintf(format, args...))
}

// snapshot reads the proxy's counts, the server's WAL flushes and its
// CPU time. With wait, it first waits until no other client session is
// left, so that their statistics have reached pg_stat_wal (a session
// reports its own when it ends, the WAL writer within its 200 ms cycle).
func (r *runner) snapshot(ctx context.Context, wait bool) (tally, error) {
	if wait {
		deadline := time.Now().Add(time.Minute)
		for {
			var n int
			err := r.stats.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_stat_activity
				WHERE backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid()`).Scan(&n)
			if err != nil {
				return tally{}, err
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				return tally{}, fmt.Errorf("%d sessions still open after a minute", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(400 * time.Millisecond)
	}
	var syncs int64
	if err := r.stats.QueryRow(ctx, "SELECT wal_sync FROM pg_catalog.pg_stat_wal").Scan(&syncs); err != nil {
		return tally{}, err
	}
	cpu := -1.0
	if r.postmaster != 0 {
		if d, err := serverCPU(r.postmaster); err == nil {
			cpu = float64(d.Microseconds())
		}
	}
	c := r.proxy.Counts()
	return tally{roundTrips: float64(c.RoundTrips), walSyncs: float64(syncs), conns: float64(c.Conns), serverCPU: cpu}, nil
}

// backendCPU returns the CPU time used so far by the sessions on db.
func (r *runner) backendCPU(ctx context.Context, db string) (time.Duration, error) {
	rows, err := r.stats.Query(ctx, `SELECT pid FROM pg_catalog.pg_stat_activity
		WHERE backend_type = 'client backend' AND datname = $1`, db)
	if err != nil {
		return 0, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, pid := range pids {
		d, err := runTime(pid)
		if err != nil {
			return 0, err
		}
		total += d
	}
	return total, nil
}

// warmBlock is how many calls a tool makes in a row in W3warm before the
// next tool's turn: enough that a call finds the caches as the previous
// call of its own left them, few enough that the tools share the
// machine's ups and downs.
const warmBlock = 20

// warm opens each tool that has a warm no-op on the database W1 left,
// makes one untimed call on each, then times cfg.warmCalls calls of each,
// the tools taking turns every warmBlock calls: the median, in µs, and
// the client CPU time per call. In the counting pass, one tool at a time.
func (r *runner) warm(ctx context.Context, tools []tool, dbs []string, rep int, dir func(tool, string) string) error {
	type opened struct {
		row  string
		w    warm
		d    []float64
		cpu  time.Duration
		done bool
	}
	var open []*opened
	defer func() {
		for _, o := range open {
			if !o.done {
				o.w.Close()
			}
		}
	}()
	for i, t := range tools {
		if t.open == nil {
			continue
		}
		w, err := t.open(ctx, r.conn(dbs[i]), dir(t, "w1"))
		if err != nil {
			return fmt.Errorf("%s: W3warm: %w", t.row, err)
		}
		o := &opened{row: t.row, w: w}
		open = append(open, o)
		if err := w.Check(ctx); err != nil {
			return fmt.Errorf("%s: W3warm: %w", t.row, err)
		}
		if r.proxy == nil {
			continue
		}
		before, err := r.snapshot(ctx, false)
		if err != nil {
			return err
		}
		cpu, cpuErr := r.backendCPU(ctx, dbs[i])
		for range r.cfg.warmCalls {
			if err := w.Check(ctx); err != nil {
				return fmt.Errorf("%s: W3warm: %w", t.row, err)
			}
		}
		c := r.proxy.Counts() // the calls' round trips, without the close's
		if cpuErr == nil {
			var end time.Duration
			if end, cpuErr = r.backendCPU(ctx, dbs[i]); cpuErr == nil {
				cpu = end - cpu
			}
		}
		w.Close()
		o.done = true
		after, err := r.snapshot(ctx, true)
		if err != nil {
			return err
		}
		after.roundTrips, after.conns = float64(c.RoundTrips), float64(c.Conns)
		// The server CPU of the calls alone: their sessions' own, to the
		// nanosecond.
		after.serverCPU = before.serverCPU + float64(cpu.Microseconds())
		if cpuErr != nil {
			after.serverCPU = -1
		}
		r.store(key{t.row, w3warm}, after.minus(before).per(r.cfg.warmCalls))
	}
	if r.proxy != nil {
		return nil
	}
	for len(open) > 0 && len(open[0].d) < r.cfg.warmCalls {
		for _, o := range open {
			for range min(warmBlock, r.cfg.warmCalls-len(o.d)) {
				cpu := selfCPU()
				start := time.Now()
				if err := o.w.Check(ctx); err != nil {
					return fmt.Errorf("%s: W3warm: %w", o.row, err)
				}
				o.d = append(o.d, float64(time.Since(start).Nanoseconds())/1e3)
				o.cpu += selfCPU() - cpu
			}
		}
	}
	for _, o := range open {
		k := key{o.row, w3warm}
		m := median(o.d)
		perCall := float64(o.cpu.Nanoseconds()) / 1e3 / float64(len(o.d))
		r.times[k] = append(r.times[k], m)
		r.cpu[k] = append(r.cpu[k], perCall)
		r.log(k, rep, "%.0f µs (median of %d calls; %s), client CPU %.0f µs per call", m, len(o.d), spread(o.d, "%.0f"), perCall)
	}
	return nil
}

// cold runs each cold program cfg.coldRuns times on the database W1 left,
// the programs taking turns process by process: the median, in ms, from
// exec to exit, and the processes' CPU time. In the counting pass, one
// program at a time.
func (r *runner) cold(ctx context.Context, tools []tool, dbs []string, rep int, dir func(tool, string) string) error {
	type prog struct {
		row  string
		argv []string
		d    []float64
		cpu  []float64
	}
	var progs []*prog
	for i, t := range tools {
		for _, c := range t.cold {
			progs = append(progs, &prog{row: c.row, argv: c.argv(r.bin, r.conn(dbs[i]), dir(t, "w1"))})
		}
	}
	one := func(p *prog) error {
		cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil {
			return fmt.Errorf("%s: W3 cold: %s: %w\n%s", p.row, p.argv[0], err, out.Bytes())
		}
		p.d = append(p.d, float64(d.Microseconds())/1e3)
		p.cpu = append(p.cpu, float64((cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Microseconds()))
		return nil
	}
	if r.proxy != nil {
		for _, p := range progs {
			before, err := r.snapshot(ctx, true)
			if err != nil {
				return err
			}
			for range r.cfg.coldRuns {
				if err := one(p); err != nil {
					return err
				}
			}
			after, err := r.snapshot(ctx, true)
			if err != nil {
				return err
			}
			r.store(key{p.row, w3cold}, after.minus(before).per(r.cfg.coldRuns))
		}
		return nil
	}
	for range r.cfg.coldRuns {
		for _, p := range progs {
			if err := one(p); err != nil {
				return err
			}
		}
	}
	for _, p := range progs {
		k := key{p.row, w3cold}
		m, cpu := median(p.d), median(p.cpu)
		r.times[k] = append(r.times[k], m)
		r.cpu[k] = append(r.cpu[k], cpu)
		r.log(k, rep, "%.1f ms (median of %d processes; %s), CPU %.0f µs per process", m, len(p.d), spread(p.d, "%.1f"), cpu)
	}
	return nil
}

// median returns the median of xs (the mean of the middle two for an
// even count), or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// spread describes the range of xs: its minimum and maximum.
func spread(xs []float64, format string) string {
	return fmt.Sprintf("min "+format+", max "+format, slices.Min(xs), slices.Max(xs))
}
