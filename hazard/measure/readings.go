package measure

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/source"
)

// snapshot is one reading of the scratch database.
type snapshot struct {
	rels  map[uint32]relRow
	scans map[uint32]int64 // sequential scans so far in the session's pending statistics
	locks []lockRow
}

// relRow is a relation as one reading saw it.
type relRow struct {
	relDesc
	oid      uint32
	filenode uint32
	valid    bool // false for an invalid index
}

// relDesc is what does not change about a relation from one statement to
// the next (renames aside): read once per relation.
type relDesc struct {
	kind    string
	schema  string
	name    string
	visible bool
	owner   uint32 // index: its table; TOAST table: its table; partition: its parent; sequence: the table whose column owns it
	// What a reading compares to tell whether to read the rest again: a
	// rename, a move to another schema, an ATTACH or DETACH PARTITION.
	nsp       uint32
	partition bool
}

type lockRow struct {
	oid  uint32
	mode hazard.LockMode
}

// The readings. A reading after each statement must be cheap, so it reads
// only what changes (files, validity, scan counts, locks) of every user
// relation; the relations' names and kinds are read once, when they are
// first seen. User relations are those from FirstNormalObjectId (16384):
// system catalogs, with their TOAST tables, do not count, and neither do
// temporary relations.
const (
	locksSQL = `SELECT relation, mode FROM pg_catalog.pg_locks
WHERE pid = pg_catalog.pg_backend_pid() AND locktype = 'relation' AND granted
AND database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`
	// pg_stat_get_xact_numscans counts a table's sequential scans in the
	// session's statistics not yet reported, which no one else can change:
	// inside a transaction, two readings tell what came in between.
	filesSQL = `SELECT oid, relfilenode, pg_catalog.pg_stat_get_xact_numscans(oid), relname, relnamespace, relispartition
FROM pg_catalog.pg_class WHERE oid >= 16384`
	invalidSQL = `SELECT indexrelid FROM pg_catalog.pg_index WHERE NOT indisvalid AND indexrelid >= 16384`
	readingSQL = locksSQL + ";" + filesSQL + ";" + invalidSQL
	// readingResults is how many results readingSQL gives.
	readingResults = 3

	describeSQL = `SELECT c.oid, c.relkind, n.nspname, c.relname, pg_catalog.pg_table_is_visible(c.oid),
	COALESCE(i.indrelid, tt.oid, h.inhparent, d.refobjid, 0), c.relnamespace, c.relispartition
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_catalog.pg_class tt ON c.relkind = 't' AND tt.reltoastrelid = c.oid
LEFT JOIN pg_catalog.pg_inherits h ON h.inhrelid = c.oid AND h.inhseqno = 1
LEFT JOIN pg_catalog.pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')
WHERE c.oid = ANY ($1) AND c.relkind IN ('r', 'p', 'i', 'I', 't', 'S', 'v', 'm', 'f')
AND (n.nspname = 'pg_toast' OR n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema')`
)

// read takes a reading, in one round trip, after the statements in
// prefix ("BEGIN" or "").
func (m *measurer) read(ctx context.Context, prefix string) (snapshot, error) {
	q := readingSQL
	if prefix != "" {
		q = prefix + ";" + q
	}
	results, err := m.conn.PgConn().Exec(ctx, q).ReadAll()
	if err != nil {
		return snapshot{}, m.fail(ErrMeasure, source.Position{}, "", err)
	}
	return m.readings(ctx, results)
}

// readings parses a reading, the last results of results, and describes
// the relations it sees for the first time.
func (m *measurer) readings(ctx context.Context, results []*pgconn.Result) (snapshot, error) {
	if len(results) < readingResults {
		return snapshot{}, m.fail(ErrMeasure, source.Position{}, "", errors.New("unexpected shape of a reading"))
	}
	results = results[len(results)-readingResults:]
	snap := snapshot{rels: map[uint32]relRow{}, scans: map[uint32]int64{}}
	for _, row := range results[0].Rows {
		mode, err := hazard.ParseLockMode(string(row[1]))
		if err != nil {
			continue // a mode of another kind of lock
		}
		snap.locks = append(snap.locks, lockRow{oid: parseOID(row[0]), mode: mode})
	}
	invalid := map[uint32]bool{}
	for _, row := range results[2].Rows {
		invalid[parseOID(row[0])] = true
	}
	var unseen []string
	for _, row := range results[1].Rows {
		oid := parseOID(row[0])
		d, ok := m.desc[oid]
		if !ok && !m.ignored[oid] || ok && (d.name != string(row[3]) || d.nsp != parseOID(row[4]) || d.partition != (string(row[5]) == "t")) {
			unseen = append(unseen, strconv.FormatUint(uint64(oid), 10))
		}
	}
	if len(unseen) > 0 {
		if err := m.describe(ctx, unseen); err != nil {
			return snapshot{}, err
		}
	}
	for _, row := range results[1].Rows {
		oid := parseOID(row[0])
		d, ok := m.desc[oid]
		if !ok {
			continue
		}
		snap.rels[oid] = relRow{relDesc: d, oid: oid, filenode: parseOID(row[1]), valid: !invalid[oid]}
		// Only a table's count is of sequential scans (an index's is of
		// index scans); a TOAST table is read through its index.
		if n, _ := strconv.ParseInt(string(row[2]), 10, 64); n > 0 && (d.kind == "r" || d.kind == "m") {
			snap.scans[oid] = n
		}
	}
	return snap, nil
}

// describe reads the names, kinds and owners of the relations with the
// given OIDs.
func (m *measurer) describe(ctx context.Context, oids []string) error {
	q := strings.Replace(describeSQL, "$1", "'{"+strings.Join(oids, ",")+"}'::pg_catalog.oid[]", 1)
	results, err := m.conn.PgConn().Exec(ctx, q).ReadAll()
	if err != nil {
		return m.fail(ErrMeasure, source.Position{}, "", err)
	}
	for _, row := range results[0].Rows {
		m.desc[parseOID(row[0])] = relDesc{kind: string(row[1]), schema: string(row[2]), name: string(row[3]),
			visible: string(row[4]) == "t", owner: parseOID(row[5]), nsp: parseOID(row[6]), partition: string(row[7]) == "t"}
	}
	for _, s := range oids {
		n, _ := strconv.ParseUint(s, 10, 32)
		if _, ok := m.desc[uint32(n)]; !ok {
			m.ignored[uint32(n)] = true
		}
	}
	return nil
}

func parseOID(b []byte) uint32 {
	n, _ := strconv.ParseUint(string(b), 10, 32)
	return uint32(n)
}
