package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// machineInfo describes where the numbers come from.
type machineInfo struct {
	cpu, kernel, osName    string
	server, settings, psql string
	modules                map[string]string
	loadStart, loadEnd     string
	elapsed                time.Duration
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func loadAvg() string {
	f := strings.Fields(readTrim("/proc/loadavg"))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func machine(ctx context.Context, r *runner, psql string) (machineInfo, error) {
	m := machineInfo{cpu: "?", kernel: readTrim("/proc/sys/kernel/osrelease"), loadStart: loadAvg(), modules: map[string]string{}}
	for line := range strings.SplitSeq(readTrim("/proc/cpuinfo"), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			m.cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
			break
		}
	}
	for line := range strings.SplitSeq(readTrim("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			m.osName = strings.Trim(v, `"`)
		}
	}
	if out, err := exec.Command(psql, "--version").Output(); err == nil {
		m.psql = strings.TrimSpace(string(out))
	}
	conn, err := pgx.Connect(ctx, r.direct("postgres"))
	if err != nil {
		return m, err
	}
	defer conn.Close(ctx)
	var fsync, syncCommit, fpw, method string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('full_page_writes'), current_setting('wal_sync_method')`).
		Scan(&m.server, &fsync, &syncCommit, &fpw, &method)
	if err != nil {
		return m, err
	}
	m.settings = fmt.Sprintf("fsync=%s, synchronous_commit=%s, full_page_writes=%s, wal_sync_method=%s", fsync, syncCommit, fpw, method)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			m.modules[d.Path] = d.Version
		}
	}
	return m, nil
}

// unit says how a workload's cells are printed.
var unit = map[string]string{w1: "%.2f", w2down: "%.2f", w3cold: "%.1f", w3warm: "%.0f", w4: "%.2f"}

var columns = []string{w1, w2down, w3cold, w3warm, w4}

// med returns the median of a cell's repetitions.
func (r *runner) med(row, wl string) (float64, bool) {
	xs, ok := r.times[key{row, wl}]
	if !ok || len(xs) == 0 {
		return 0, false
	}
	return median(xs), true
}

// over returns the median, over the repetitions, of a cell's value over
// base's in the same repetition.
func (r *runner) over(row, wl, base string) (float64, bool) {
	xs, bs := r.times[key{row, wl}], r.times[key{base, wl}]
	if len(xs) == 0 || len(xs) != len(bs) {
		return 0, false
	}
	q := make([]float64, len(xs))
	for i := range xs {
		if bs[i] <= 0 {
			return 0, false
		}
		q[i] = xs[i] / bs[i]
	}
	return median(q), true
}

// ratio is over the raw-pgx floor.
func (r *runner) ratio(row, wl string) (float64, bool) { return r.over(row, wl, rowFloor) }

func report(w io.Writer, cfg config, m machineInfo, r *runner) {
	mod := func(path string) string {
		if v, ok := m.modules[path]; ok {
			return v
		}
		return "?"
	}
	fmt.Fprintf(w, "Machine: %s, %d cores, %s, Linux %s; %s; PostgreSQL %s on a unix socket (%s); %s.\n",
		m.cpu, runtime.NumCPU(), m.osName, m.kernel, runtime.Version(), m.server, m.settings, m.psql)
	fmt.Fprintf(w, "Tools: golang-migrate %s (pgx/v5 driver, iofs source), goose %s (Provider, session locker), tern %s, waymark (this tree), pgx %s.\n",
		mod("github.com/golang-migrate/migrate/v4"), mod("github.com/pressly/goose/v3"), mod("github.com/jackc/tern/v2"), mod("github.com/jackc/pgx/v5"))
	fmt.Fprintf(w, "Workloads: W1 %d × CREATE TABLE; W2down back to 0; W3 no-op up at version %d, cold (%d processes, median) and warm (%d calls, median); W4 %d × %d-row INSERT.\n",
		cfg.steps, cfg.steps, cfg.coldRuns, cfg.warmCalls, cfg.w4n, cfg.rows)
	fmt.Fprintf(w, "%d repetitions, the tools taking turns within each workload, fresh databases each; median (median of the ratios to the raw-pgx floor in the same repetition). Load average %s at the start, %s at the end; %s in all.\n\n",
		cfg.reps, m.loadStart, m.loadEnd, m.elapsed.Round(time.Second))

	table(w, "| tool | W1 s | W2down s | W3 cold ms | W3warm µs | W4 s |", func(row, wl string) (string, bool) {
		v, ok := r.med(row, wl)
		if !ok {
			return "", false
		}
		cell := fmt.Sprintf(unit[wl], v)
		if q, ok := r.ratio(row, wl); ok {
			cell += fmt.Sprintf(" (%.2f×)", q)
		}
		return cell, true
	})

	fmt.Fprintln(w, "\nPer step (W1, W2down, W4), process (W3 cold) or call (W3warm): round trips · WAL flushes · server CPU µs · client CPU µs.")
	fmt.Fprintln(w, "Round trips count client turns, connecting and closing included; WAL flushes are pg_stat_wal.wal_sync; server CPU is the")
	fmt.Fprintln(w, "server processes' (10 ms ticks; W3warm: the tool's own sessions'), all three from an untimed pass through a counting proxy;")
	fmt.Fprintln(w, "client CPU is the median of the timed runs.")
	fmt.Fprintln(w)
	table(w, "| tool | W1 | W2down | W3 cold | W3warm | W4 |", func(row, wl string) (string, bool) {
		t, tok := r.counts[key{row, wl}]
		cpu, cok := r.cpu[key{row, wl}]
		if !tok && !cok {
			return "", false
		}
		f := []string{"?", "?", "?", "?"}
		if tok {
			f[0], f[1] = fmt.Sprintf("%.2f", t.roundTrips), fmt.Sprintf("%.2f", t.walSyncs)
			if wl == w3cold {
				f[0] = fmt.Sprintf("%.0f", t.roundTrips)
			}
			if t.serverCPU >= 0 {
				f[2] = fmt.Sprintf("%.0f", t.serverCPU)
			}
		}
		if cok {
			f[3] = fmt.Sprintf("%.0f", median(cpu))
		}
		return strings.Join(f, " · "), true
	})

	fmt.Fprintln(w, "\nTargets:")
	for _, line := range r.targets() {
		fmt.Fprintln(w, "- "+line)
	}
}

// table prints a Markdown table with a row per tool that has a cell and
// a column per workload; cell returns a cell's text, or false for "–".
func table(w io.Writer, header string, cell func(row, wl string) (string, bool)) {
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, row := range rows {
		cells := []string{row}
		measured := false
		for _, wl := range columns {
			text, ok := cell(row, wl)
			if !ok {
				text = "–"
			}
			measured = measured || ok
			cells = append(cells, text)
		}
		if measured {
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
	}
}

// targets checks waymark against the targets of issue 22.
func (r *runner) targets() []string {
	var out []string
	check := func(what string, got, limit float64, ok bool) {
		if !ok {
			out = append(out, what+": not measured")
			return
		}
		verdict := "met"
		if got > limit {
			verdict = fmt.Sprintf("MISSED by %.0f%%", (got/limit-1)*100)
		}
		out = append(out, fmt.Sprintf("%s: %.2f× (target ≤ %.2f×): %s", what, got, limit, verdict))
	}
	over := r.over

	q, ok := r.ratio(rowWaymark, w3warm)
	check("W3warm, waymark / floor's single SELECT", q, 1.5, ok)
	// The counts, so that a regression shows as a number that does not
	// move with the machine's load: round trips per call or step (the
	// run's constant spread over the steps), and the server's CPU time
	// against the floor's in the same counting pass.
	for _, c := range []struct {
		row, wl string
		trips   float64
	}{{rowWaymark, w3warm, 1}, {rowWaymark, w1, 1.02}, {rowWaymark, w2down, 1.02}, {rowSingle, w1, 1.02}, {rowSingle, w2down, 1.02}} {
		t, ok := r.counts[key{c.row, c.wl}]
		if !ok {
			continue
		}
		verdict := "met"
		if t.roundTrips > c.trips+0.005 { // as printed, to two places
			verdict = "MISSED"
		}
		line := fmt.Sprintf("%s, %s round trips per unit: %.2f (target ≤ %.2f): %s", c.wl, c.row, t.roundTrips, c.trips, verdict)
		if f, ok := r.counts[key{rowFloor, c.wl}]; ok && t.serverCPU >= 0 && f.serverCPU > 0 {
			line += fmt.Sprintf("; server CPU %.0f µs, %.2f× the floor's", t.serverCPU, t.serverCPU/f.serverCPU)
		}
		out = append(out, line)
	}
	for _, peer := range []string{rowMigrate, rowGoose, rowTern} {
		q, ok := over(rowWaymark, w3warm, peer)
		check("W3warm, waymark / "+peer, q, 1.0, ok)
	}
	q, ok = r.ratio(rowWaymark, w1)
	check("W1, waymark / floor", q, 1.1, ok)
	q, ok = r.ratio(rowWaymark, w2down)
	check("W2down, waymark / floor", q, 1.05, ok)
	for _, wl := range []string{w1, w2down} {
		q, ok = over(rowSingle, wl, rowPsql)
		check(wl+", waymark single transaction / psql -1", q, 1.2, ok)
	}
	q, ok = over(rowEmbed, w3cold, rowGoose)
	check("W3 cold, waymark (embed.FS) / goose", q, 1.0, ok)
	q, ok = over(rowWaymark, w3cold, rowGoose)
	check("W3 cold, waymark (disk) / goose", q, 1.3, ok)
	q, ok = r.ratio(rowWaymark, w4)
	check("W4, waymark / floor", q, 1.02, ok)
	return out
}
