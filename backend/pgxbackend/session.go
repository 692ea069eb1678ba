package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/internal/sqlstmt"
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

// setting is a session setting the connection had made with SET when the
// lock was taken.
type setting struct{ name, value string }

// session holds the migration lock on one connection.
type session struct {
	b      *Backend
	conn   *pgx.Conn
	pooled *pgxpool.Conn // nil when the Backend has a single *pgx.Conn
	mode   LockMode      // LockAdvisory or LockLease
	locked bool          // the lock was taken (and must be released)

	schema, table string // the resolved history schema and the qualified table
	key           int64  // the lock key
	pid           string // the server process holding an advisory lock
	leaseTable    string // the qualified lease table
	holder        string // the lease holder id
	missing       bool   // a schema the options name may not exist: the next Apply creates it first
	schemaInTx    bool   // the transaction Begin opened creates the missing schemas
	fencedInTx    bool   // a step's fence passed in the transaction Begin opened
	unusable      []byte // the schemas the options name that the role may not use, or nil
	hb            *heartbeat

	// The session state to return to (advisory mode).
	settings          []setting // made with SET before the lock was taken
	role, sessionUser string

	tstate   tableState
	format   int     // the history table's format (1 to 4), once known (0: unknown)
	versions []int64 // the versions in the history, ascending, when known
	known    bool    // versions is known (read under the lock, kept since)
	// chain holds the running digest at each of versions, computed from
	// their checksums, when it is as long as versions: an insert on top
	// then sends its digest instead of reading the one below.
	chain    []source.Digest
	async    bool // a commit since the last durable one was asynchronous
	inTx     bool
	unlocked bool

	renewed  atomic.Int64  // when (unix ns) the latest query that may renew the lease was sent
	patience time.Duration // how long a reply may be late before probe checks on it (0: never)
	probing  bool          // the current round trip is one that probe can find
}

func (s *session) usable(ctx context.Context) error {
	if s.unlocked {
		return backend.ErrUnlocked
	}
	if s.hb != nil && s.hb.lost.Load() {
		return fmt.Errorf("%w: the lease %s held in %s was taken over after it expired", backend.ErrLockLost, s.holder, s.leaseTable)
	}
	return ctx.Err()
}

// ReadState reads the history under the lock.
func (s *session) ReadState(ctx context.Context) ([]backend.Record, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("pgxbackend: read state: %w", err)
	}
	if s.tstate == tableUnknown && !s.b.found.Load() {
		// A database that may have no history table: look for it first,
		// rather than fail a statement in the server's log.
		results, err := s.query(ctx, "SELECT pg_catalog.to_regclass("+literal(s.table)+") IS NOT NULL")
		if err != nil {
			return nil, fmt.Errorf("pgxbackend: look for the history table %s: %w", s.table, connError(err, false, s.conn.PgConn().IsClosed()))
		}
		if string(results[0].Rows[0][0]) != "t" {
			s.tstate = tableMissing
			s.versions, s.chain, s.known = nil, nil, true
			return []backend.Record{}, nil
		}
	}
	// The columns of format 3 unless the table is known to be older; when
	// the format is not known yet, outside a transaction, an older table
	// costs a second round trip (the failed query aborts nothing).
	withDown := s.format >= formatDown || s.format == 0 && !s.inTx
	results, err := s.query(ctx, "SELECT "+formatOf(s.table)+";\n"+historyQuery(s.table, s.b.appKey, withDown))
	if withDown && undefinedColumn(err) {
		results, err = s.query(ctx, "SELECT "+formatOf(s.table)+";\n"+historyQuery(s.table, s.b.appKey, false))
	}
	records, found, err := parseHistory(results, err, s.table)
	switch {
	case err != nil:
		return nil, err
	case !found:
		s.tstate = tableMissing
		s.versions, s.chain, s.known = nil, nil, true
		return records, nil
	}
	s.tstate = tableExists
	s.b.found.Store(true)
	s.versions, s.known = make([]int64, len(records)), true
	s.chain = make([]source.Digest, len(records))
	var d source.Digest
	for i, r := range records {
		s.versions[i] = r.Version
		d = source.Chain(d, r.Version, r.Checksum)
		s.chain[i] = d
	}
	s.format, _ = strconv.Atoi(string(results[0].Rows[0][0]))
	if s.format < formatCurrent && !s.inTx {
		// Not inside a transaction Begin opened: the upgrade is a
		// transaction of its own, which would end the caller's.
		if ok, err := s.upgrade(ctx, s.format); err != nil {
			return nil, err
		} else if ok {
			s.format = formatCurrent
		}
	}
	return records, nil
}

// ourSettings are set on a direct connection for the whole run, so that
// the server notices a client that died mid-step and stops its work: a
// check of the socket while a statement runs, and TCP keepalives.
var ourSettings = []setting{
	{"client_connection_check_interval", "250"},
	{"tcp_keepalives_idle", "15"},
	{"tcp_keepalives_interval", "5"},
	{"tcp_keepalives_count", "4"},
}

// restore returns the statements that bring the session back to the state
// it had when the lock was taken: settings, session user and role, no
// temporary tables. During the run (withOurs) the settings include
// ourSettings. Behind a pooler there is no state to keep: the server
// connection is reset to its defaults.
func (s *session) restore(withOurs bool) []string {
	if s.mode == LockLease {
		return s.withSearchPath([]string{"RESET ALL", "SET SESSION AUTHORIZATION DEFAULT", "RESET ROLE", "DISCARD TEMP"}, withOurs)
	}
	stmts := append([]string{"RESET ALL"}, s.identity()...)
	stmts = append(stmts, "DISCARD TEMP")
	if len(s.settings) > 0 {
		values := make([]string, len(s.settings))
		for i, st := range s.settings {
			values[i] = "(" + literal(st.name) + ", " + literal(st.value) + ")"
		}
		stmts = append(stmts, "SELECT pg_catalog.set_config(n, v, false) FROM (VALUES "+strings.Join(values, ", ")+") AS s(n, v)")
	}
	if withOurs {
		// Plain SETs of known names and values: a utility statement each,
		// which the server neither plans nor returns a row for.
		for _, st := range ourSettings {
			stmts = append(stmts, "SET "+st.name+" = "+st.value)
		}
	}
	return s.withSearchPath(stmts, withOurs)
}

// identity returns the statements that restore the session user and role
// the session had when it took the lock, so that the history is written as
// the user waymark connected as, whatever role a script set.
func (s *session) identity() []string {
	if s.mode == LockLease {
		return []string{"SET SESSION AUTHORIZATION DEFAULT", "RESET ROLE"}
	}
	stmts := []string{"SET SESSION AUTHORIZATION " + ident(s.sessionUser)}
	if s.role == "none" || s.role == "" {
		return append(stmts, "RESET ROLE")
	}
	return append(stmts, "SET ROLE "+ident(s.role))
}

// limits returns the statements that apply l: SET LOCAL inside a step's
// transaction (local), or session-wide SETs before a statement that runs
// alone, which also put back the session's own values of the limits it
// does not set.
func (s *session) limits(l backend.Limits, local bool) []string {
	var stmts []string
	for _, lim := range []struct {
		name string
		d    time.Duration
	}{{"lock_timeout", l.LockTimeout}, {"statement_timeout", l.StatementTimeout}} {
		switch {
		case lim.d > 0 && local:
			stmts = append(stmts, fmt.Sprintf("SET LOCAL %s = '%dms'", lim.name, max(lim.d.Milliseconds(), 1)))
		case lim.d > 0:
			stmts = append(stmts, fmt.Sprintf("SET %s = '%dms'", lim.name, max(lim.d.Milliseconds(), 1)))
		case !local:
			stmts = append(stmts, "RESET "+lim.name)
			for _, st := range s.settings {
				if st.name == lim.name {
					stmts[len(stmts)-1] = fmt.Sprintf("SET %s = %s", lim.name, literal(st.value))
				}
			}
		}
	}
	return stmts
}

// marker names the column of a statement that Apply sends between the
// migration's SQL and the history writes: an error before its result is the
// script's, an error after it is the history's.
const marker = "waymark:history"

// Apply sends, as one query (one round trip): BEGIN, the fence, the session
// reset and limits, the step's SQL, the creation of the history table if it
// is the first write, the history change, the lease renewal and COMMIT.
// Inside a transaction opened by Begin it leaves out BEGIN and COMMIT.
func (s *session) Apply(ctx context.Context, st backend.Step) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("pgxbackend: apply: %w", err)
	}
	if tx := s.conn.PgConn().TxStatus(); !s.inTx && tx != 'I' {
		return fmt.Errorf("pgxbackend: apply: the connection is inside a transaction (status %q) that waymark did not open; "+
			"a no-transaction script may have sent BEGIN without COMMIT", tx)
	}
	if err := s.searchPathUsable(opensNoTx(st.Change)); err != nil {
		return err
	}
	create, err := s.createTable(ctx)
	if err != nil {
		return err
	}
	change, err := s.change(st.Change)
	if err != nil {
		return err
	}
	own := !s.inTx // Apply opens and commits a transaction of its own
	var q strings.Builder
	q.Grow(len(st.SQL) + 2048)
	n := 0 // statements so far
	add := func(stmts ...string) {
		for _, stmt := range stmts {
			q.WriteString(stmt)
			q.WriteString(";\n")
			n++
		}
	}
	if own {
		add("BEGIN")
	}
	fenceAt := -1
	if !s.inTx || !s.fencedInTx || s.mode == LockLease {
		// Inside the transaction Begin opened, the first step's fence took
		// the advisory lock at transaction level, on the server connection
		// that transaction is bound to: no statement can release it before
		// the transaction ends, so the later steps need no fence. A lease's
		// fence also renews the lease: every step runs it.
		fenceAt = n
		add(s.fence())
	}
	add(s.restore(true)...)
	add(s.limits(st.Limits, true)...)
	if st.Async && own {
		add("SET LOCAL synchronous_commit = off")
	}
	schemaAt := -1
	if s.missing {
		// The named schemas that do not exist yet, before the step's SQL
		// (see "Schemas" in the package doc).
		schemaAt = n
		add(s.b.createSchemas()...)
	}
	prefix, scriptAt := n, q.Len()
	if st.SQL != "" {
		// The newline ends a trailing "--" comment.
		q.WriteString(st.SQL)
		q.WriteString("\n;\n")
	}
	add(`SELECT 1 AS "` + marker + `"`)
	add(s.identity()...)
	add(create...)
	add(change...)
	if s.mode == LockLease {
		add(s.renewal())
	}
	if own {
		add("COMMIT")
		if s.mode == LockLease {
			add(s.restore(false)...) // leave the pooler's server connection clean
		}
	}
	query := q.String()

	var done int
	var history bool
	err = s.watched(st.Limits, func() (err error) {
		done, history, err = s.exec(ctx, query)
		return err
	})
	if own {
		// A durable commit flushes the earlier asynchronous ones; a
		// failed one flushes nothing, and an asynchronous one whose
		// outcome is unknown may have committed.
		if err == nil {
			s.async = st.Async
		} else {
			s.async = s.async || st.Async
		}
	}
	if err == nil {
		s.fencedInTx = s.inTx
		if create != nil {
			s.tstate = tableExists
		}
		if schemaAt >= 0 {
			s.missing, s.schemaInTx = false, s.inTx
		}
		s.moved(st.Change)
		return nil
	}
	if s.inTx {
		s.known = false // the transaction's earlier changes will be undone
	}
	closed := s.conn.PgConn().IsClosed()
	if own && !closed && s.conn.PgConn().TxStatus() != 'I' {
		// The failed statement left the block aborted.
		if _, _, rerr := s.exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
		}
	}
	var lost *backend.ConnectionError
	if cerr := connError(err, own, closed); cerr != err || errors.As(err, &lost) {
		return fmt.Errorf("pgxbackend: apply version %d: %w", st.Change.Record.Version, cerr)
	}
	var pgErr *pgconn.PgError
	isPg := errors.As(err, &pgErr)
	if isPg && pgErr.Position > 0 {
		// A syntax error fails the whole query before any of it runs: the
		// position says whose it is.
		if off := s.offset(query, pgErr.Position); off >= scriptAt && off < scriptAt+len(st.SQL) {
			return s.scriptError(query, scriptAt, len(st.SQL), 0, err)
		}
	}
	switch {
	case done == fenceAt && isPg && pgErr.Code == "22012":
		return fmt.Errorf("pgxbackend: apply version %d: %w: %s", st.Change.Record.Version, backend.ErrLockLost, s.lostHint())
	case schemaAt >= 0 && done >= schemaAt && done < prefix:
		return fmt.Errorf("pgxbackend: apply version %d: %w", st.Change.Record.Version, s.schemaError(err))
	case done < prefix:
		return fmt.Errorf("pgxbackend: apply version %d: prepare the session: %w", st.Change.Record.Version, err)
	case !history:
		return s.scriptError(query, scriptAt, len(st.SQL), done-prefix, err)
	}
	if isPg {
		switch pgErr.Code {
		case "23505": // unique_violation of the primary key
			return fmt.Errorf("pgxbackend: %s version %d: %w", st.Change.Op, st.Change.Record.Version, backend.ErrExists)
		case "22012": // the division that reports "no row changed"
			return fmt.Errorf("pgxbackend: %s version %d: %w", st.Change.Op, st.Change.Record.Version, backend.ErrNotRecorded)
		}
	}
	return fmt.Errorf("pgxbackend: write history of version %d to %s: %w", st.Change.Record.Version, s.table, err)
}

// moved keeps track of the history's versions after ch took effect.
func (s *session) moved(ch backend.Change) {
	if !s.known {
		return
	}
	v := ch.Record.Version
	i, found := slices.BinarySearch(s.versions, v)
	switch {
	case ch.Op == backend.Insert && !found:
		if len(s.chain) == len(s.versions) && i == len(s.versions) {
			s.chain = append(s.chain, source.Chain(s.topDigest(), v, ch.Record.Checksum))
		} else {
			s.chain = nil
		}
		s.versions = slices.Insert(s.versions, i, v)
	case ch.Op == backend.Delete && found:
		if len(s.chain) == len(s.versions) && i == len(s.versions)-1 {
			s.chain = s.chain[:i]
		} else {
			s.chain = nil
		}
		s.versions = slices.Delete(s.versions, i, i+1)
	}
}

// topDigest returns the running digest of the history's top version (the
// zero digest of an empty history); valid when chain is known.
func (s *session) topDigest() source.Digest {
	if len(s.chain) == 0 {
		return source.Digest{}
	}
	return s.chain[len(s.chain)-1]
}

// chainKnown reports whether the session knows the running digest of
// every version in the history.
func (s *session) chainKnown() bool {
	return s.known && len(s.chain) == len(s.versions)
}

// onTop reports whether version v is (or, for an insert, would be) the
// highest of the history, as far as the session knows.
func (s *session) onTop(v int64, inserting bool) bool {
	if !s.known {
		return false
	}
	n := len(s.versions)
	if inserting {
		return n == 0 || v > s.versions[n-1]
	}
	return n > 0 && v == s.versions[n-1]
}

// lostHint says what to do about a lost lock.
func (s *session) lostHint() string {
	if s.mode == LockLease {
		return "the lease no longer names this session as its holder (it expired and another session took it over); nothing of this step ran"
	}
	return "this step's transaction runs on a server process that does not hold the advisory lock, so nothing of it ran; " +
		"a transaction-mode connection pooler (such as PgBouncer with pool_mode = transaction) is the likely cause: " +
		"use pgxbackend.Options{Lock: pgxbackend.LockLease}, or connect waymark to PostgreSQL directly"
}

// offset turns a position the server reported in query (characters,
// from 1) into a byte offset.
func (s *session) offset(query string, pos int32) int {
	if s.conn.PgConn().ParameterStatus("server_encoding") == "SQL_ASCII" {
		return int(pos) - 1
	}
	return sqlsplit.CharOffset(query, int(pos))
}

// scriptError locates an error raised by the migration's SQL, which is
// query[at:at+n], of which done statements completed.
func (s *session) scriptError(query string, at, n, done int, err error) error {
	off := -1
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Position > 0 {
		if off = s.offset(query, pgErr.Position) - at; off < 0 || off >= n {
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

// Exec runs one statement of a no-transaction script on its own, after a
// query that checks the fence and sets the limits. A statement that builds
// an index concurrently is followed by a check that the index is valid.
func (s *session) Exec(ctx context.Context, sql string, limits backend.Limits) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("pgxbackend: exec: %w", err)
	}
	if s.inTx {
		return fmt.Errorf("pgxbackend: exec: %w", backend.ErrInTransaction)
	}
	if err := s.searchPathUsable(true); err != nil {
		return err
	}
	pre := []string{s.fence()}
	if s.mode != LockLease {
		// Behind a pooler the statement may run on another server
		// connection: session settings would go astray.
		pre = append(pre, s.limits(limits, false)...)
	}
	build, builds := sqlstmt.BuildsIndexConcurrently(sql)
	if builds {
		// The invalid indexes of the table before the build, in the same
		// round trip: a failed build names only those it left.
		pre = append(pre, invalidIndexes(build, false))
	}
	var results []*pgconn.Result
	if err := s.watched(limits, func() (err error) {
		results, err = s.query(ctx, strings.Join(pre, ";\n"))
		return err
	}); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "22012" {
			return fmt.Errorf("pgxbackend: exec: %w: %s", backend.ErrLockLost, s.lostHint())
		}
		return fmt.Errorf("pgxbackend: exec: %w", connError(err, false, s.conn.PgConn().IsClosed()))
	}
	var done int
	run := func() (err error) {
		done, _, err = s.exec(ctx, sql)
		return err
	}
	var err error
	if s.mode == LockLease {
		// Behind a pooler the statement's server process cannot be found
		// (its text does not name the holder): only the context ends a wait.
		err = run()
	} else {
		err = s.watched(limits, run)
	}
	if err != nil {
		// Outside a transaction, the statement may have taken effect.
		var lost *backend.ConnectionError
		if cerr := connError(err, true, s.conn.PgConn().IsClosed()); cerr != err || errors.As(err, &lost) {
			return fmt.Errorf("pgxbackend: exec: %w", cerr)
		}
		se := s.scriptError(sql, 0, len(sql), done, err)
		if builds {
			s.failedBuild(ctx, se.(*backend.ScriptError), build, indexes(results[len(results)-1]))
		}
		return se
	}
	if builds {
		return s.checkIndex(ctx, sql, build)
	}
	return nil
}

// index is an index, by oid and by its schema-qualified, quoted name.
type index struct{ oid, name string }

// invalidIndexes returns the query of the invalid indexes (indisvalid
// false, whether or not indisready) of the table that build builds
// indexes of, or with named, of the index build names if it names one;
// ordered by name. A build that failed while it built the index leaves
// indisready false, one that failed while it validated the index (a
// timeout, a cancel, a duplicate inserted meanwhile) leaves it true: both
// are invalid.
func invalidIndexes(build sqlstmt.IndexBuild, named bool) string {
	var where string
	switch {
	case build.Index != "" && named:
		where = "i.indexrelid = pg_catalog.to_regclass(" + literal(build.Index) + ")"
	case build.Index != "" && build.Table != "":
		where = "i.indrelid = coalesce(pg_catalog.to_regclass(" + literal(build.Table) + "), (SELECT indrelid FROM pg_catalog.pg_index WHERE indexrelid = pg_catalog.to_regclass(" + literal(build.Index) + ")))"
	case build.Index != "":
		where = "i.indrelid = (SELECT indrelid FROM pg_catalog.pg_index WHERE indexrelid = pg_catalog.to_regclass(" + literal(build.Index) + "))"
	default:
		where = "i.indrelid = pg_catalog.to_regclass(" + literal(build.Table) + ")"
	}
	return `SELECT i.indexrelid::int8, pg_catalog.format('%I.%I', n.nspname, c.relname) AS name
FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND ` + where + ` ORDER BY 2`
}

// indexes reads the rows of an invalidIndexes query.
func indexes(r *pgconn.Result) []index {
	var out []index
	for _, row := range r.Rows {
		out = append(out, index{oid: string(row[0]), name: string(row[1])})
	}
	return out
}

// failedBuild adds to se, the error of a statement that builds an index
// concurrently, the indexes the failure left invalid (those of the table
// that were not invalid before it) and the statements that drop them; and,
// when the statement failed because its index exists already (42P07) and
// that index is invalid, says so. It needs the connection: after a broken
// one it adds nothing. The check runs whether the statement failed while
// it built the index or while it validated it, and after a cancel too.
func (s *session) failedBuild(ctx context.Context, se *backend.ScriptError, build sqlstmt.IndexBuild, before []index) {
	if s.conn.PgConn().IsClosed() || s.conn.PgConn().TxStatus() != 'I' {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()
	named := "NULL::int8"
	if build.Index != "" {
		named = "pg_catalog.to_regclass(" + literal(build.Index) + ")::oid::int8"
	}
	results, err := s.query(cctx, invalidIndexes(build, false)+";\nSELECT "+named)
	if err != nil {
		return
	}
	after := indexes(results[0])
	var left []index
	for _, ix := range after {
		if !slices.Contains(before, ix) {
			left = append(left, ix)
		}
	}
	var pgErr *pgconn.PgError
	if len(left) == 0 && build.Index != "" && errors.As(se.Err, &pgErr) && pgErr.Code == "42P07" && results[1].Rows[0][0] != nil {
		oid := string(results[1].Rows[0][0])
		for _, ix := range before {
			if ix.oid == oid {
				se.Err = fmt.Errorf("%w; %w: %s already exists and is INVALID (an earlier build of it failed); %s",
					se.Err, backend.ErrInvalidIndex, ix.name, dropAdvice([]index{ix}))
				return
			}
		}
	}
	if len(left) == 0 {
		return
	}
	se.Err = fmt.Errorf("%w; %w: %s INVALID, left by the failed statement; %s", se.Err, backend.ErrInvalidIndex, invalidList(left), dropAdvice(left))
}

// dropAdvice says why invalid indexes ixs must go and gives the
// statements that drop them, each ended by ";".
func dropAdvice(ixs []index) string {
	stmts := make([]string, len(ixs))
	for i, ix := range ixs {
		stmts[i] = "DROP INDEX CONCURRENTLY " + ix.name + ";"
	}
	why, drop := "it enforces nothing and no query uses it", "drop it with "
	if len(ixs) > 1 {
		why, drop = "they enforce nothing and no query uses them", "drop them with "
	}
	return why + ": " + drop + strings.Join(stmts, " ") + " then resolve the version as not applied and run again"
}

// checkIndex fails a statement that built an index concurrently and left
// it, or another index of its table, invalid: a failed CREATE INDEX
// CONCURRENTLY leaves one behind, and CREATE INDEX CONCURRENTLY IF NOT
// EXISTS then "succeeds" without building anything. Invalid means
// indisvalid false, whichever phase the build failed in.
func (s *session) checkIndex(ctx context.Context, sql string, build sqlstmt.IndexBuild) error {
	results, err := s.query(ctx, invalidIndexes(build, true))
	if err != nil {
		return fmt.Errorf("pgxbackend: check the index that %q built: %w", oneLine(sql), connError(err, false, s.conn.PgConn().IsClosed()))
	}
	invalid := indexes(results[0])
	if len(invalid) == 0 {
		return nil
	}
	return &backend.ScriptError{Pos: locate(sql, -1, 0),
		Err: fmt.Errorf("%w: %s INVALID after the statement; %s", backend.ErrInvalidIndex, invalidList(invalid), dropAdvice(invalid))}
}

// invalidList names ixs: "a is", "a, b are".
func invalidList(ixs []index) string {
	names := make([]string, len(ixs))
	for i, ix := range ixs {
		names[i] = ix.name
	}
	if len(ixs) == 1 {
		return names[0] + " is"
	}
	return strings.Join(names, ", ") + " are"
}

// Begin opens the transaction of a whole plan.
func (s *session) Begin(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return fmt.Errorf("pgxbackend: begin: %w", err)
	}
	if s.inTx {
		return fmt.Errorf("pgxbackend: begin: %w", backend.ErrInTransaction)
	}
	if tx := s.conn.PgConn().TxStatus(); tx != 'I' {
		return fmt.Errorf("pgxbackend: begin: the connection is inside a transaction (status %q) that waymark did not open", tx)
	}
	if _, _, err := s.exec(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("pgxbackend: begin: %w", connError(err, false, s.conn.PgConn().IsClosed()))
	}
	s.inTx, s.schemaInTx, s.fencedInTx = true, false, false
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
	q := "COMMIT"
	if s.mode == LockLease {
		q = s.renewal() + ";\nCOMMIT;\n" + strings.Join(s.restore(false), ";\n")
	}
	var results []*pgconn.Result
	err := s.watched(backend.Limits{}, func() (err error) {
		results, err = s.query(ctx, q)
		return err
	})
	s.inTx = false
	if err != nil {
		return fmt.Errorf("pgxbackend: commit: %w", connError(err, true, s.conn.PgConn().IsClosed()))
	}
	for _, r := range results {
		if r.CommandTag.String() == "ROLLBACK" {
			if s.schemaInTx {
				s.missing = true
			}
			s.schemaInTx = false
			return errors.New("pgxbackend: commit: the transaction had failed and was rolled back")
		}
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
	if s.schemaInTx {
		s.missing, s.schemaInTx = true, false // and so are its schemas
	}
	s.known = false
	if _, _, err := s.exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
		return fmt.Errorf("pgxbackend: rollback: %w", connError(err, false, s.conn.PgConn().IsClosed()))
	}
	return nil
}

// exec runs query (one or more statements) with the simple protocol. It
// returns how many of its statements completed, and whether the marker
// statement (see Apply) was among them.
func (s *session) exec(ctx context.Context, query string) (done int, marked bool, err error) {
	s.sending()
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
	s.sending()
	err = s.watch(ctx, func(ctx context.Context) error {
		results, err = s.conn.PgConn().Exec(ctx, query).ReadAll()
		return err
	})
	return results, err
}

// sending notes, under a lease, that a query that may renew it is about to
// be sent: the lease then lasts at most LeaseTTL from now (see
// releaseLease).
func (s *session) sending() {
	if s.mode == LockLease {
		s.renewed.Store(time.Now().UnixNano())
	}
}
