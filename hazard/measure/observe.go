package measure

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/source"
)

// pollEvery is how often the watcher reads the statement's locks.
const pollEvery = time.Millisecond

// observed runs statement number n on its own, outside a transaction
// block, while a second session watches its locks (see the package doc).
func (m *measurer) observed(ctx context.Context, s source.Statement, n int) (Statement, error) {
	st := Statement{Pos: s.Pos, SQL: s.SQL, Observed: true}
	before, err := m.read(ctx, "", false)
	if err != nil {
		return st, err
	}
	m.prev = before
	w, err := m.watcher(ctx)
	if err != nil {
		return st, err
	}
	// Hold a snapshot and ACCESS SHARE on every table, so that the
	// statement waits for this session where it waits for anyone.
	hold := "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1"
	var tables []string
	for _, r := range before.rels {
		if r.kind == "r" || r.kind == "p" {
			tables = append(tables, pgx.Identifier{r.schema, r.name}.Sanitize())
		}
	}
	if len(tables) > 0 {
		hold += "; LOCK TABLE " + strings.Join(tables, ", ") + " IN ACCESS SHARE MODE"
	}
	if _, err := w.PgConn().Exec(ctx, hold).ReadAll(); err != nil {
		m.dropWatcher()
		return st, m.fail(ErrMeasure, s.Pos, "", fmt.Errorf("watcher: %w", err))
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

	// waitstart (PostgreSQL 14 and later) says how long the statement has
	// waited, by the server's clock; it can be NULL for a moment as a wait
	// begins.
	poll := "SELECT COALESCE(relation, 0), mode, granted, " +
		"COALESCE(EXTRACT(EPOCH FROM pg_catalog.clock_timestamp() - waitstart), -1) " +
		"FROM pg_catalog.pg_locks WHERE pid = " + strconv.Itoa(int(m.conn.PgConn().PID())) +
		" AND (locktype = 'relation' OR NOT granted)"
	seen := map[lockKey]bool{}
	holding := true
	var waited time.Duration
	var res outcome
	var watchErr error
	for {
		select {
		case res = <-done:
		default:
			sent := time.Now()
			rows, err := w.PgConn().Exec(ctx, poll).ReadAll()
			if err != nil {
				// Never leave the statement waiting for a broken watcher:
				// closing it ends its transaction.
				watchErr = err
				m.dropWatcher()
				holding = false
				res = <-done
				break
			}
			answered := time.Now()
			waiting := false
			var before time.Duration // how long it had waited when the rows were read
			for _, row := range rows[0].Rows {
				mode, err := hazard.ParseLockMode(string(row[1]))
				if oid := parseOID(row[0]); oid != 0 && err == nil {
					seen[lockKey{oid, mode}] = true // held, or awaited and held next
				}
				if string(row[2]) == "f" {
					waiting = true
					secs, _ := strconv.ParseFloat(string(row[3]), 64)
					before = answered.Sub(sent)
					if secs >= 0 {
						before = time.Duration(secs * float64(time.Second))
					}
				}
			}
			if waiting && holding {
				if _, err := w.PgConn().Exec(ctx, "COMMIT").ReadAll(); err != nil {
					watchErr = err
					m.dropWatcher()
				}
				holding = false
				waited = before + time.Since(answered)
			}
			select {
			case res = <-done:
			case <-time.After(pollEvery):
				continue
			}
		}
		break
	}
	if holding {
		if _, err := w.PgConn().Exec(ctx, "COMMIT").ReadAll(); err != nil {
			watchErr = err
			m.dropWatcher()
		}
	}
	st.Duration = max(res.dur-waited, 0)

	after, err := m.read(ctx, "", false)
	if err != nil {
		return st, err
	}
	locks := make([]lockRow, 0, len(seen))
	for k := range seen {
		locks = append(locks, lockRow(k))
	}
	m.facts(&st, after, locks)
	for i := range st.Locks {
		st.Locks[i].Since = n
	}
	if res.err != nil {
		return st, m.fail(ErrStatement, s.Pos, s.SQL, res.err)
	}
	if watchErr != nil {
		return st, m.fail(ErrMeasure, s.Pos, "", fmt.Errorf("watcher: %w", watchErr))
	}
	return st, nil
}

// watcher returns the second session, connecting it on first use.
func (m *measurer) watcher(ctx context.Context) (*pgx.Conn, error) {
	if m.observer != nil {
		return m.observer, nil
	}
	w, err := pgx.ConnectConfig(ctx, m.conn.Config())
	if err != nil {
		return nil, m.fail(ErrMeasure, source.Position{}, "", fmt.Errorf("connect the watcher: %w", err))
	}
	m.observer = w
	return w, nil
}

// dropWatcher closes the second session.
func (m *measurer) dropWatcher() {
	if m.observer != nil {
		m.close()
		m.observer = nil
	}
}
