// Package pgxbackend is the PostgreSQL [backend.Backend], built on pgx v5.
// It works with a *pgxpool.Pool or a single *pgx.Conn, and PostgreSQL 14 or
// newer.
//
// # History table
//
// The history lives in one table (default waymark_history, found through
// the search_path unless [Options].Schema is set), shared by every app key:
//
//	app_key        text         the Options.AppKey of the migration set
//	version        bigint       the applied version
//	name           text         the name part of its file name
//	checksum       text         SHA-256 of its up script, hex
//	applied_at     timestamptz  when its record was written
//	execution_time interval     how long its up script took on the server
//	dirty          text         NULL, or 'up'/'down': the no-transaction
//	                            script of that direction did not finish
//	primary key (app_key, version)
//
// Reading the state never creates anything: a database without the table
// has an empty history. The first write creates the table (and its schema,
// if missing), in the same transaction as the step it records.
//
// # Locking
//
// [Backend.Lock] takes a session-level advisory lock, on a connection of its
// own, with a key the server derives from the resolved schema, table and
// app key (so "" and "public" for a table in public are one lock). It polls
// with pg_try_advisory_lock, backing off to twice a second, for as long as
// the context allows; it never waits inside a statement, because a waiting
// statement holds a snapshot that a CREATE INDEX CONCURRENTLY in the lock
// holder's migration would wait for, a deadlock. The session runs every
// statement on that connection. When the context ends, the running
// statement is cancelled on the server (a cancel request, not a closed
// socket), so the server is not left running it while holding the lock.
// With a pool, a connection that ran migration SQL is closed rather than
// returned to the pool, so settings a script made (SET, temporary tables)
// never reach the application.
//
// # Round trips
//
// Every query uses the simple protocol, no prepared statements. A
// transactional step is one round trip: BEGIN, its SQL, its history record
// and COMMIT are sent as one multi-statement query. Reading the state is one
// round trip; each try for the lock is one.
package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

// DefaultTable is the history table's name when Options.Table is empty.
const DefaultTable = "waymark_history"

// Options configure a Backend. A nil *Options means the defaults.
type Options struct {
	// Schema holds the history table. Default "": the table is looked up
	// through the search_path, and created in the current schema (the first
	// existing schema of the search_path).
	Schema string
	// Table is the history table's name. Default [DefaultTable].
	Table string
	// AppKey tells apart independent migration sets that share one database
	// (and one history table): each key has its own history and its own
	// lock. Default "".
	AppKey string
	// Logger receives debug records of locking, table creation and history
	// writes. Default: nothing is logged.
	Logger *slog.Logger
}

// Backend keeps the history in PostgreSQL. With a pool it is safe for
// concurrent use; with a single *pgx.Conn it is not, like the connection.
type Backend struct {
	pool      *pgxpool.Pool
	conn      *pgx.Conn
	schema    string // Options.Schema
	tableName string // Options.Table, or its default
	table     string // quoted, schema-qualified if Schema is set
	appKey    string // quoted literal
	log       *slog.Logger
	err       error // invalid options, reported by every call
	hooks     hooks
}

var _ backend.Backend = (*Backend)(nil)

// New returns a Backend on db, a *pgxpool.Pool or a *pgx.Conn. Invalid
// options are reported by the first call that uses the backend.
func New[DB *pgxpool.Pool | *pgx.Conn](db DB, opts *Options) *Backend {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	b := &Backend{schema: o.Schema, tableName: o.Table, log: o.Logger}
	switch db := any(db).(type) {
	case *pgxpool.Pool:
		b.pool = db
	case *pgx.Conn:
		b.conn = db
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.pool == nil && b.conn == nil {
		b.err = errors.New("pgxbackend: nil database")
	}
	b.err = errors.Join(b.err, checkIdent("Options.Table", o.Table), checkIdent("Options.Schema", o.Schema),
		checkLiteral("Options.AppKey", o.AppKey))
	b.table = ident(o.Table)
	if o.Schema != "" {
		b.table = ident(o.Schema) + "." + b.table
	}
	b.appKey = literal(o.AppKey)
	return b
}

// ReadState reads the history of the app key in one query, without a lock
// and without writing.
func (b *Backend) ReadState(ctx context.Context) ([]backend.Record, error) {
	if b.err != nil {
		return nil, b.err
	}
	var q querier = b.conn
	if b.pool != nil {
		q = b.pool
	}
	records, _, err := readState(ctx, q, b.table, b.appKey)
	return records, err
}

// querier is what *pgx.Conn and *pgxpool.Pool have in common that
// readState needs.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readState reads the history from table. found is false when the table
// does not exist.
func readState(ctx context.Context, q querier, table, appKey string) (records []backend.Record, found bool, err error) {
	// Times come back as microseconds, so that the DateStyle and
	// IntervalStyle settings of the server cannot change how they read.
	sql := `SELECT version, name, checksum, dirty,
	(extract(epoch FROM applied_at) * 1000000)::bigint,
	(extract(epoch FROM execution_time) * 1000000)::bigint
FROM ` + table + ` WHERE app_key = ` + appKey + ` ORDER BY version`
	rows, err := q.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err == nil {
		records, err = pgx.CollectRows(rows, scanRecord)
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000"):
		return nil, false, nil // no table (or no schema): empty history
	case errors.As(err, &pgErr) && pgErr.Code == "42703":
		return nil, true, fmt.Errorf("pgxbackend: %s exists but is not a waymark history table: %w", table, err)
	case err != nil:
		return nil, true, fmt.Errorf("pgxbackend: read history from %s: %w", table, err)
	}
	return records, true, nil
}

func scanRecord(row pgx.CollectableRow) (backend.Record, error) {
	var (
		r                backend.Record
		checksum         string
		dirty            *string
		appliedAt, taken int64
	)
	if err := row.Scan(&r.Version, &r.Name, &checksum, &dirty, &appliedAt, &taken); err != nil {
		return r, err
	}
	var err error
	if r.Checksum, err = source.ParseChecksum(checksum); err != nil {
		return r, fmt.Errorf("version %d: %w", r.Version, err)
	}
	if dirty != nil {
		if err := r.Dirty.UnmarshalText([]byte(*dirty)); err != nil {
			return r, fmt.Errorf("version %d: dirty: %w", r.Version, err)
		}
	}
	r.AppliedAt = time.UnixMicro(appliedAt)
	r.Duration = time.Duration(taken) * time.Microsecond
	return r, nil
}

// Lock takes the migration lock on a connection of its own.
func (b *Backend) Lock(ctx context.Context) (backend.Session, error) {
	if b.err != nil {
		return nil, b.err
	}
	s := &session{b: b, conn: b.conn}
	if b.pool != nil {
		pc, err := b.pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("pgxbackend: acquire a connection for the migration lock: %w", err)
		}
		s.pooled, s.conn = pc, pc.Conn()
	}
	if err := s.lock(ctx); err != nil {
		s.unlocked = true
		_ = s.release(err)
		return nil, err
	}
	return s, nil
}
