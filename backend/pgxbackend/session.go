package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/source"
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
	key      int64         // the advisory lock's key, once locked
	tstate   tableState
	ranSQL   bool // migration SQL ran on the connection
	inTx     bool
	unlocked bool
}

// Polling for the lock starts at lockPollMin between tries and backs off to
// lockPollMax.
const (
	lockPollMin = 5 * time.Millisecond
	lockPollMax = 500 * time.Millisecond
)

// keyQuery returns a query yielding the schema the history table resolves
// to now (NULL if none) and the advisory lock key derived from it, the table
// and the app key. With Options.Schema empty, the schema is the table's, or
// the one CREATE TABLE would use.
//
// The key is computed by the server from the resolved names, so that two
// processes naming the same table differently ("" and "public") share one
// lock.
func (s *session) keyQuery(wrap string) string {
	schema := literal(s.b.schema)
	if s.b.schema == "" {
		schema = fmt.Sprintf(`coalesce((SELECT n.nspname FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)), current_schema())`, literal(ident(s.b.tableName)))
	}
	return fmt.Sprintf(`SELECT schema, key, %s FROM (
	SELECT schema, CASE WHEN schema IS NOT NULL THEN hashtextextended(format('waymark %%I.%%I %%L', schema, %s, %s), 0) END AS key
	FROM (SELECT %s AS schema) s) k`, wrap, literal(s.b.tableName), s.b.appKey, schema)
}

// lock polls for the advisory lock until it has it or ctx ends. It never
// waits inside a statement: a statement blocked on a lock holds a snapshot,
// which CREATE INDEX CONCURRENTLY in the lock holder's migration would wait
// for, a deadlock. Once locked, the history table stays pinned to the schema
// it resolved to, so that a script's SET search_path cannot move it.
func (s *session) lock(ctx context.Context) error {
	if scs := s.conn.PgConn().ParameterStatus("standard_conforming_strings"); scs != "on" {
		return fmt.Errorf("pgxbackend: standard_conforming_strings is %q; waymark needs it on", scs)
	}
	q := s.keyQuery("CASE WHEN key IS NOT NULL THEN pg_try_advisory_lock(key) END")
	start, delay, told := time.Now(), lockPollMin, false
	for {
		results, err := s.query(ctx, q)
		if err == nil && s.b.hooks.lockTried != nil {
			err = s.b.hooks.lockTried(string(results[0].Rows[0][2]) == "t")
		}
		if err != nil {
			// If the try was cancelled after it took the lock, the lock
			// outlives the statement: give it back. (A pooled connection is
			// closed anyway.)
			if s.pooled == nil {
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
				_, _ = s.query(uctx, s.keyQuery("pg_advisory_unlock(key)"))
				cancel()
			}
			return fmt.Errorf("pgxbackend: wait for the migration lock: %w", err)
		}
		row := results[0].Rows[0]
		if row[0] == nil {
			return errors.New("pgxbackend: no schema in the search_path for the history table; set Options.Schema")
		}
		if string(row[2]) == "t" {
			s.key, err = strconv.ParseInt(string(row[1]), 10, 64)
			if err != nil {
				return fmt.Errorf("pgxbackend: lock key %q: %w", row[1], err)
			}
			s.table = ident(string(row[0])) + "." + ident(s.b.tableName)
			s.b.log.DebugContext(ctx, "pgxbackend: migration lock taken", "wait", time.Since(start), "key", s.key)
			return nil
		}
		if !told && time.Since(start) > time.Second {
			s.b.log.InfoContext(ctx, "pgxbackend: waiting for the migration lock, held by another session", "key", string(row[1]))
			told = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgxbackend: wait for the migration lock: %w", ctx.Err())
		case <-time.After(delay/2 + rand.N(delay)):
		}
		delay = min(2*delay, lockPollMax)
	}
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

// marker names the column of a statement that Apply sends between the
// migration's SQL and the history writes: an error before its result is the
// script's, an error after it is the history's.
const marker = "waymark:history"

// Apply sends sql, the creation of the history table if it is the first
// write, and the history change as one query: one round trip. Outside a
// transaction opened by Begin, the query is wrapped in BEGIN and COMMIT (an
// explicit block, so that scripts may use SAVEPOINT).
func (s *session) Apply(ctx context.Context, sql string, ch backend.Change) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("pgxbackend: apply: %w", err)
	}
	if st := s.conn.PgConn().TxStatus(); !s.inTx && st != 'I' {
		return fmt.Errorf("pgxbackend: apply: the connection is inside a transaction (status %q) that waymark did not open; "+
			"did a no-transaction script BEGIN without COMMIT?", st)
	}
	create, err := s.createTable(ctx)
	if err != nil {
		return err
	}
	change, err := s.change(ch)
	if err != nil {
		return err
	}
	if sql != "" {
		s.ranSQL = true
	}
	own := !s.inTx // Apply opens and commits a transaction of its own
	var q strings.Builder
	q.Grow(len(sql) + 1024)
	if own {
		q.WriteString("BEGIN;\n")
	}
	scriptAt := q.Len()
	if sql != "" {
		// The newline ends a trailing "--" comment.
		q.WriteString(sql)
		q.WriteString("\n;\n")
	}
	q.WriteString(`SELECT 1 AS "` + marker + `";` + "\n")
	for _, c := range create {
		q.WriteString(c)
		q.WriteString(";\n")
	}
	q.WriteString(change)
	if own {
		q.WriteString(";\nCOMMIT")
	}
	query := q.String()

	done, history, err := s.exec(ctx, query)
	if err == nil {
		if create != nil {
			s.tstate = tableExists
			s.b.log.DebugContext(ctx, "pgxbackend: created the history table", "table", s.table)
		}
		s.b.log.DebugContext(ctx, "pgxbackend: history written", "op", ch.Op.String(), "version", ch.Record.Version)
		return nil
	}
	if own && s.conn.PgConn().TxStatus() != 'I' {
		// The failed statement left the block aborted.
		if _, _, rerr := s.exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
		}
	}
	if !history {
		if own {
			done-- // BEGIN
		}
		return s.scriptError(query, scriptAt, len(sql), done, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation of the primary key
			return fmt.Errorf("pgxbackend: %s version %d: %w", ch.Op, ch.Record.Version, backend.ErrExists)
		case "22012": // the division that reports "no row changed"
			return fmt.Errorf("pgxbackend: %s version %d: %w", ch.Op, ch.Record.Version, backend.ErrNotRecorded)
		}
	}
	return fmt.Errorf("pgxbackend: write history of version %d to %s: %w", ch.Record.Version, s.table, err)
}

// scriptError locates an error raised by the migration's SQL, which is
// query[at:at+n], of which done statements completed.
func (s *session) scriptError(query string, at, n, done int, err error) error {
	off := -1
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Position > 0 {
		off = int(pgErr.Position) - 1 // PostgreSQL counts characters from 1
		if s.conn.PgConn().ParameterStatus("server_encoding") != "SQL_ASCII" {
			off = sqlsplit.CharOffset(query, int(pgErr.Position))
		}
		if off -= at; off < 0 || off >= n {
			off = -1
		}
	}
	se := &backend.ScriptError{Pos: locate(query[at:at+n], off, done), Err: err}
	if pgErr != nil {
		se.Detail, se.Hint = pgErr.Detail, pgErr.Hint
	}
	return se
}

// locate returns the position in sql of byte offset off, or, when off is
// -1, of the start of the statement after the done that completed. The
// server parses a whole multi-statement query before it runs any of it, so
// for a syntax error done is 0 whatever the failing statement: the
// statement is found from the offset instead.
func locate(sql string, off, done int) source.Position {
	pieces, _ := sqlsplit.Split(sql) // migration SQL was checked by package source
	n := 0
	for _, p := range pieces {
		if p.SQL == "" {
			continue
		}
		if off >= 0 && p.Start.Offset > off {
			break
		}
		n++
		if off < 0 && n == done+1 {
			return source.Position{Line: p.Start.Line, Column: p.Start.Column, Offset: p.Start.Offset, Statement: n}
		}
	}
	if off < 0 {
		// The server counted more statements than the splitter found (see
		// the package doc of sqlsplit on BEGIN ATOMIC): its count stands.
		return source.Position{Statement: done + 1}
	}
	at := sqlsplit.Locate(sql, off)
	return source.Position{Line: at.Line, Column: at.Column, Offset: at.Offset, Statement: n}
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
	done, _, err := s.exec(ctx, sql)
	if err != nil {
		return s.scriptError(sql, 0, len(sql), done, err)
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
	if st := s.conn.PgConn().TxStatus(); st != 'I' {
		return fmt.Errorf("pgxbackend: begin: the connection is inside a transaction (status %q) that waymark did not open", st)
	}
	if _, _, err := s.exec(ctx, "BEGIN"); err != nil {
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
	if _, _, err := s.exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
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
	q := fmt.Sprintf("SELECT pg_advisory_unlock(%d)", s.key)
	if s.inTx || s.conn.PgConn().TxStatus() != 'I' {
		q = "ROLLBACK; " + q
	}
	var err error
	for try := 0; try < 2; try++ {
		// A second try, in case a late cancel request of the caller's
		// context hit the first.
		var results []*pgconn.Result
		if s.b.hooks.unlockTry != nil {
			if err = s.b.hooks.unlockTry(try); err != nil {
				continue
			}
		}
		if results, err = s.query(ctx, q); err == nil {
			if v := lastValue(results); v == nil || *v != "t" {
				err = errors.New("the server says this session did not hold it")
			}
			break
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

// exec runs query (one or more statements) with the simple protocol. It
// returns how many of its statements completed, and whether the marker
// statement (see Apply) was among them.
func (s *session) exec(ctx context.Context, query string) (done int, marked bool, err error) {
	err = s.watch(ctx, func(ctx context.Context) error {
		mrr := s.conn.PgConn().Exec(ctx, query)
		for mrr.NextResult() {
			rr := mrr.ResultReader()
			if fds := rr.FieldDescriptions(); len(fds) == 1 && fds[0].Name == marker {
				marked = true
			}
			if _, err := rr.Close(); err != nil {
				break
			}
			done++
		}
		return mrr.Close()
	})
	return done, marked, err
}

// query runs query and returns its results, rows included.
func (s *session) query(ctx context.Context, query string) (results []*pgconn.Result, err error) {
	err = s.watch(ctx, func(ctx context.Context) error {
		results, err = s.conn.PgConn().Exec(ctx, query).ReadAll()
		return err
	})
	return results, err
}
