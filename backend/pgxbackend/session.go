package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// unlockTimeout bounds the work of Unlock, which runs without the caller's
// cancellation.
const unlockTimeout = 10 * time.Second

// tableState is what a session knows about the history table.
type tableState int8

const (
	tableUnknown tableState = iota
	tableMissing
	tableExists
)

// session holds the migration lock on one connection.
type session struct {
	b        *Backend
	conn     *pgx.Conn
	pooled   *pgxpool.Conn // nil when the Backend has a single *pgx.Conn
	table    string        // the history table, schema-qualified once locked
	tstate   tableState
	ranSQL   bool // migration SQL ran on the connection
	inTx     bool
	unlocked bool
}

// lock waits for the advisory lock, then pins the history table to the
// schema it resolves to now, so that a script's SET search_path cannot move
// the history elsewhere.
func (s *session) lock(ctx context.Context) error {
	if scs := s.conn.PgConn().ParameterStatus("standard_conforming_strings"); scs != "on" {
		return fmt.Errorf("pgxbackend: standard_conforming_strings is %q; waymark needs it on", scs)
	}
	s.table = s.b.table
	resolve := ""
	if s.b.schema == "" {
		// The schema the table is in, or the one CREATE TABLE would use.
		resolve = fmt.Sprintf(`;
SELECT coalesce((SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass(%s)), current_schema())`, literal(s.b.table))
	}
	q := fmt.Sprintf("SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = 0; SELECT pg_advisory_lock(%d)%s", s.b.lockKey, resolve)
	start := time.Now()
	s.b.log.DebugContext(ctx, "pgxbackend: waiting for the migration lock", "key", s.b.lockKey)
	results, err := s.query(ctx, q)
	if err != nil {
		return fmt.Errorf("pgxbackend: wait for the migration lock: %w", err)
	}
	s.b.log.DebugContext(ctx, "pgxbackend: migration lock taken", "wait", time.Since(start))
	if resolve != "" {
		schema := lastValue(results)
		if schema == nil {
			return errors.New("pgxbackend: no schema in the search_path for the history table; set Options.Schema")
		}
		s.table = ident(*schema) + "." + s.b.table
	}
	return nil
}

// lastValue returns the first column of the first row of the last result,
// or nil if it is NULL or missing.
func lastValue(results []*pgconn.Result) *string {
	if len(results) == 0 {
		return nil
	}
	last := results[len(results)-1]
	if len(last.Rows) == 0 || last.Rows[0][0] == nil {
		return nil
	}
	v := string(last.Rows[0][0])
	return &v
}

func (s *session) usable(ctx context.Context) error {
	if s.unlocked {
		return backend.ErrUnlocked
	}
	return ctx.Err()
}

// ReadState reads the history under the lock.
func (s *session) ReadState(ctx context.Context) ([]backend.Record, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("pgxbackend: read state: %w", err)
	}
	var (
		records []backend.Record
		found   bool
	)
	err := s.watch(ctx, func(ctx context.Context) (err error) {
		records, found, err = readState(ctx, s.conn, s.table, s.b.appKey)
		return err
	})
	switch {
	case err != nil:
	case found:
		s.tstate = tableExists
	default:
		s.tstate = tableMissing
	}
	return records, err
}

// Apply sends sql, the creation of the history table if it is the first
// write, and the history change as one query: one round trip, one
// transaction (or part of the one Begin opened).
func (s *session) Apply(ctx context.Context, sql string, ch backend.Change) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("pgxbackend: apply: %w", err)
	}
	create, err := s.createTable(ctx)
	if err != nil {
		return err
	}
	change, err := s.change(ch)
	if err != nil {
		return err
	}
	nScript := 0
	if sql != "" {
		pieces, err := sqlsplit.Split(sql)
		if err != nil {
			return &backend.ScriptError{Offset: -1, Statement: -1, Err: err}
		}
		for _, p := range pieces {
			if p.SQL != "" {
				nScript++
			}
		}
		s.ranSQL = true
	}
	// The script comes first, so that the server's error positions are
	// positions in it; the newline ends a trailing "--" comment.
	var q strings.Builder
	q.Grow(len(sql) + 1024)
	if sql != "" {
		q.WriteString(sql)
		q.WriteString("\n;\n")
	}
	for _, c := range create {
		q.WriteString(c)
		q.WriteString(";\n")
	}
	q.WriteString(change)
	query := q.String()

	done, err := s.exec(ctx, query)
	switch {
	case err == nil:
		if create != nil {
			s.tstate = tableExists
			s.b.log.DebugContext(ctx, "pgxbackend: created the history table", "table", s.table)
		}
		s.b.log.DebugContext(ctx, "pgxbackend: history written", "op", ch.Op.String(), "version", ch.Record.Version)
		return nil
	case done < nScript:
		return s.scriptError(query, len(sql), done, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && done == nScript+len(create) {
		switch pgErr.Code {
		case "23505": // unique_violation of the primary key
			return fmt.Errorf("pgxbackend: %s version %d: %w", ch.Op, ch.Record.Version, backend.ErrExists)
		case "22012": // the division that reports "no row changed"
			return fmt.Errorf("pgxbackend: %s version %d: %w", ch.Op, ch.Record.Version, backend.ErrNotRecorded)
		}
	}
	return fmt.Errorf("pgxbackend: write history of version %d to %s: %w", ch.Record.Version, s.table, err)
}

// scriptError locates an error raised by the first n bytes of query (the
// migration's SQL), of which done statements completed.
func (s *session) scriptError(query string, n, done int, err error) error {
	se := &backend.ScriptError{Offset: -1, Statement: done, Err: err}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Position > 0 {
		off := int(pgErr.Position) - 1 // PostgreSQL counts characters from 1
		if s.conn.PgConn().ParameterStatus("server_encoding") != "SQL_ASCII" {
			off = sqlsplit.CharOffset(query, int(pgErr.Position))
		}
		if off < n {
			se.Offset = off
		}
	}
	return se
}

// Exec runs one statement of a no-transaction script on its own.
func (s *session) Exec(ctx context.Context, sql string) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("pgxbackend: exec: %w", err)
	}
	if s.inTx {
		return fmt.Errorf("pgxbackend: exec: %w", backend.ErrInTransaction)
	}
	s.ranSQL = true
	done, err := s.exec(ctx, sql)
	if err != nil {
		return s.scriptError(sql, len(sql), done, err)
	}
	return nil
}

// Begin opens the transaction of a whole plan.
func (s *session) Begin(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("pgxbackend: begin: %w", err)
	}
	if s.inTx {
		return fmt.Errorf("pgxbackend: begin: %w", backend.ErrInTransaction)
	}
	if _, err := s.exec(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("pgxbackend: begin: %w", err)
	}
	s.inTx = true
	return nil
}

// Commit commits the transaction Begin opened. A transaction that failed
// earlier is rolled back by the server instead, and Commit says so.
func (s *session) Commit(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("pgxbackend: commit: %w", err)
	}
	if !s.inTx {
		return fmt.Errorf("pgxbackend: commit: %w", backend.ErrNoTransaction)
	}
	results, err := s.query(ctx, "COMMIT")
	if err != nil {
		return fmt.Errorf("pgxbackend: commit: %w", err)
	}
	s.inTx = false
	if len(results) == 1 && results[0].CommandTag.String() == "ROLLBACK" {
		return errors.New("pgxbackend: commit: the transaction had failed and was rolled back")
	}
	return nil
}

// Rollback abandons the transaction Begin opened.
func (s *session) Rollback(ctx context.Context) error {
	if s.unlocked {
		return fmt.Errorf("pgxbackend: rollback: %w", backend.ErrUnlocked)
	}
	if !s.inTx {
		return fmt.Errorf("pgxbackend: rollback: %w", backend.ErrNoTransaction)
	}
	s.inTx = false
	s.tstate = tableUnknown // a table created in the transaction is gone
	if _, err := s.exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
		return fmt.Errorf("pgxbackend: rollback: %w", err)
	}
	return nil
}

// Unlock rolls back an open transaction, releases the advisory lock and
// gives the connection back (or closes it, see the package doc).
func (s *session) Unlock(ctx context.Context) error {
	if s.unlocked {
		return fmt.Errorf("pgxbackend: unlock: %w", backend.ErrUnlocked)
	}
	s.unlocked = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()
	q := fmt.Sprintf("SELECT pg_advisory_unlock(%d)", s.b.lockKey)
	if s.inTx || s.conn.PgConn().TxStatus() != 'I' {
		q = "ROLLBACK; " + q
	}
	results, err := s.query(ctx, q)
	if err == nil {
		if v := lastValue(results); v == nil || *v != "t" {
			err = errors.New("the server says this session did not hold it")
		}
	}
	if err != nil {
		err = fmt.Errorf("pgxbackend: release the migration lock: %w", err)
	}
	s.b.log.DebugContext(ctx, "pgxbackend: migration lock released", "error", err)
	return s.release(err)
}

// release ends the session's use of the connection. A pooled connection
// goes back to the pool unless migration SQL ran on it or the lock may
// still be held (failed is not nil); then it is closed, which also ends
// any lock. A single *pgx.Conn belongs to the caller and stays open.
func (s *session) release(failed error) error {
	if s.pooled == nil {
		return failed
	}
	if failed == nil && !s.ranSQL {
		s.pooled.Release()
		return nil
	}
	if failed != nil {
		s.b.log.Warn("pgxbackend: closing the connection to end its session", "error", failed)
	}
	conn := s.pooled.Hijack()
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	_ = conn.Close(ctx)
	// Closing the connection ended the session, and with it the lock.
	return nil
}

// exec runs query (one or more statements) with the simple protocol and
// returns how many of its statements completed.
func (s *session) exec(ctx context.Context, query string) (done int, err error) {
	err = s.watch(ctx, func(ctx context.Context) error {
		mrr := s.conn.PgConn().Exec(ctx, query)
		for mrr.NextResult() {
			if _, err := mrr.ResultReader().Close(); err != nil {
				break
			}
			done++
		}
		return mrr.Close()
	})
	return done, err
}

// query runs query and returns its results, rows included.
func (s *session) query(ctx context.Context, query string) (results []*pgconn.Result, err error) {
	err = s.watch(ctx, func(ctx context.Context) error {
		results, err = s.conn.PgConn().Exec(ctx, query).ReadAll()
		return err
	})
	return results, err
}
