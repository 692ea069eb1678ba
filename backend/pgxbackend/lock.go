package pgxbackend

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
)

// TryLock tries once to take the migration lock, on a connection of its
// own (see the package doc).
func (b *Backend) TryLock(ctx context.Context) (backend.Session, error) {
	if b.err != nil {
		return nil, b.err
	}
	if err := ctx.Err(); err != nil {
		// A try whose context has ended could still win the race with its
		// cancel request, and hold a lock its caller has given up on.
		return nil, fmt.Errorf("pgxbackend: the context ended before the migration lock was tried: %w", err)
	}
	s := &session{b: b, conn: b.conn}
	if b.pool != nil {
		pc, err := b.pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("pgxbackend: acquire a connection for the migration lock: %w", connectError(b.pool, err))
		}
		s.pooled, s.conn = pc, pc.Conn()
	}
	if err := s.tryLock(ctx); err != nil {
		s.unlocked = true
		// A failed try may have taken the lock on a pooled connection
		// (its reply lost); closing the connection ends it.
		s.giveBack(!errors.Is(err, backend.ErrLocked))
		return nil, err
	}
	if s.unusable != nil {
		if err := s.schemasUsable(); err != nil {
			if uerr := s.Unlock(ctx); uerr != nil {
				err = errors.Join(err, uerr)
			}
			return nil, err
		}
	}
	return s, nil
}

// minServerVersion is the oldest PostgreSQL major version waymark runs on.
const minServerVersion = 14

// serverMajor returns the major version the server reports when the
// connection starts (no query), or 0.
func serverMajor(pc *pgconn.PgConn) int { return majorOf(pc.ParameterStatus("server_version")) }

// majorOf returns the major version of a server_version string such as
// "15.18 (Debian 15.18-0+deb12u1)", "14beta1" or "9.6.24", or 0.
func majorOf(v string) int {
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		v = v[:end]
	}
	n, _ := strconv.Atoi(v)
	return n
}

// tryLock takes the lock on the session's connection, or returns why not.
func (s *session) tryLock(ctx context.Context) error {
	pc := s.conn.PgConn()
	if scs := pc.ParameterStatus("standard_conforming_strings"); scs != "on" {
		return fmt.Errorf("pgxbackend: standard_conforming_strings is %q; waymark needs it on", scs)
	}
	if v := serverMajor(pc); v < minServerVersion {
		return fmt.Errorf("pgxbackend: the server is PostgreSQL %q; waymark needs %d or newer", pc.ParameterStatus("server_version"), minServerVersion)
	}
	mode, err := s.b.lockMode(ctx, s)
	if err != nil {
		return err
	}
	s.mode = mode
	if mode == LockLease {
		return s.tryLease(ctx)
	}
	return s.tryAdvisory(ctx)
}

// lockMode returns how to hold the lock: a lease for LockLease, or when
// LockAuto finds a connection pooler between waymark and the server, else
// the advisory lock. It asks once per Backend, with one query, whether the
// server process is the one the connection says it is (a pooler hands out
// process ids of its own). An explicit LockAdvisory behind a pooler is
// refused: the lock would stay on a pooled server connection, where other
// clients of the pooler would take it again as their own. A ReadHead of the
// Backend that compared the ids already saves that query.
func (b *Backend) lockMode(ctx context.Context, s *session) (LockMode, error) {
	b.modeOnce.Lock()
	defer b.modeOnce.Unlock()
	if b.opts.Lock == LockLease {
		return LockLease, nil
	}
	if b.mode == LockAuto || b.pooler == nil {
		// A ReadHead of this Backend may have compared the process ids
		// already (Migrate reads the head first).
		pooler := b.direct.Load() < 0
		if b.direct.Load() == 0 {
			results, err := s.query(ctx, "SELECT pg_catalog.pg_backend_pid()")
			if err != nil {
				return 0, fmt.Errorf("pgxbackend: look for a connection pooler: %w", connError(err, false, s.conn.PgConn().IsClosed()))
			}
			pooler = string(results[0].Rows[0][0]) != strconv.FormatUint(uint64(s.conn.PgConn().PID()), 10)
		}
		b.pooler = &pooler
		b.mode = LockAdvisory
		if pooler && b.opts.Lock == LockAuto {
			b.mode = LockLease
		}
	}
	if *b.pooler && b.mode == LockAdvisory {
		return 0, &OptionError{Option: "Options.Lock", Value: LockAdvisory.String(),
			Reason: "a connection pooler sits between waymark and PostgreSQL (the server's process id is not the one the connection reports), " +
				"where a session's advisory lock stays on a pooled server connection; use LockLease or LockAuto"}
	}
	return b.mode, nil
}

// keyExpr is the SQL of the schema the history table resolves to now
// (NULL if none) and of the lock key derived from it, the table and the
// app key, as columns "schema" and "key" of a one-row query. With
// Options.Schema empty, the schema is the table's, or the one CREATE TABLE
// would use. The key is computed by the server from the resolved names,
// so that two processes naming the same table differently ("" and
// "public") share one lock. The table's schema is found through the
// server's catalog caches (pg_identify_object gives it quoted, parse_ident
// unquotes it), not a join of pg_class and pg_namespace: on a new
// connection, planning that join costs about a millisecond of loading
// catalog metadata, which is most of a cold start's first read.
func (s *session) keyExpr() string {
	schema := literal(s.b.opts.Schema)
	if s.b.opts.Schema == "" {
		schema = fmt.Sprintf(`coalesce((pg_catalog.parse_ident((pg_catalog.pg_identify_object('pg_catalog.pg_class'::pg_catalog.regclass,
		pg_catalog.to_regclass(%s), 0)).schema))[1], pg_catalog.current_schema())`, literal(ident(s.b.opts.Table)))
	}
	return fmt.Sprintf(`SELECT schema, CASE WHEN schema IS NOT NULL THEN pg_catalog.hashtextextended(pg_catalog.format('waymark %%I.%%I %%L', schema, %s, %s), 0) END AS key
	FROM (SELECT %s AS schema) s`, literal(s.b.opts.Table), s.b.appKey, schema)
}

// pinned records the resolved schema and key of a session that took the
// lock: the history table stays in that schema whatever the search_path
// becomes.
func (s *session) pinned(schema, key []byte) error {
	if schema == nil {
		return errors.New("pgxbackend: no schema in the search_path for the history table; set Options.Schema")
	}
	var err error
	if s.key, err = strconv.ParseInt(string(key), 10, 64); err != nil {
		return fmt.Errorf("pgxbackend: lock key %q: %w", key, err)
	}
	s.schema = string(schema)
	s.table = ident(s.schema) + "." + ident(s.b.opts.Table)
	return nil
}

// holderColumns are the columns, in this order, that describe a holder in
// the queries below: id, application, client, since (epoch microseconds),
// query.
func holderOf(row [][]byte) backend.Holder {
	h := backend.Holder{ID: string(row[0]), Application: string(row[1]), Client: string(row[2]), Query: oneLine(string(row[4]))}
	if us, err := strconv.ParseInt(string(row[3]), 10, 64); err == nil {
		h.Since = time.UnixMicro(us)
	}
	return h
}

// oneLine shortens a query for a log line.
func oneLine(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 120 {
		q = short(q[:120]) + "..."
	}
	return q
}

// tryAdvisory tries pg_try_advisory_lock once. When another session holds
// the lock, the same query reads who it is from pg_locks and
// pg_stat_activity, through query_to_xml, so that the server plans that
// join only when the lock is taken (planning it costs more than the rest
// of the query). The holder's texts come base64-encoded, so that no
// character can upset the XML; a holder gone meanwhile reads as no row
// (an empty document, made NULL).
func (s *session) tryAdvisory(ctx context.Context) error {
	holder := `SELECT pg_catalog.encode(pg_catalog.convert_to('pid ' || a.pid, 'UTF8'), 'base64') AS id,
	pg_catalog.encode(pg_catalog.convert_to(a.application_name, 'UTF8'), 'base64') AS application,
	pg_catalog.encode(pg_catalog.convert_to(coalesce(a.client_addr::text, 'local'), 'UTF8'), 'base64') AS client,
	(pg_catalog.date_part('epoch', a.query_start) * 1000000)::bigint AS since,
	pg_catalog.encode(pg_catalog.convert_to(a.query, 'UTF8'), 'base64') AS query
FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
	AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
	AND l.classid = ((%1$s::bigint >> 32) & 4294967295)::oid AND l.objid = (%1$s::bigint & 4294967295)::oid
LIMIT 1`
	field := func(name string) string {
		return `(pg_catalog.xpath('/row/` + name + `/text()', h.x))[1]::text`
	}
	q := `WITH k AS MATERIALIZED (` + s.keyExpr() + `),
t AS MATERIALIZED (SELECT schema, key, CASE WHEN key IS NOT NULL THEN pg_catalog.pg_try_advisory_lock(key) END AS got,
	pg_catalog.pg_backend_pid() AS pid FROM k),
h AS MATERIALIZED (SELECT CASE WHEN NOT t.got THEN NULLIF(pg_catalog.query_to_xml(pg_catalog.format(` + literal(holder) + `, t.key), false, true, '')::text, '')::xml END AS x FROM t)
SELECT t.schema, t.key, t.got, t.pid, ` + field("id") + `, ` + field("application") + `, ` + field("client") + `,
	` + field("since") + `, ` + field("query") + `, ` + s.b.schemaCheck() + `
FROM t, h;
SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session' AND name NOT IN ('session_authorization', 'role', 'transaction_isolation', 'transaction_read_only', 'transaction_deferrable') ORDER BY name;
SELECT pg_catalog.current_setting('role'), session_user`
	results, err := s.query(ctx, q)
	if err == nil && s.b.hooks.lockTried != nil {
		err = s.b.hooks.lockTried(string(results[0].Rows[0][2]) == "t")
	}
	if err != nil {
		// If the try was cancelled after it took the lock, the lock
		// outlives the statement: give it back (a pooled connection gets
		// its locks released when it is given back).
		if s.pooled == nil && !s.conn.PgConn().IsClosed() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
			_, _ = s.query(uctx, "WITH k AS ("+s.keyExpr()+") SELECT pg_catalog.pg_advisory_unlock(key) FROM k WHERE key IS NOT NULL")
			cancel()
		}
		return fmt.Errorf("pgxbackend: try the migration lock: %w", connError(err, false, s.conn.PgConn().IsClosed()))
	}
	row := results[0].Rows[0]
	if string(row[2]) != "t" {
		if row[0] == nil {
			return s.pinned(nil, nil)
		}
		h := slices.Clone(row[4:9])
		for _, i := range []int{0, 1, 2, 4} {
			h[i], _ = base64.StdEncoding.AppendDecode(nil, h[i])
		}
		return fmt.Errorf("pgxbackend: try the migration lock: %w", &backend.LockedError{Holder: holderOf(h)})
	}
	s.locked = true
	if err := s.pinned(row[0], row[1]); err != nil {
		return err
	}
	s.pid = string(row[3])
	s.missing, s.unusable = string(row[9]) != "0", row[10]
	for _, r := range results[1].Rows {
		s.settings = append(s.settings, setting{name: string(r[0]), value: string(r[1])})
	}
	s.role, s.sessionUser = string(results[2].Rows[0][0]), string(results[2].Rows[0][1])
	return nil
}

// newHolderID returns a lease holder id that tells operators where the
// holder runs: host, process and a random part.
func newHolderID() string {
	host, _ := os.Hostname()
	var r [6]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))
}

// leaseTableDDL creates the lease table in schema.
func leaseTableDDL(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (
	lock_key    bigint      PRIMARY KEY,
	history     text        NOT NULL,
	holder      text        NOT NULL,
	application text        NOT NULL,
	client      text        NOT NULL,
	acquired_at timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL
)`
}

// leaseWait bounds how long a lease statement waits for the lease row,
// locked by the holder's running step: not at all, in effect.
const leaseWait = "100ms"

// tryLease tries once to take the lease: one query to resolve the history
// table and find the lease table, one transaction that reads the current
// holder and takes the lease if it is free or expired.
func (s *session) tryLease(ctx context.Context) error {
	results, err := s.query(ctx, `SELECT schema, key, CASE WHEN schema IS NULL THEN false
	WHEN EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.nspname = schema AND pg_catalog.has_schema_privilege(n.oid, 'USAGE'))
	THEN pg_catalog.to_regclass(pg_catalog.format('%I.%I', schema, '`+LeaseTable+`')) IS NOT NULL ELSE false END, `+
		s.b.schemaCheck()+` FROM (`+s.keyExpr()+`) k`)
	if err != nil {
		return fmt.Errorf("pgxbackend: try the migration lease: %w", connError(err, false, s.conn.PgConn().IsClosed()))
	}
	row := results[0].Rows[0]
	if err := s.pinned(row[0], row[1]); err != nil {
		return err
	}
	if err := s.b.unusableSchema(row[4]); err != nil {
		return err
	}
	s.leaseTable = ident(s.schema) + "." + ident(LeaseTable)
	s.holder = newHolderID()
	s.renewed.Store(time.Now().UnixNano())
	ttl := fmt.Sprintf("interval '%d milliseconds'", s.b.opts.LeaseTTL.Milliseconds())
	var q strings.Builder
	q.WriteString("BEGIN;\nSET LOCAL lock_timeout = '" + leaseWait + "';\n")
	if string(row[3]) != "0" {
		// The named schemas that do not exist yet, created in the
		// transaction that takes the lease (the lease table is in one).
		q.WriteString(strings.Join(s.b.createSchemas(), ";\n") + ";\n")
	}
	if string(row[2]) != "t" {
		fmt.Fprintf(&q, "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(%s, 0));\n%s;\n",
			literal("waymark create "+s.leaseTable), leaseTableDDL(s.leaseTable))
	}
	fmt.Fprintf(&q, `SELECT holder, application, client, (pg_catalog.date_part('epoch', acquired_at) * 1000000)::bigint, '' FROM %[1]s WHERE lock_key = %[2]d;
INSERT INTO %[1]s AS l (lock_key, history, holder, application, client, acquired_at, expires_at)
VALUES (%[2]d, %[3]s, %[4]s, pg_catalog.current_setting('application_name'), coalesce(pg_catalog.inet_client_addr()::text, 'local'),
	pg_catalog.clock_timestamp(), pg_catalog.clock_timestamp() + %[5]s)
ON CONFLICT (lock_key) DO UPDATE SET history = excluded.history, holder = excluded.holder, application = excluded.application,
	client = excluded.client, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
	WHERE l.expires_at < pg_catalog.clock_timestamp()
RETURNING 1;
COMMIT`, s.leaseTable, s.key, literal(s.table+" "+s.b.opts.AppKey), literal(s.holder), ttl)
	results, err = s.query(ctx, q.String())
	var holder *backend.Holder
	for _, r := range results {
		if len(r.FieldDescriptions) == 5 && len(r.Rows) == 1 {
			h := holderOf(r.Rows[0])
			holder = &h
		}
	}
	if err != nil {
		s.rollbackIfOpen(ctx)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available: a step holds the row
			if holder == nil {
				holder = &backend.Holder{ID: "a running step"}
			}
			return fmt.Errorf("pgxbackend: try the migration lease: %w", &backend.LockedError{Holder: *holder})
		}
		if errors.As(err, &pgErr) && pgErr.Code == "42501" && string(row[3]) != "0" { // insufficient_privilege
			return fmt.Errorf("pgxbackend: try the migration lease: %w", s.schemaError(err))
		}
		return fmt.Errorf("pgxbackend: try the migration lease: %w", connError(err, true, s.conn.PgConn().IsClosed()))
	}
	got := false
	for _, r := range results {
		if r.CommandTag.Insert() && r.CommandTag.RowsAffected() == 1 {
			got = true
		}
	}
	if !got {
		if holder == nil {
			holder = &backend.Holder{ID: "unknown"}
		}
		return fmt.Errorf("pgxbackend: try the migration lease: %w", &backend.LockedError{Holder: *holder})
	}
	s.locked = true
	s.startHeartbeat()
	return nil
}

// rollbackIfOpen rolls back a transaction that a failed query left open.
func (s *session) rollbackIfOpen(ctx context.Context) {
	if !s.conn.PgConn().IsClosed() && s.conn.PgConn().TxStatus() != 'I' {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		_, _ = s.query(rctx, "ROLLBACK")
		cancel()
	}
}

// fence returns the statement that, inside a step's transaction, proves
// the lock is still the session's: it divides by zero (SQLSTATE 22012)
// when it is not.
//
// For a lease it renews the lease and keeps its row locked until the step
// commits, so that no one takes over meanwhile. For the advisory lock it
// asks the lock manager, in three cheap calls evaluated in order (a CASE):
// take the lock at transaction level (which succeeds only if no other
// session holds it), release the session-level lock (which returns true
// only if this session held it) and take it again, which cannot wait, the
// transaction-level lock being the session's own. Session-level locks do not
// follow the transaction, so the lock stays held whatever becomes of the
// step. (Reading pg_locks would say the same at many times the cost: it
// copies the lock table of the whole server.)
func (s *session) fence() string {
	if s.mode == LockLease {
		return fmt.Sprintf(`WITH f AS (UPDATE %s SET expires_at = GREATEST(expires_at, pg_catalog.clock_timestamp() + interval '%d milliseconds')
	WHERE lock_key = %d AND holder = %s RETURNING 1)
SELECT 1 / (SELECT count(*)::int FROM f) AS "waymark:fence"`, s.leaseTable, s.b.opts.LeaseTTL.Milliseconds(), s.key, literal(s.holder))
	}
	return fmt.Sprintf(`SELECT 1 / CASE WHEN NOT pg_catalog.pg_try_advisory_xact_lock(%[1]d) THEN 0
	WHEN NOT pg_catalog.pg_advisory_unlock(%[1]d) THEN 0
	ELSE (SELECT 1 FROM (SELECT pg_catalog.pg_advisory_lock(%[1]d)) AS relock) END AS "waymark:fence"`, s.key)
}

// renewal returns the statement that extends the lease from now.
func (s *session) renewal() string {
	return fmt.Sprintf(`UPDATE %s SET expires_at = pg_catalog.clock_timestamp() + interval '%d milliseconds' WHERE lock_key = %d AND holder = %s`,
		s.leaseTable, s.b.opts.LeaseTTL.Milliseconds(), s.key, literal(s.holder))
}
