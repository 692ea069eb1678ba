// Package measure runs a plan's steps on a scratch database and records
// what each statement really did: the locks its backend held, the tables
// and indexes it rewrote, the tables it read in full, the indexes it left
// invalid, and how long it took.
//
// It is the measured half of waymark's hazard analysis; package
// [github.com/waymarkdb/waymark/hazard] is the static half, and package
// [github.com/waymarkdb/waymark/hazard/review] puts the two side by side.
//
// # The scratch database
//
// [Run] changes the database it is given: it applies the plan's SQL, and
// never on the database the plan is for. Give it a scratch database at
// the plan's starting version: a clone of a migrated template, or an empty
// database for a plan from version 0. It does not read or write waymark's
// history table, and it leaves the database at the plan's last version.
//
// # How a statement is measured
//
// The steps run in order, each as execute would run it. A transactional
// step runs in one transaction, and after each of its statements the
// session reads, in one round trip, its own rows of pg_locks, the files
// of every relation (pg_class.relfilenode), the indexes' validity, and its
// transaction's sequential-scan counts (pg_stat_xact_user_tables);
// comparing them with the readings before the statement gives its
// rewrites and scans. A lock shows in pg_locks until the transaction ends,
// so a statement's locks include those that earlier statements of its
// step took ([Lock].Since tells them apart).
//
// A no-transaction step runs statement by statement. Each statement is
// first run in a transaction of its own, which is what running it alone
// amounts to, and measured the same way. A statement that refuses a
// transaction block (CREATE INDEX CONCURRENTLY, REINDEX CONCURRENTLY,
// VACUUM, a procedure that commits) is then run on its own while two
// other sessions watch its rows of pg_locks, so that the same statement
// gives the same report every time:
//
//   - Before it starts, one session holds SHARE ROW EXCLUSIVE on every
//     table, so that its first lock of SHARE UPDATE EXCLUSIVE or stronger
//     (or a write's ROW EXCLUSIVE) waits, and is seen for certain, however
//     quickly the statement would take it and go on (VACUUM of a small
//     table waits for nothing else). At that wait the session lets go.
//   - One of the sessions at a time holds a snapshot and an ACCESS SHARE
//     lock on every table, so that the statement's next wait (for a lock
//     it needs, or for older snapshots) is seen for certain, with the
//     locks it holds meanwhile; then the other session holds, and the
//     first lets the statement go on to its next wait.
//   - A relation the statement removed was locked ACCESS EXCLUSIVE at the
//     end (the old index of DROP INDEX CONCURRENTLY and REINDEX
//     CONCURRENTLY): the lock is reported from the drop, which the
//     readings see for certain.
//   - Per relation only the strongest mode seen is kept, from SHARE
//     UPDATE EXCLUSIVE up; a lock on an index, TOAST table or sequence
//     that its table's covers, and locks on what the statement created,
//     are left out. Whether the watch sees those between two waits
//     depends on timing.
//
// The time the statement waited for the watch is left out of its
// duration, to within a round trip. Scans cannot be counted outside a
// transaction.
//
// # Sample rows
//
// On an empty scratch database every statement is quick, though its locks
// and rewrites are the same as on a big table. [Options].Seed can fill the
// tables before each step, so that durations say something.
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
	"github.com/waymarkdb/waymark/internal/errfmt"
	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Sentinel errors. Use [errors.Is].
var (
	// ErrStatement: a statement of the plan failed on the scratch
	// database.
	ErrStatement = errors.New("statement failed on the scratch database")
	// ErrMeasure: reading the measurements, or a Seed hook, failed.
	ErrMeasure = errors.New("measure")
)

// Error is a failure of [Run]. It names the step's file, and the place
// of the statement when a statement failed.
type Error struct {
	// Pos is the failing statement's place, with the server's error
	// position mapped into the file when it gives one; only Path is set
	// for a failure outside a statement.
	Pos source.Position
	// Version is the step's version.
	Version int64
	// Err is ErrStatement or ErrMeasure.
	Err error
	// Cause is the underlying error, such as a *pgconn.PgError.
	Cause error
}

// Error formats the failure as "path:line:col: statement failed on the
// scratch database: cause", or "measure: version N (path): cause".
func (e *Error) Error() string {
	if e.Err == ErrStatement {
		return e.Pos.String() + ": " + e.Err.Error() + errfmt.Tail("", e.Cause)
	}
	return fmt.Sprintf("measure: version %d (%s)%s", e.Version, e.Pos.Path, errfmt.Tail("", e.Cause))
}

// Unwrap returns Err and Cause.
func (e *Error) Unwrap() []error { return errfmt.Unwrap(e.Err, e.Cause) }

// Options configure [Run]. A nil *Options means the defaults.
type Options struct {
	// Seed, when set, is called before each step, outside any
	// transaction, with the connection the steps run on and the step about
	// to run: it can insert sample rows into the tables that exist so far.
	// Its error stops the run. Default nil.
	Seed func(ctx context.Context, conn *pgx.Conn, step plan.Step) error
}

// Run applies the steps of p, in order, on conn, a scratch database at
// p's starting version (see the package doc), and measures every
// statement. On a failure it returns what it measured so far, the failing
// statement included, and an [*Error].
func Run(ctx context.Context, conn *pgx.Conn, p *plan.Plan, opts *Options) (*Report, error) {
	if opts == nil {
		opts = &Options{}
	}
	m := &measurer{conn: conn, opts: opts, desc: map[uint32]relDesc{}, ignored: map[uint32]bool{}}
	defer m.close()
	r := &Report{}
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.current_setting('server_version_num')::int, pg_catalog.current_setting('server_version')").
		Scan(&r.ServerVersion, &r.Server); err != nil {
		return nil, fmt.Errorf("measure: read the server version: %w", err)
	}
	for _, step := range p.Steps {
		if opts.Seed != nil {
			if err := opts.Seed(ctx, conn, step); err != nil {
				return r, &Error{Pos: source.Position{Path: step.Path}, Version: step.Version, Err: ErrMeasure, Cause: fmt.Errorf("seed: %w", err)}
			}
		}
		st, err := m.step(ctx, step)
		if st != nil {
			r.Steps = append(r.Steps, *st)
		}
		if err != nil {
			return r, err
		}
	}
	return r, nil
}

// measurer holds the state of one Run.
type measurer struct {
	conn     *pgx.Conn
	opts     *Options
	watchers [2]*pgx.Conn // the sessions that watch a statement outside a transaction, opened when first needed

	// What is known of the relations seen so far, by OID; ignored holds
	// the OIDs of relations that do not count (temporary ones).
	desc    map[uint32]relDesc
	ignored map[uint32]bool

	// The step being measured.
	version  int64
	path     string
	existing map[uint32]relRow // at the step's start
	prev     snapshot          // before the statement being measured
	held     map[lockKey]int   // locks of the open transaction: the statement that first held each
}

type lockKey struct {
	oid  uint32
	mode hazard.LockMode
}

func (m *measurer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, w := range m.watchers {
		if w != nil {
			w.Close(ctx)
			m.watchers[i] = nil
		}
	}
}

// step runs and measures one step.
func (m *measurer) step(ctx context.Context, step plan.Step) (*Step, error) {
	m.version, m.path = step.Version, step.Path
	sc, err := source.ParseScript(step.Path, []byte(step.SQL), step.Direction)
	if err != nil {
		return nil, m.fail(ErrMeasure, source.Position{Path: step.Path}, "", err)
	}
	out := &Step{Version: step.Version, Name: step.Name, Path: step.Path, Direction: step.Direction, NoTransaction: step.NoTransaction}
	if step.NoTransaction {
		err = m.noTransaction(ctx, sc, out)
	} else {
		err = m.transaction(ctx, sc, out)
	}
	for _, s := range out.Statements {
		out.Duration += s.Duration
	}
	return out, err
}

// transaction measures a transactional step: BEGIN, each statement and
// its readings, COMMIT.
func (m *measurer) transaction(ctx context.Context, sc *source.Script, out *Step) error {
	snap, err := m.read(ctx, "BEGIN")
	if err != nil {
		return err
	}
	m.startStep(snap, out)
	for _, s := range sc.Statements {
		st, err := m.measured(ctx, s, len(out.Statements)+1)
		out.Statements = append(out.Statements, st)
		if err != nil {
			m.rollback()
			return err
		}
	}
	start := time.Now()
	if _, err := m.conn.PgConn().Exec(ctx, "COMMIT").ReadAll(); err != nil {
		return m.fail(ErrStatement, source.Position{Path: sc.Path}, "COMMIT", err)
	}
	if n := len(out.Statements); n > 0 {
		// A deferred constraint is checked at COMMIT; count its time.
		out.Statements[n-1].Duration += time.Since(start)
	}
	return nil
}

// noTransaction measures a no-transaction step statement by statement.
func (m *measurer) noTransaction(ctx context.Context, sc *source.Script, out *Step) error {
	snap, err := m.read(ctx, "")
	if err != nil {
		return err
	}
	m.startStep(snap, out)
	inTx := false // inside a transaction the script began
	for _, s := range sc.Statements {
		n := len(out.Statements) + 1
		switch control(s.SQL) {
		case "begin":
			st, err := m.control(ctx, s)
			out.Statements = append(out.Statements, st)
			if err != nil {
				return err
			}
			if m.prev, err = m.read(ctx, ""); err != nil {
				return err
			}
			m.held = map[lockKey]int{}
			inTx = true
			continue
		case "end":
			st, err := m.control(ctx, s)
			out.Statements = append(out.Statements, st)
			if err != nil {
				return err
			}
			inTx = false
			continue
		}
		if inTx {
			st, err := m.measured(ctx, s, n)
			out.Statements = append(out.Statements, st)
			if err != nil {
				m.rollback()
				return err
			}
			continue
		}
		// Alone, the statement is a transaction of its own: measure it
		// in one, unless it refuses a transaction block.
		if m.prev, err = m.read(ctx, "BEGIN"); err != nil {
			return err
		}
		m.held = map[lockKey]int{}
		st, err := m.measured(ctx, s, n)
		if err == nil {
			if _, err := m.conn.PgConn().Exec(ctx, "COMMIT").ReadAll(); err != nil {
				out.Statements = append(out.Statements, st)
				return m.fail(ErrStatement, s.Pos, s.SQL, err)
			}
			out.Statements = append(out.Statements, st)
			continue
		}
		m.rollback()
		if !refusesTransaction(err) {
			out.Statements = append(out.Statements, st)
			return err
		}
		st, err = m.observed(ctx, s, n)
		out.Statements = append(out.Statements, st)
		if err != nil {
			return err
		}
	}
	return nil
}

// refusesTransaction reports whether a statement failed because it cannot
// run inside a transaction block: CREATE INDEX CONCURRENTLY and VACUUM
// (active_sql_transaction), or a procedure that commits
// (invalid_transaction_termination).
func refusesTransaction(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "25001" || pgErr.Code == "2D000")
}

// control runs a no-transaction script's own BEGIN or COMMIT.
func (m *measurer) control(ctx context.Context, s source.Statement) (Statement, error) {
	st := Statement{Pos: s.Pos, SQL: s.SQL, Control: true}
	start := time.Now()
	_, err := m.conn.PgConn().Exec(ctx, s.SQL).ReadAll()
	st.Duration = time.Since(start)
	if err != nil {
		return st, m.fail(ErrStatement, s.Pos, s.SQL, err)
	}
	return st, nil
}

// startStep records the relations that exist as the step begins.
func (m *measurer) startStep(snap snapshot, out *Step) {
	m.existing = snap.rels
	m.prev = snap
	m.held = map[lockKey]int{}
	for _, row := range snap.rels {
		out.Existing = append(out.Existing, m.relation(row.oid, snap.rels))
	}
	slices.SortFunc(out.Existing, func(a, b Relation) int { return int(a.OID) - int(b.OID) })
}

// measured runs statement number n inside the open transaction and reads
// what it did.
func (m *measurer) measured(ctx context.Context, s source.Statement, n int) (Statement, error) {
	st := Statement{Pos: s.Pos, SQL: s.SQL, ScansMeasured: true}
	// One round trip: the statement (first, so that the server's error
	// positions are positions in it), its time by the server's clock
	// (statement_timestamp is when the query arrived), and the readings.
	q := s.SQL + "\n;SELECT EXTRACT(EPOCH FROM pg_catalog.clock_timestamp() - pg_catalog.statement_timestamp());" + readingSQL
	start := time.Now()
	results, err := m.conn.PgConn().Exec(ctx, q).ReadAll()
	st.Duration = time.Since(start)
	if err != nil {
		return st, m.fail(ErrStatement, s.Pos, s.SQL, err)
	}
	snap, err := m.readings(ctx, results)
	if err != nil {
		return st, err
	}
	if d := results[len(results)-readingResults-1]; len(d.Rows) == 1 {
		if secs, err := strconv.ParseFloat(string(d.Rows[0][0]), 64); err == nil {
			st.Duration = time.Duration(secs * float64(time.Second))
		}
	}
	for _, l := range snap.locks {
		k := lockKey(l)
		if _, ok := m.held[k]; !ok {
			m.held[k] = n
		}
	}
	m.facts(&st, snap, snap.locks)
	for i := range st.Locks {
		st.Locks[i].Since = m.held[lockKey{st.Locks[i].Relation.OID, st.Locks[i].Mode}]
	}
	return st, nil
}

// facts fills in st from the readings after it, compared with m.prev,
// and makes them the readings before the next statement.
func (m *measurer) facts(st *Statement, after snapshot, locks []lockRow) {
	before := m.prev
	for _, l := range locks {
		_, now := after.rels[l.oid]
		_, then := before.rels[l.oid]
		if !now && !then {
			continue // a system catalog, or a temporary relation
		}
		rel := m.relation(l.oid, before.rels, after.rels)
		rel.Dropped = !now
		st.Locks = append(st.Locks, Lock{Mode: l.mode, Relation: rel})
	}
	slices.SortStableFunc(st.Locks, func(a, b Lock) int {
		if a.Mode != b.Mode {
			return int(b.Mode) - int(a.Mode)
		}
		return strings.Compare(a.Relation.String(), b.Relation.String())
	})
	// Same name and kind, new OID: made again. ALTER COLUMN TYPE remakes
	// the indexes on the column this way, keeping their files when the
	// new type allows.
	remade := map[string]relRow{}
	for oid, row := range after.rels {
		if _, old := before.rels[oid]; !old {
			remade[row.kind+" "+row.schema+"."+row.name] = row
		}
	}
	for oid, row := range before.rels {
		now, ok := after.rels[oid]
		if !ok {
			now, ok = remade[row.kind+" "+row.schema+"."+row.name]
			if !ok {
				st.Dropped = append(st.Dropped, m.relation(oid, before.rels, after.rels))
				continue
			}
		}
		if now.filenode != row.filenode && row.filenode != 0 {
			st.Rewritten = append(st.Rewritten, m.relation(oid, before.rels, after.rels))
		}
	}
	if st.ScansMeasured {
		for oid, n := range after.scans {
			if n > before.scans[oid] {
				if _, ok := after.rels[oid]; ok {
					st.Scanned = append(st.Scanned, m.relation(oid, before.rels, after.rels))
				}
			}
		}
	}
	for oid, row := range after.rels {
		if !row.valid && (before.rels[oid].valid || before.rels[oid].oid == 0) {
			st.InvalidIndexes = append(st.InvalidIndexes, m.relation(oid, before.rels, after.rels))
		}
	}
	for _, rels := range [][]Relation{st.Rewritten, st.Scanned, st.InvalidIndexes, st.Dropped} {
		slices.SortFunc(rels, func(a, b Relation) int { return strings.Compare(a.String(), b.String()) })
	}
	m.prev = after
}

// relation describes the relation oid as the first of snaps that has it
// names it (the reading before the statement, for a statement's facts:
// the relation as the statement calls it when it runs, after the renames
// of the statements before it), else as the step's start knew it.
func (m *measurer) relation(oid uint32, snaps ...map[uint32]relRow) Relation {
	look := func(oid uint32) (relRow, bool) {
		for _, s := range snaps {
			if row, ok := s[oid]; ok {
				return row, true
			}
		}
		row, ok := m.existing[oid]
		return row, ok
	}
	row, _ := look(oid)
	r := Relation{OID: oid, Schema: row.schema, Name: row.name, Kind: kindNames[row.kind], Visible: row.visible}
	_, existed := m.existing[oid]
	r.New = !existed
	// Walk up to the table the relation belongs to.
	seen := map[uint32]bool{oid: true}
	cur := row
	for cur.owner != 0 && !seen[cur.owner] {
		seen[cur.owner] = true
		next, ok := look(cur.owner)
		if !ok {
			break
		}
		r.Table = next.oid
		r.TableName = Relation{Schema: next.schema, Name: next.name, Visible: next.visible}.String()
		cur = next
	}
	return r
}

var kindNames = map[string]string{
	"r": "table", "p": "partitioned table", "i": "index", "I": "partitioned index",
	"t": "toast table", "S": "sequence", "v": "view", "m": "materialized view", "f": "foreign table",
}

// fail makes the error for a failure at pos.
func (m *measurer) fail(kind error, pos source.Position, stmt string, err error) error {
	if kind == ErrStatement {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Position > 0 && stmt != "" {
			off := sqlsplit.CharOffset(stmt, int(pgErr.Position))
			p := sqlsplit.Locate(stmt, off)
			pos.Offset += off
			if p.Line == 1 {
				pos.Column += p.Column - 1
			} else {
				pos.Line += p.Line - 1
				pos.Column = p.Column
			}
		}
	}
	if pos.Path == "" {
		pos.Path = m.path
	}
	return &Error{Pos: pos, Version: m.version, Err: kind, Cause: err}
}

// rollback ends a failed transaction; the connection stays usable.
func (m *measurer) rollback() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.conn.PgConn().Exec(ctx, "ROLLBACK").ReadAll()
}

// control reports whether a statement of a no-transaction script begins
// ("begin") or ends ("end") a transaction, or neither ("").
func control(sql string) string {
	c := sqlsplit.NewScanner(sql)
	w0, _ := c.Next()
	w1, _ := c.Next()
	w2, _ := c.Next()
	switch {
	case w0.Is("begin"), w0.Is("start") && w1.Is("transaction"):
		return "begin"
	case w0.Is("commit"), w0.Is("end"), w0.Is("abort"), w0.Is("prepare") && w1.Is("transaction"):
		return "end"
	case w0.Is("rollback") && !w1.Is("to") && !w2.Is("to"):
		return "end"
	}
	return ""
}
