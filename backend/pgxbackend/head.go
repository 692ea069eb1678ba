package pgxbackend

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

var _ backend.HeadReader = (*Backend)(nil)

// headPlan is what ReadHead found once for a Backend, and the direct query
// built from it: the schema the history table resolved to, its oid (so
// that a later read notices the name resolving elsewhere), the lock key,
// and whether the lease table exists.
type headPlan struct {
	schema string
	key    int64
	oid    int64
	lease  bool
	query  string
}

// ReadHead reads, in one query that returns one row, the top record's
// version and digest, the digest of the repeatable scripts' records,
// whether a record is dirty (through the partial index on dirty records),
// and whether a session holds the migration lock: an advisory lock, or an
// unexpired lease. To see the advisory lock, the query
// takes the lock's key in shared mode (pg_try_advisory_lock_shared, which
// never waits) and gives it back in the same statement: for that instant a
// TryLock of another session finds the lock held, and tries again. It holds
// no lock when it returns, never waits, and writes nothing. A history kept
// before digests (format 1) or none at all reads as not Known.
//
// Until it has found the history table, ReadHead resolves the table and
// the lock key on the server and reads the table through
// pg_catalog.query_to_xml, only if it exists, so that a database without
// one logs no failed statement. Once it has found a table of format 2 or
// later (told by a record's digest: a table with no record yet is read
// the first way again), it keeps what does not change for the Backend (the table's schema, the lock
// key, whether a lease table exists) and reads the table directly: an
// index scan for one row and one entry of the partial index, the advisory
// lock's key, and the lease row only where a lease table exists. On a
// direct connection (the server's process id is the one the connection
// reports) that query is prepared, once per connection (that connection's
// first read is one more round trip); behind a pooler it uses the simple
// protocol. A read that finds the table gone or resolved elsewhere (an
// unqualified name, another schema now first in the search_path) goes back
// to the first kind of query in the same call.
func (b *Backend) ReadHead(ctx context.Context) (backend.Head, error) {
	if b.err != nil {
		return backend.Head{}, b.err
	}
	var conn *pgx.Conn = b.conn
	if b.pool != nil {
		pc, err := b.pool.Acquire(ctx)
		if err != nil {
			return backend.Head{}, fmt.Errorf("pgxbackend: read head: %w", connectError(b.pool, err))
		}
		defer pc.Release()
		conn = pc.Conn()
	}
	if hp := b.head.Load(); hp != nil {
		h, ok, err := b.readHeadDirect(ctx, conn, hp)
		if err != nil || ok {
			return h, err
		}
	}
	return b.readHeadFirst(ctx, conn)
}

// readHeadDirect reads the head with hp's query. It reports false, with no
// error, when the caller must read it with readHeadFirst: the server
// refused the query (the table was dropped, the prepared statement
// deallocated), or the table's name resolves to another table now.
func (b *Backend) readHeadDirect(ctx context.Context, conn *pgx.Conn, hp *headPlan) (backend.Head, bool, error) {
	mode := pgx.QueryExecModeSimpleProtocol
	if b.direct.Load() > 0 && b.stmtCache {
		mode = pgx.QueryExecModeCacheStatement
	}
	var (
		version             *int64
		digest, repeatables []byte
		dirty, busy, lease  bool
		oid                 *int64
		pid                 int64
		h                   backend.Head
		pgErr               *pgconn.PgError
	)
	err := conn.QueryRow(ctx, hp.query, mode).Scan(&version, &digest, &dirty, &busy, &lease, &oid, &pid, &repeatables)
	if errors.As(err, &pgErr) && pgErr.Severity != "FATAL" && pgErr.Severity != "PANIC" {
		b.head.CompareAndSwap(hp, nil)
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("pgxbackend: read head: %w", connError(err, false, conn.PgConn().IsClosed()))
	}
	b.learnDirect(conn, pid)
	if oid == nil || *oid != hp.oid {
		b.head.CompareAndSwap(hp, nil)
		return h, false, nil
	}
	if lease && !hp.lease {
		// A lease table appeared: from the next read on, the query looks at
		// it directly.
		b.head.CompareAndSwap(hp, b.newHeadPlan(hp.schema, hp.key, hp.oid, true))
	}
	h = backend.Head{Known: true, Dirty: dirty, Busy: busy}
	if repeatables != nil {
		// As readHeadFirst reads them: a digest no set has when it is not
		// one, so that the caller reads the records.
		h.Repeatables = source.Digest{0xff}
		if len(repeatables) == len(h.Repeatables) {
			copy(h.Repeatables[:], repeatables)
		}
	}
	if version != nil {
		h.Version = *version
		h.Known = len(digest) == len(h.Digest)
		copy(h.Digest[:], digest)
	}
	return h, true, nil
}

// learnDirect records whether conn reaches the server directly: the
// server's process id is the one the connection reported when it started
// (a pooler reports ids of its own).
func (b *Backend) learnDirect(conn *pgx.Conn, pid int64) {
	if uint32(pid) == conn.PgConn().PID() {
		b.direct.CompareAndSwap(0, 1)
	} else {
		b.direct.Store(-1)
	}
}

// newHeadPlan returns the direct head query for the history table in
// schema, of format 2, with oid and lock key key; lease says whether the
// lease table exists (if not, the query says when it does).
func (b *Backend) newHeadPlan(schema string, key, oid int64, lease bool) *headPlan {
	table := ident(schema) + "." + ident(b.opts.Table)
	leaseTable := ident(schema) + "." + ident(LeaseTable)
	leaseExists := "true"
	leaseBusy := fmt.Sprintf("EXISTS (SELECT FROM %s WHERE lock_key = %d AND expires_at > pg_catalog.clock_timestamp())", leaseTable, key)
	if !lease {
		leaseExists = fmt.Sprintf("pg_catalog.to_regclass(%s) IS NOT NULL", literal(leaseTable))
		leaseBusy = fmt.Sprintf(`CASE WHEN %s THEN (pg_catalog.xpath('/row/n/text()', pg_catalog.query_to_xml(%s, false, true, '')))[1]::text <> '0' ELSE false END`,
			leaseExists, literal(fmt.Sprintf("SELECT count(*) AS n FROM %s WHERE lock_key = %d AND expires_at > pg_catalog.clock_timestamp()", leaseTable, key)))
	}
	q := fmt.Sprintf(`SELECT t.version, t.digest, EXISTS (SELECT FROM %[1]s WHERE app_key = %[2]s AND dirty IS NOT NULL),
	CASE WHEN pg_catalog.pg_try_advisory_lock_shared(%[3]d) THEN NOT pg_catalog.pg_advisory_unlock_shared(%[3]d) ELSE true END OR %[4]s,
	%[5]s, pg_catalog.to_regclass(%[6]s)::oid::int8, pg_catalog.pg_backend_pid()::int8,
	(SELECT digest FROM %[1]s WHERE app_key = %[7]s ORDER BY version DESC LIMIT 1)
FROM (SELECT) AS o LEFT JOIN LATERAL (SELECT version, digest FROM %[1]s WHERE app_key = %[2]s ORDER BY version DESC LIMIT 1) AS t ON true`,
		table, b.appKey, key, leaseBusy, leaseExists, literal(b.table), b.repeatKey)
	return &headPlan{schema: schema, key: key, oid: oid, lease: lease, query: q}
}

// readHeadFirst reads the head without knowing whether the history table
// exists: the table and the lock key are resolved by the server, the top
// record read through query_to_xml only if the table exists. When it
// finds a table of format 2, it keeps a headPlan for the next reads.
func (b *Backend) readHeadFirst(ctx context.Context, conn *pgx.Conn) (backend.Head, error) {
	s := &session{b: b}
	busy := fmt.Sprintf(`CASE WHEN k.key IS NULL THEN false
		WHEN pg_catalog.pg_try_advisory_lock_shared(k.key) THEN NOT pg_catalog.pg_advisory_unlock_shared(k.key)
		ELSE true END,
	CASE WHEN k.schema IS NULL THEN NULL
		WHEN pg_catalog.to_regclass(pg_catalog.format('%%I.%%I', k.schema, %[1]s)) IS NOT NULL THEN
		(pg_catalog.xpath('/row/n/text()', pg_catalog.query_to_xml(pg_catalog.format(
			'SELECT count(*) AS n FROM %%I.%%I WHERE lock_key = %%s AND expires_at > pg_catalog.clock_timestamp()', k.schema, %[1]s, k.key),
			false, true, '')))[1]::text END`, literal(LeaseTable))
	// The top record and the repeatable scripts' digest are read through
	// query_to_xml, and only when the table exists, so that a database
	// without one does not make the server log a failed statement. The
	// inner query returns one row even when the app key has no versions (a
	// set of only repeatable scripts); a NULL is left out of its XML.
	top := fmt.Sprintf(`SELECT v.version, v.digest, v.dirty,
		(SELECT pg_catalog.to_jsonb(r) ->> 'digest' FROM %[1]s r WHERE app_key = %[3]s ORDER BY version DESC LIMIT 1) AS repeatables
	FROM (SELECT) one LEFT JOIN LATERAL (
		SELECT version, pg_catalog.to_jsonb(t) ->> 'digest' AS digest,
			EXISTS (SELECT FROM %[1]s WHERE app_key = %[2]s AND dirty IS NOT NULL) AS dirty
		FROM %[1]s t WHERE app_key = %[2]s ORDER BY version DESC LIMIT 1) v ON true`, b.table, b.appKey, b.repeatKey)
	q := fmt.Sprintf(`WITH k AS MATERIALIZED (%[1]s),
h AS MATERIALIZED (SELECT CASE WHEN pg_catalog.to_regclass(%[2]s) IS NOT NULL THEN
	pg_catalog.query_to_xml(%[3]s, false, false, '') END AS x)
SELECT (pg_catalog.xpath('//row/version/text()', h.x))[1]::text, (pg_catalog.xpath('//row/digest/text()', h.x))[1]::text,
	coalesce((pg_catalog.xpath('//row/dirty/text()', h.x))[1]::text = 'true', false), %[4]s, h.x IS NOT NULL,
	k.schema, k.key,
	CASE WHEN k.schema IS NULL THEN false ELSE pg_catalog.to_regclass(pg_catalog.format('%%I.%%I', k.schema, %[5]s)) IS NOT NULL END,
	pg_catalog.to_regclass(%[2]s)::oid::int8, pg_catalog.pg_backend_pid(),
	(pg_catalog.xpath('//row/repeatables/text()', h.x))[1]::text
FROM k, h`, s.keyExpr(), literal(b.table), literal(top), busy, literal(LeaseTable))
	raw, err := queryRow(ctx, conn, q)
	if err != nil {
		return backend.Head{}, fmt.Errorf("pgxbackend: read head: %w", connError(err, false, false))
	}
	if len(raw) != 12 {
		return backend.Head{}, fmt.Errorf("pgxbackend: read head: %d columns", len(raw))
	}
	found := string(raw[5]) == "t"
	b.found.Store(found)
	if pid, err := strconv.ParseInt(string(raw[10]), 10, 64); err == nil {
		b.learnDirect(conn, pid)
	}
	// A top record with a digest, or the repeatable scripts' record (of
	// format 4), says the table has the digest column (format 2 or
	// later), which the direct query reads: no catalog query of the
	// format is needed (on a new connection it costs more than the rest
	// of this read). A table without records, or of format 1, is read
	// this way again next time.
	if found && (raw[1] != nil || raw[11] != nil) && raw[6] != nil {
		key, err1 := strconv.ParseInt(string(raw[7]), 10, 64)
		oid, err2 := strconv.ParseInt(string(raw[9]), 10, 64)
		if err1 == nil && err2 == nil {
			b.head.Store(b.newHeadPlan(string(raw[6]), key, oid, string(raw[8]) == "t"))
		}
	}
	h := backend.Head{Dirty: string(raw[2]) == "t", Busy: string(raw[3]) == "t" || raw[4] != nil && string(raw[4]) != "0"}
	if raw[11] != nil {
		// Unreadable (a table of format 1 has no digests): a digest no
		// set has, so that the caller reads the records.
		h.Repeatables = source.Digest{0xff}
		if d, ok := strings.CutPrefix(string(raw[11]), `\x`); ok && len(d) == hex.EncodedLen(len(source.Digest{})) {
			hex.Decode(h.Repeatables[:], []byte(d))
		}
	}
	switch {
	case raw[0] == nil: // no records
		h.Known = true
	case raw[1] != nil:
		h.Version, err = strconv.ParseInt(string(raw[0]), 10, 64)
		if err != nil {
			return backend.Head{}, fmt.Errorf("pgxbackend: read head: version %q: %w", raw[0], err)
		}
		d, ok := strings.CutPrefix(string(raw[1]), `\x`)
		if ok && len(d) == hex.EncodedLen(len(source.Digest{})) {
			_, err := hex.Decode(h.Digest[:], []byte(d))
			h.Known = err == nil
		}
	}
	return h, nil
}

// queryRow runs a query that returns one row, with the simple protocol and
// through pgx's query API (so that a tracer sees it), and returns the row's
// raw values.
func (b *Backend) queryRow(ctx context.Context, q string) ([][]byte, error) {
	qr, release, err := b.querier(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return queryRow(ctx, qr, q)
}

// queryRow runs q on qr; see Backend.queryRow.
func queryRow(ctx context.Context, qr querier, q string) ([][]byte, error) {
	rows, err := qr.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var raw [][]byte
	for rows.Next() {
		for _, v := range rows.RawValues() {
			if v != nil {
				v = append([]byte{}, v...)
			}
			raw = append(raw, v)
		}
	}
	return raw, rows.Err()
}
