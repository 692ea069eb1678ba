// Command peers measures waymark side by side with golang-migrate, goose
// and tern, a raw-pgx floor and `psql -1`, on a throwaway PostgreSQL with
// its default, durable settings. Run it with `make bench-peers` from the
// repository's root, or `go run .` in this directory; `go run . -h` lists
// the flags. It takes several minutes.
//
// # Workloads
//
//   - W1: 1000 migrations, each a CREATE TABLE, applied from an empty
//     database.
//   - W2down: from there, every down script, to version 0.
//   - W3 cold: on that database at version 1000, a no-op up in a process
//     of its own (connect, load the files, check, close), timed from exec
//     to exit; for waymark also with the set compiled in (embed.FS). The
//     floor's process reads no file: it is given the latest version.
//   - W3warm: the same no-op on an open pool and a loaded set, the call
//     alone: what every replica does at boot.
//   - W4: 100 migrations each inserting 10,000 rows (one multi-row INSERT
//     of literal values, about 300 kB of SQL), on a fresh database.
//
// Every tool reads its own file layout from disk and keeps its own history
// table. The floors: a raw-pgx loop sending `BEGIN; <script>; INSERT
// <version>; COMMIT` as one query per migration (one round trip, one
// durable commit), and `psql -1 -f` of all the scripts in one file (one
// transaction, no bookkeeping).
//
// # Method
//
// Each repetition runs the workloads in phases, and within each phase the
// tools take turns, in an order rotated every repetition, so that they
// share the machine's ups and downs: W1 for each tool on a fresh database
// (CREATE DATABASE ... TEMPLATE template0); W3warm on those databases, in
// turns of 20 calls; W3 cold, in turns of one process; W2down; then W4
// for each tool on a fresh database. The tables give the median of the
// repetitions and, in parentheses, the median of its ratios to the raw-pgx
// floor of the same repetition.
//
// A last pass, untimed and one tool at a time, sends every tool through a
// unix-socket proxy that counts round trips (see internal/countproxy), and
// reads before and after each workload, once the tool's sessions have
// ended, pg_stat_wal.wal_sync (WAL flushes) and the server processes' CPU
// time from /proc (for W3warm, that of the tool's own sessions). That pass
// turns autovacuum off, whose work would be counted against the next tool.
// Client CPU time comes from the timed runs: getrusage for the tools that
// run in this process, the child's for psql and the cold programs.
//
// The cold programs (cold/...) are built at the start, one binary per
// tool, so that none pays for another's packages; cold/waymarkembed embeds
// the W1 set, which the program first writes to cold/waymarkembed/migrations.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/waymarktool"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/workload"
)

// config is the command line.
type config struct {
	reps      int
	steps     int
	w4n, rows int
	warmCalls int
	coldRuns  int
	psql      string
	goCmd     string
	only      string
	noCount   bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.reps, "reps", 3, "timed repetitions")
	flag.IntVar(&cfg.steps, "steps", 1000, "W1: number of CREATE TABLE migrations")
	flag.IntVar(&cfg.w4n, "w4", 100, "W4: number of insert migrations")
	flag.IntVar(&cfg.rows, "rows", 10000, "W4: rows per insert migration")
	flag.IntVar(&cfg.warmCalls, "warm", 200, "W3warm: timed calls per measurement (median)")
	flag.IntVar(&cfg.coldRuns, "cold", 10, "W3 cold: processes per measurement (median)")
	flag.StringVar(&cfg.psql, "psql", "psql", "the psql program")
	flag.StringVar(&cfg.goCmd, "go", "go", "the go command, to build the cold programs")
	flag.StringVar(&cfg.only, "only", "", "rows to run (default all), separated by commas, or by semicolons to name a row with a comma: 'waymark,raw-pgx floor', 'waymark, single transaction;psql -1'")
	flag.BoolVar(&cfg.noCount, "nocount", false, "skip the counting pass")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

const embedDir = "cold/waymarkembed/migrations"

func run(cfg config) error {
	if b, err := os.ReadFile("go.mod"); err != nil || !strings.Contains(string(b), "module github.com/waymarkdb/waymark/tools/benchpeers\n") {
		return errors.New("run me in tools/benchpeers of the waymark repository (make bench-peers does)")
	}
	if cfg.reps < 1 || cfg.steps < 1 || cfg.w4n < 1 || cfg.rows < 1 || cfg.warmCalls < 1 || cfg.coldRuns < 1 {
		return errors.New("-reps, -steps, -w4, -rows, -warm and -cold must be at least 1")
	}
	psql, err := exec.LookPath(cfg.psql)
	if err != nil {
		return fmt.Errorf("psql: %w (install the PostgreSQL client: apt-get install postgresql-client)", err)
	}
	ctx := context.Background()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

	tmp, err := os.MkdirTemp("", "peers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	w1 := workload.Tables(cfg.steps)
	files := filepath.Join(tmp, "files")
	if err := writeLayouts(files, w1, workload.Inserts(cfg.w4n, cfg.rows)); err != nil {
		return err
	}
	if err := os.RemoveAll(embedDir); err != nil {
		return err
	}
	if err := workload.Write(embedDir, waymarktool.Layout(w1)); err != nil {
		return err
	}
	bin := filepath.Join(tmp, "bin")
	logf("building the cold programs")
	build := exec.Command(cfg.goCmd, "build", "-tags", "peersembed", "-o", bin+string(filepath.Separator), "./cold/...")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cold/...: %w\n%s", err, out)
	}

	cluster, err := pgcluster.Start(ctx, &pgcluster.Options{Durable: true, Logf: logf})
	if err != nil {
		return err
	}
	defer cluster.Stop()

	all := tools(psql, cfg.steps)
	if cfg.only != "" {
		keep := map[string]bool{}
		sep := ","
		if strings.Contains(cfg.only, ";") {
			sep = ";"
		}
		for name := range strings.SplitSeq(cfg.only, sep) {
			keep[strings.TrimSpace(name)] = true
		}
		var some []tool
		for _, t := range all {
			if keep[t.row] {
				some = append(some, t)
			}
		}
		all = some
		if len(all) == 0 {
			return fmt.Errorf("-only %q names no tool; the tools are %s", cfg.only, strings.Join(rows, ", "))
		}
	}
	r, err := newRunner(cluster, cfg, files, bin)
	if err != nil {
		return err
	}
	defer r.close()
	info, err := machine(ctx, r, psql)
	if err != nil {
		return err
	}
	begin := time.Now()
	for rep := range cfg.reps {
		order := append(all[rep%len(all):len(all):len(all)], all[:rep%len(all)]...)
		if err := r.pass(ctx, order, rep); err != nil {
			return fmt.Errorf("repetition %d: %w", rep+1, err)
		}
	}
	if !cfg.noCount {
		if err := r.startCounting(ctx); err != nil {
			return err
		}
		if err := r.pass(ctx, all, -1); err != nil {
			return fmt.Errorf("counting pass: %w", err)
		}
	}
	info.elapsed = time.Since(begin)
	info.loadEnd = loadAvg()
	report(os.Stdout, cfg, info, r)
	return nil
}
