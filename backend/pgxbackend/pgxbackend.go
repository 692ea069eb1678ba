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
//	applied_at     timestamptz  when its record was written; for an
//	                            imported record, when the other tool
//	                            applied it, if that tool kept the time
//	execution_time interval     how long its up script took on the server,
//	                            at least 1µs; exactly 0 marks a record
//	                            written without running the script
//	                            (backend.Record.Imported: import-history,
//	                            baseline)
//	dirty          text         NULL, or 'up'/'down': the no-transaction
//	                            script of that direction did not finish
//	digest         bytea        SHA-256 over the digest of the record
//	                            below (32 zero bytes for the first), the
//	                            version as 8 bytes big-endian and the
//	                            checksum's bytes: the running digest that
//	                            source.Set.Digest computes for the set
//	reversible     boolean      NULL: nothing kept of the down script (a
//	                            record of an older format or binary);
//	                            false: the version has no down script;
//	                            true: down_script holds it
//	down_script    text         the version's down script, as the binary
//	                            that applied it had it
//	primary key (app_key, version)
//	index on (app_key) where dirty is not null
//	unique index on (app_key, name) where app_key like '%#repeatable'
//	comment 'waymark history, format 4'
//
// The records of an app key's repeatable scripts (source.Repeatable) are
// rows of the same table under the app key followed by
// [RepeatableKeySuffix] ("billing#repeatable" for "billing"), one per
// script: name is the script's name, checksum that of the text last
// applied, version only a row number, and digest, on every row, the
// digest of all of them (source.DigestRepeatables). A reader of the app
// key's versions, an older release included, never sees them, and an
// AppKey that ends in the suffix is refused.
//
// That is format 4. A table of an older format is upgraded in place by
// the first run that takes the lock, through every missing step in one
// transaction: for format 2 (from format 1: no digest column, no index, no
// comment; written by waymark before running digests) the digest column,
// every record's digest and the index on dirty records; for format 3 the
// down scripts' columns (the records it finds keep no down script); for
// format 4 the index on repeatable scripts' names; then the comment. Until
// then it reads as before (format 1 without the one-row no-op check).
// Binaries of formats 2 and 3 read and write a table of format 4 as their
// own, so a rolling deploy may mix them; their records keep no down script,
// and they never see the repeatable scripts' rows. With the top record's
// digest, and the digest of the repeatable scripts' rows, "the database
// holds exactly the set's first N versions and its repeatable scripts" is
// one query returning one row ([Backend.ReadHead]). With the down scripts,
// a binary rolled back to an older release can undo the versions the newer
// one applied (see package plan).
//
// Reading the state never creates anything: a database without the table
// (or without its schema) has an empty history, found so without a failed
// statement in the server's log ([Backend.ReadHead] asks
// pg_catalog.to_regclass in its one query until it has found the table;
// ReadState and ReadRepeatables look for the table first until it has been
// found once). The first write creates the table, in the same transaction
// as the step it records.
//
// # Schemas
//
// The schemas the options name, [Options].Schema and the first schema of
// [Options].SearchPath, are created when they do not exist (a new tenant),
// under the lock and before any of a step's SQL runs, in both lock modes:
// with the advisory lock, in the transaction of the first step (the first
// write; so a run that writes nothing creates nothing, and a first step
// that fails leaves nothing); with a lease, in the transaction that takes
// the lease, whose table lives in the history table's schema (a first step
// that fails leaves the schema, with the lease table). No step ever runs
// while the search_path's first schema is missing, which would create its
// objects in the next schema of the path (or nowhere). The schema is owned
// by the role the steps run as; its creation is recorded nowhere else. A
// role that may not create it (no CREATE privilege on the database) gets
// an error naming the option, with the server's, and the step does not
// run; a named schema that exists but that the role may not use (no USAGE
// privilege) is refused by [Backend.TryLock] with an *OptionError, for the
// same reason, before anything runs.
//
// # Locking
//
// [Backend.TryLock] takes the migration lock of the resolved history table
// and app key (so "" and "public" for a table in public are one lock). It
// holds it in one of two ways ([Options].Lock):
//
//   - A session-level advisory lock on the session's own connection, the
//     default on a direct connection. Its key is derived by the server from
//     the resolved schema, table and app key.
//   - A lease: a row in the table waymark_lease, in the history table's
//     schema, with a holder id and an expiry. It works through
//     transaction-mode poolers such as PgBouncer, where a session-level
//     lock would stay on whichever server connection took it. It is renewed
//     every third of Options.LeaseTTL from a connection of its own, and by
//     every step; a holder that dies without releasing it is replaced once
//     the lease expires. The default when a pooler is detected (the backend
//     process id that the connection reports differs from the server's).
//
// Every step proves in its own transaction, before its script runs, that
// the lock is still the session's (a fence): the advisory lock must be held
// by the step's own server process; the lease must still name the session
// as holder, and the step renews it. A step that fails the fence changes
// nothing and returns backend.ErrLockLost. A transactional step holds the
// lease row locked, so no one can take over while it runs. The advisory
// fence also takes the lock at transaction level, which nothing releases
// before the transaction ends: in the transaction that Session.Begin opens
// (execute's SingleTransaction), only the first step runs the advisory
// fence; the lease fence, which renews the lease, runs at every step.
//
// TryLock never waits inside a statement: a waiting statement holds a
// snapshot that a CREATE INDEX CONCURRENTLY in the lock holder's migration
// would wait for, a deadlock. Waiting and backing off are the caller's.
//
// # Sessions
//
// The session runs every statement on its own connection. On a direct
// connection it sets client_connection_check_interval (250ms) and TCP
// keepalives, so the server stops a migration whose client died (was killed,
// lost its network) instead of running it to the end.
//
// Every step starts from the session state the connection had when the
// lock was taken: settings (RESET ALL, then the settings the connection had
// made with SET), the session user and role, no temporary tables, as if it
// ran alone. So the schema a set produces does not depend on how its
// versions were batched into runs. Behind a pooler, each step also leaves
// the server connection reset. When the run ends, the connection gets its
// settings and role back; on a pool it is then returned to the pool, with
// its advisory locks, LISTENs and cursors released as well. Prepared
// statements a script made stay. A *pgx.Conn you pass in keeps its
// settings; its temporary tables are dropped at every step.
//
// # Search path
//
// [Options].SearchPath runs every step's SQL with that search_path: the
// reset at the start of each step ends with SET search_path, so a step
// whose script set another one does not pass it on, and the connection
// gets its own back when the run ends. The history table is then in
// SearchPath's first schema unless Options.Schema says otherwise; a
// missing one is created (see "Schemas"). A
// schema per tenant applies one set to every tenant this way, over one
// pool. Under a lease, no-transaction scripts are refused (with an
// *OptionError, before their version is marked dirty): their statements
// run outside the steps' transactions, where a pooler gives no session
// state.
//
// When the context ends, the running statement is cancelled on the server
// (a cancel request, not a closed socket), so the server is not left
// running it while holding the lock.
//
// A cancel is reported as one (an error reading "... (the statement was
// cancelled on the server)") only when the server confirmed it. When
// neither the statement nor the cancel request is answered within 5s, the
// connection is closed and the call fails with a *backend.ConnectionError
// whose outcome is unknown.
//
// Releasing the lock reports honestly: when it cannot release the advisory
// lock over its connection, the session ends its own server process from
// another connection and checks that the lock is gone (a process that does
// not end within 5 seconds still holds it); only when that fails too does
// Unlock return backend.ErrLockMayBeHeld. When the server is not
// running (nothing listens at its address, or it answers that it is
// starting up, recovering or shutting down), the advisory lock is gone
// with it (it lives in the server's memory), and Unlock says nothing of a
// lock that may be held.
//
// A lease that cannot be released over the session's connection is
// released over new ones, tried again and again (pausing from 100ms,
// doubling, up to 2s between tries) until the lease would have expired
// anyway: LeaseTTL after the last query that may have renewed it. A server
// restarted behind a pooler (pg_ctl restart -m fast, with PgBouncer's login
// back-off of server_login_retry, 15s by default, after it) is so back in
// time, and the next run need not wait the lease out; Unlock then takes as
// long. Only when no try got through does Unlock return
// backend.ErrLockMayBeHeld, saying by when the lease expires by itself.
//
// # Durable commits
//
// A step with backend.Step.Async commits with synchronous_commit off. The
// next durable commit of the session flushes it; when the run ends without
// one (it failed), Unlock makes one before it releases the advisory lock:
// in the same query, a transaction that emits a transactional logical
// decoding message (prefix "waymark", content "flush", which changes no
// data), since PostgreSQL flushes the commit of a transaction only if it
// wrote WAL. Logical decoding clients that ask for messages see it. Under
// a lease, the release itself (a DELETE) is that commit.
//
// # Connecting
//
// A connection that cannot be made (from the pool, for the lock, for a
// read, or for the release of a lease) is a *backend.ConnectError
// (backend.ErrConnect), never a lost connection or lock contention: its
// Problem says whether the server could not be reached or did not answer
// (the context ended while connecting; the error names the address),
// rejected the credentials (SQLSTATE class 28), or refused, with its
// message: a server starting up or shutting down (57P03), too many
// connections, or PgBouncer's refusal when its logins to the server are
// failing ("server login has been failing, try again later"), which
// PgBouncer may also send on a connection already made, at its first
// query (SQLSTATE 08P01).
//
// # Faults
//
// A connection that breaks during a call yields a *backend.ConnectionError,
// never a script error: its Outcome is OutcomeRolledBack when the server
// ended the session (terminated, shut down) or no COMMIT was sent,
// OutcomeUnknown when the reply to a COMMIT (or to a statement of a
// no-transaction script) may have been lost.
//
// A reply that never comes (a network or middlebox that goes silent
// without closing the connection) is noticed without a context deadline
// when the step has limits (backend.Limits: LockTimeout or
// StatementTimeout): a round trip silent for longer than the longest limit
// plus 5s is checked on over a new connection, which gets 5s to answer.
// The session gives up on the reply, closing its connection, with a
// *backend.ConnectionError of unknown outcome, when that connection fails
// too, when no server process runs the session any more, or when the
// server finished the round trip over a second ago and the reply has not
// arrived; it waits again as long when the server says the round trip is
// still running (a long statement is not a lost one). The session's
// server process is found by its process id with the advisory lock and by
// the lease holder's id in its query text with a lease; a statement of a
// no-transaction script under a lease, whose server process cannot be
// found, waits for the context only. So a step with limits L returns
// within L + 10s of a silent network, and Unlock, whose own work is
// bounded (10s for the advisory lock; see "Leases" for a lease), follows.
// The direct connection also has TCP keepalives (see "Sessions"), so the
// server notices the dead client too.
//
// # Invalid indexes
//
// A CREATE INDEX CONCURRENTLY (or REINDEX CONCURRENTLY) that fails leaves
// an INVALID index behind (pg_index.indisvalid false), whether it failed
// while it built the index (a duplicate key: indisready false) or while it
// validated it (a timeout, a cancel, a duplicate inserted meanwhile:
// indisready true). Such a statement's error wraps
// backend.ErrInvalidIndex as well as the server's error: it names, schema
// qualified, every index of the table that the statement left invalid
// (those invalid before it are left out; the query that lists them shares
// the round trip of the statement's fence), with the DROP INDEX
// CONCURRENTLY that drops each. When the statement fails because its
// index already exists (SQLSTATE 42P07) and that index is invalid, the
// left-over of an earlier failed run, the error says so, with its DROP. A
// statement that completes but leaves its index invalid (CREATE INDEX
// CONCURRENTLY IF NOT EXISTS over such a left-over) fails the same way.
// After a broken connection nothing can be read: the error is then the
// *backend.ConnectionError alone.
//
// # Round trips
//
// Every query uses the simple protocol, but one: the no-op check's read
// of the head ([Backend.ReadHead]), once it has found the history table,
// is prepared on a direct connection (one more round trip the first time
// on each connection), never behind a pooler. A transactional step is one
// round trip: BEGIN, its fence, the session reset and limits, its SQL,
// its history record and COMMIT are sent as one multi-statement query.
// Reading the state is one round trip; each try for the lock is one (two
// with leases, and the first time with LockAuto unless a ReadHead of the
// Backend has already told a pooler from a direct connection).
//
// The costs that stay per step are those of the guarantees: the fence, the
// session reset and the history record. An insert on top of a history read
// under the lock sends its digest, computed from the checksums; one below
// the top, or a delete below it, brings the digests above it up to date in
// the same transaction.
package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

// Backend keeps the history in PostgreSQL. With a pool it is safe for
// concurrent use; with a single *pgx.Conn it is not, like the connection.
type Backend struct {
	pool      *pgxpool.Pool
	conn      *pgx.Conn
	opts      Options
	table     string // quoted, schema-qualified if Schema is set
	appKey    string // quoted literal
	repeatKey string // quoted literal: the app key of the repeatable scripts' rows
	err       error  // invalid options, reported by every call
	hooks     hooks
	modeOnce  sync.Mutex
	mode      LockMode // LockAdvisory or LockLease once known
	pooler    *bool    // whether a pooler was found, once asked
	connected func(ctx context.Context) (*pgx.Conn, error)
	// found is set once a read found the history table, so that later
	// reads query it at once; until then they look for it first, so that
	// a database without one does not make the server log a failed
	// statement.
	found atomic.Bool
	// head is the direct head query, once ReadHead has found a history
	// table of format 2 (see ReadHead).
	head atomic.Pointer[headPlan]
	// direct is 1 once a read found the connection reaching the server
	// directly, -1 once it found a pooler, 0 before.
	direct atomic.Int32
	// stmtCache is whether the connections cache prepared statements
	// (pgx's StatementCacheCapacity), read once: Config copies the
	// configuration.
	stmtCache bool
}

var (
	_ backend.Backend = (*Backend)(nil)
	_ backend.Checker = (*Backend)(nil)
)

// New returns a Backend on db, a *pgxpool.Pool or a *pgx.Conn. Invalid
// options are reported, before anything touches the database, by
// [Backend.Check] and by every call.
func New[DB *pgxpool.Pool | *pgx.Conn](db DB, opts *Options) *Backend {
	b := &Backend{}
	if opts != nil {
		b.opts = *opts
	}
	if b.opts.Table == "" {
		b.opts.Table = DefaultTable
	}
	if b.opts.LeaseTTL == 0 {
		b.opts.LeaseTTL = DefaultLeaseTTL
	}
	b.opts.SearchPath = slices.Clone(b.opts.SearchPath)
	if b.opts.Schema == "" && len(b.opts.SearchPath) > 0 {
		b.opts.Schema = b.opts.SearchPath[0]
	}
	switch db := any(db).(type) {
	case *pgxpool.Pool:
		b.pool = db
		if db != nil {
			b.stmtCache = db.Config().ConnConfig.StatementCacheCapacity > 0
			b.connected = func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, db.Config().ConnConfig) }
		}
	case *pgx.Conn:
		b.conn = db
		if db != nil {
			b.stmtCache = db.Config().StatementCacheCapacity > 0
			b.connected = func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, db.Config()) }
		}
	}
	if b.pool == nil && b.conn == nil {
		b.err = &OptionError{Option: "database", Value: "<nil>", Reason: "New needs a *pgxpool.Pool or a *pgx.Conn"}
	} else {
		b.err = b.opts.check()
	}
	b.table = ident(b.opts.Table)
	if b.opts.Schema != "" {
		b.table = ident(b.opts.Schema) + "." + b.table
	}
	b.appKey = literal(b.opts.AppKey)
	b.repeatKey = literal(b.opts.AppKey + RepeatableKeySuffix)
	b.mode = b.opts.Lock
	return b
}

// Check reports invalid options (an *OptionError wrapping
// backend.ErrBadOptions), or nil. It does not touch the database.
func (b *Backend) Check() error { return b.err }

// tableExists reports whether the history table exists, asking the server
// only until it has been found once (one more round trip), so that reading
// a database without one makes the server log no failed statement.
func (b *Backend) tableExists(ctx context.Context) (bool, error) {
	if b.found.Load() {
		return true, nil
	}
	raw, err := b.queryRow(ctx, "SELECT pg_catalog.to_regclass("+literal(b.table)+") IS NOT NULL")
	if err != nil {
		return false, fmt.Errorf("pgxbackend: look for the history table %s: %w", b.table, connError(err, false, false))
	}
	found := len(raw) == 1 && string(raw[0]) == "t"
	if found {
		b.found.Store(true)
	}
	return found, nil
}

// ReadState reads the history of the app key in one query, without a lock
// and without writing.
func (b *Backend) ReadState(ctx context.Context) ([]backend.Record, error) {
	if b.err != nil {
		return nil, b.err
	}
	if exists, err := b.tableExists(ctx); err != nil {
		return nil, err
	} else if !exists {
		return []backend.Record{}, nil
	}
	q, release, err := b.querier(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgxbackend: read history from %s: %w", b.table, err)
	}
	defer release()
	// Through pgx's query API, so that a tracer configured on the pool or
	// connection sees it; simple protocol, one round trip. A table of an
	// older format (no down scripts) takes a second one, until the first
	// run that takes the lock upgrades it.
	result, err := readRows(ctx, q, historyQuery(b.table, b.appKey, true))
	if undefinedColumn(err) {
		result, err = readRows(ctx, q, historyQuery(b.table, b.appKey, false))
	}
	records, found, err := parseHistory([]*pgconn.Result{result}, err, b.table)
	if err == nil && found {
		b.found.Store(true)
	}
	if records == nil && err == nil {
		records = []backend.Record{}
	}
	return records, err
}

// readRows runs query and returns its rows as raw values.
func readRows(ctx context.Context, q querier, query string) (*pgconn.Result, error) {
	var result pgconn.Result
	rows, err := q.Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return &result, err
	}
	for rows.Next() {
		raw := rows.RawValues()
		row := make([][]byte, len(raw))
		for i, v := range raw {
			if v != nil {
				row[i] = append([]byte{}, v...)
			}
		}
		result.Rows = append(result.Rows, row)
	}
	rows.Close()
	return &result, rows.Err()
}

// undefinedColumn reports whether err is PostgreSQL's undefined_column
// (42703): the history table is of a format before the columns asked for.
func undefinedColumn(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42703"
}

// querier is what *pgx.Conn and *pgxpool.Conn have in common that
// ReadState needs.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// querier returns the connection to read through: the single *pgx.Conn,
// or one acquired from the pool, which release gives back. A failure to
// acquire one is a *backend.ConnectError.
func (b *Backend) querier(ctx context.Context) (q querier, release func(), err error) {
	if b.pool == nil {
		return b.conn, func() {}, nil
	}
	c, err := b.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, connectError(b.pool, err)
	}
	return c, c.Release, nil
}

// historyQuery reads the history of appKey from table, with the down
// scripts' columns of format 3 (withDown) or without. Times come back as
// microseconds, so that the DateStyle and IntervalStyle settings of the
// server cannot change how they read.
func historyQuery(table, appKey string, withDown bool) string {
	down := ", NULL::boolean, NULL::text"
	if withDown {
		down = ", reversible, down_script"
	}
	return `SELECT version, name, checksum, dirty,
	(pg_catalog.date_part('epoch', applied_at) * 1000000)::bigint,
	(pg_catalog.date_part('epoch', execution_time) * 1000000)::bigint` + down + `
FROM ` + table + ` WHERE app_key = ` + appKey + ` ORDER BY version`
}

// parseHistory reads the records from the last result of a query that
// ended with historyQuery. found is false when the table does not exist.
func parseHistory(results []*pgconn.Result, err error, table string) (records []backend.Record, found bool, _ error) {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000"):
		return nil, false, nil // no table (or no schema): empty history
	case errors.As(err, &pgErr) && pgErr.Code == "42703":
		return nil, true, fmt.Errorf("pgxbackend: %s exists but is not a waymark history table: %w", table, err)
	case err != nil:
		return nil, true, fmt.Errorf("pgxbackend: read history from %s: %w", table, connError(err, false, false))
	case len(results) == 0:
		return nil, true, fmt.Errorf("pgxbackend: read history from %s: no result", table)
	}
	rows := results[len(results)-1].Rows
	records = make([]backend.Record, 0, len(rows))
	for _, row := range rows {
		r, err := scanRecord(row)
		if err != nil {
			return nil, true, fmt.Errorf("pgxbackend: read history from %s: %w", table, err)
		}
		records = append(records, r)
	}
	return records, true, nil
}

// scanRecord reads one row of historyQuery.
func scanRecord(row [][]byte) (backend.Record, error) {
	var r backend.Record
	if len(row) != 8 || row[0] == nil || row[1] == nil || row[2] == nil || row[4] == nil || row[5] == nil {
		return r, errors.New("unexpected row")
	}
	var err error
	if r.Version, err = strconv.ParseInt(string(row[0]), 10, 64); err != nil {
		return r, err
	}
	r.Name = string(row[1])
	if r.Checksum, err = source.ParseChecksum(string(row[2])); err != nil {
		return r, fmt.Errorf("version %d: %w", r.Version, err)
	}
	if row[3] != nil {
		if err := r.Dirty.UnmarshalText(row[3]); err != nil {
			return r, fmt.Errorf("version %d: dirty: %w", r.Version, err)
		}
	}
	appliedAt, err1 := strconv.ParseInt(string(row[4]), 10, 64)
	taken, err2 := strconv.ParseInt(string(row[5]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return r, fmt.Errorf("version %d: %w", r.Version, err)
	}
	r.AppliedAt = time.UnixMicro(appliedAt)
	r.Duration = time.Duration(taken) * time.Microsecond
	r.Imported = taken == 0
	// The down script (format 3; NULL before).
	switch {
	case string(row[6]) == "t" && row[7] != nil:
		r.Down, r.DownSQL = backend.DownKept, string(row[7])
	case string(row[6]) == "f":
		r.Down = backend.DownNone
	}
	return r, nil
}
