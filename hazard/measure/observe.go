package measure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/source"
)

// pollEvery is how often the watch reads the statement's locks.
const pollEvery = time.Millisecond

// observed runs statement number n on its own, outside a transaction
// block, while two other sessions watch its locks (see the package doc).
func (m *measurer) observed(ctx context.Context, s source.Statement, n int) (Statement, error) {
	st := Statement{Pos: s.Pos, SQL: s.SQL, Observed: true}
	before, err := m.read(ctx, "")
	if err != nil {
		return st, err
	}
	m.prev = before
	if err := m.connectWatchers(ctx); err != nil {
		return st, err
	}
	var tables []string
	for _, r := range before.rels {
		if r.kind == "r" || r.kind == "p" {
			tables = append(tables, pgx.Identifier{r.schema, r.name}.Sanitize())
		}
	}
	slices.Sort(tables)
	w := &watch{conns: m.watchers, pid: m.conn.PgConn().PID(), tables: tables, seen: map[lockKey]bool{}}
	if err := w.hold(ctx, 0); err != nil {
		m.close()
		return st, m.fail(ErrMeasure, s.Pos, "", fmt.Errorf("watch: %w", err))
	}
	if err := w.holdStrong(ctx); err != nil {
		m.close()
		return st, m.fail(ErrMeasure, s.Pos, "", fmt.Errorf("watch: %w", err))
	}

	type outcome struct {
		err error
		dur time.Duration
	}
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		_, err := m.conn.PgConn().Exec(ctx, s.SQL).ReadAll()
		done <- outcome{err, time.Since(start)}
	}()
	var res outcome
	watchErr := w.watch(ctx, func() bool {
		select {
		case res = <-done:
			return true
		default:
			return false
		}
	})
	if watchErr == nil {
		watchErr = w.releaseAll(ctx)
	}
	if watchErr != nil {
		// Never leave the statement waiting for a broken watch: closing
		// the sessions ends their transactions.
		m.close()
		res = <-done
	}
	st.Duration = max(res.dur-w.waited, 0)

	after, err := m.read(ctx, "")
	if err != nil {
		return st, err
	}
	m.facts(&st, after, m.settle(w.seen, before, after))
	for i := range st.Locks {
		st.Locks[i].Since = n
	}
	if res.err != nil {
		return st, m.fail(ErrStatement, s.Pos, s.SQL, res.err)
	}
	if watchErr != nil {
		return st, m.fail(ErrMeasure, s.Pos, "", fmt.Errorf("watch: %w", watchErr))
	}
	return st, nil
}

// watch is how two sessions watch a statement that runs outside a
// transaction block.
//
// One of them at a time holds: it has ACCESS SHARE on every table and a
// snapshot, so that the statement waits for it at its next strong lock or
// its next wait for older snapshots, and the locks the statement holds and
// wants are then in pg_locks for certain. When the statement waits, the
// other session holds (a transaction the statement's wait does not
// include, as it began after the wait) and then the first lets go: the
// statement goes on, and its next wait is seen too.
type watch struct {
	conns   [2]*pgx.Conn
	cur     int     // the session that holds or held last
	holding [2]bool // which sessions hold
	strong  bool    // session 1 holds SHARE ROW EXCLUSIVE on every table (see holdStrong)
	pid     uint32
	tables  []string
	seen    map[lockKey]bool // locks held or awaited
	waited  time.Duration    // how long the statement waited for the watch
}

// hold makes session i hold. When a table is locked already (by the
// statement), the session does without holding.
func (w *watch) hold(ctx context.Context, i int) error {
	q := "BEGIN ISOLATION LEVEL REPEATABLE READ"
	if len(w.tables) > 0 {
		// NOWAIT: waiting here for the statement while it waits for a
		// snapshot of the other session would be a deadlock.
		q += "; LOCK TABLE " + strings.Join(w.tables, ", ") + " IN ACCESS SHARE MODE NOWAIT"
	}
	q += "; SELECT 1" // the snapshot, taken after the locks
	_, err := w.conns[i].PgConn().Exec(ctx, q).ReadAll()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
		_, err = w.conns[i].PgConn().Exec(ctx, "ROLLBACK").ReadAll()
		return err
	}
	w.holding[i] = err == nil
	return err
}

// holdStrong makes session 1 hold SHARE ROW EXCLUSIVE on every table
// while session 0 holds its snapshot, before the statement starts: the
// statement's first lock of SHARE UPDATE EXCLUSIVE or stronger on a
// table (or of ROW EXCLUSIVE, for a write) then waits for certain, and is
// seen, however quickly the statement would otherwise take it and go on
// (VACUUM of a small table waits for nothing else). At that first wait
// session 1 lets go and the watch goes on as usual.
func (w *watch) holdStrong(ctx context.Context) error {
	if len(w.tables) == 0 {
		return nil
	}
	q := "BEGIN; LOCK TABLE " + strings.Join(w.tables, ", ") + " IN SHARE ROW EXCLUSIVE MODE NOWAIT"
	if _, err := w.conns[1].PgConn().Exec(ctx, q).ReadAll(); err != nil {
		return err
	}
	w.holding[1], w.strong = true, true
	return nil
}

// release ends session i's transaction, if it holds.
func (w *watch) release(ctx context.Context, i int) error {
	if !w.holding[i] {
		return nil
	}
	w.holding[i] = false
	if i == 1 {
		w.strong = false
	}
	_, err := w.conns[i].PgConn().Exec(ctx, "COMMIT").ReadAll()
	return err
}

func (w *watch) releaseAll(ctx context.Context) error {
	return errors.Join(w.release(ctx, 0), w.release(ctx, 1))
}

// watch polls the statement's locks until finished reports that it has
// finished.
func (w *watch) watch(ctx context.Context, finished func() bool) error {
	// waitstart (PostgreSQL 14 and later) says how long the statement has
	// waited, by the server's clock; it can be NULL for a moment as a wait
	// begins.
	poll := "SELECT COALESCE(relation, 0), mode, granted, " +
		"COALESCE(EXTRACT(EPOCH FROM pg_catalog.clock_timestamp() - waitstart), -1) " +
		"FROM pg_catalog.pg_locks WHERE pid = " + strconv.Itoa(int(w.pid)) +
		" AND (locktype = 'relation' OR NOT granted)"
	for !finished() {
		sent := time.Now()
		results, err := w.conns[w.cur].PgConn().Exec(ctx, poll).ReadAll()
		if err != nil {
			return err
		}
		answered := time.Now()
		waiting := false
		var so time.Duration // how long it had waited when the rows were read
		for _, row := range results[0].Rows {
			mode, err := hazard.ParseLockMode(string(row[1]))
			if oid := parseOID(row[0]); oid != 0 && err == nil {
				w.seen[lockKey{oid, mode}] = true // held, or awaited and held next
			}
			if string(row[2]) == "f" {
				waiting = true
				so = answered.Sub(sent)
				if secs, _ := strconv.ParseFloat(string(row[3]), 64); secs >= 0 {
					so = time.Duration(secs * float64(time.Second))
				}
			}
		}
		next := 1 - w.cur
		switch {
		case waiting && w.strong:
			// The first wait: for session 1's strong locks (or for
			// session 0, the statement then waits for both). Seen; let
			// it go on.
			if err := w.release(ctx, 1); err != nil {
				return err
			}
			w.waited += so + time.Since(answered)
		case waiting && w.holding[w.cur]:
			if err := w.hold(ctx, next); err != nil {
				return err
			}
			if err := w.release(ctx, w.cur); err != nil {
				return err
			}
			w.cur = next
			w.waited += so + time.Since(answered)
		case !waiting && !w.holding[w.cur]:
			if err := w.hold(ctx, w.cur); err != nil {
				return err
			}
		}
		time.Sleep(pollEvery)
	}
	return nil
}

// settle turns the locks the watch saw into the statement's locks, the
// same each time the statement is measured:
//
//   - a statement that removed a relation held ACCESS EXCLUSIVE on it at
//     the end (DROP INDEX CONCURRENTLY and REINDEX CONCURRENTLY take it
//     on the old index last, when nothing else waits to be seen);
//   - per relation, only the strongest mode seen, and only from SHARE
//     UPDATE EXCLUSIVE up: weaker locks block no writes, and whether the
//     watch saw them between two waits depends on timing;
//   - a lock on an index, a TOAST table or a sequence that the lock seen
//     on its table covers adds nothing to it, and is left out;
//   - so are locks on relations the statement itself created.
func (m *measurer) settle(seen map[lockKey]bool, before, after snapshot) []lockRow {
	strongest := map[uint32]hazard.LockMode{}
	for k := range seen {
		strongest[k.oid] = max(strongest[k.oid], k.mode)
	}
	for oid := range before.rels {
		if _, ok := after.rels[oid]; !ok {
			strongest[oid] = hazard.AccessExclusive
		}
	}
	var out []lockRow
	for oid, mode := range strongest {
		row, ok := before.rels[oid]
		if !ok || mode < hazard.ShareUpdateExclusive {
			continue
		}
		switch row.kind {
		case "i", "I", "t", "S":
			if row.owner != 0 && strongest[row.owner].Covers(mode) {
				continue
			}
		}
		out = append(out, lockRow{oid, mode})
	}
	slices.SortFunc(out, func(a, b lockRow) int { return int(a.oid) - int(b.oid) })
	return out
}

// connectWatchers opens the two watching sessions, on first use.
func (m *measurer) connectWatchers(ctx context.Context) error {
	for i, w := range m.watchers {
		if w != nil {
			continue
		}
		c, err := pgx.ConnectConfig(ctx, m.conn.Config())
		if err != nil {
			m.close()
			return m.fail(ErrMeasure, source.Position{}, "", fmt.Errorf("connect a watching session: %w", err))
		}
		m.watchers[i] = c
	}
	return nil
}
