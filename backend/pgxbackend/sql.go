package pgxbackend

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

// ident quotes a name as an SQL identifier.
func ident(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// literal quotes s as an SQL string literal. It relies on
// standard_conforming_strings, which the session checks.
func literal(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}

// createTable returns the statements that create the history table, or
// none if it exists. They take a transaction-level lock first, so that two
// app keys creating the table at once do not collide.
func (s *session) createTable(ctx context.Context) ([]string, error) {
	if s.tstate == tableExists {
		return nil, nil
	}
	// The key of this transaction lock only has to be the same for every
	// session creating this table.
	stmts := []string{fmt.Sprintf("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(%s, 0))", literal("waymark create "+s.table))}
	if s.tstate == tableUnknown || s.b.opts.Schema != "" {
		// One query, before the first write only: does the table exist, of
		// which format, and its schema? (CREATE SCHEMA IF NOT EXISTS needs
		// the CREATE privilege on the database even when the schema exists.)
		schema := "true"
		if s.b.opts.Schema != "" {
			schema = fmt.Sprintf("pg_catalog.to_regnamespace(%s) IS NOT NULL", literal(ident(s.b.opts.Schema)))
		}
		results, err := s.query(ctx, fmt.Sprintf("SELECT pg_catalog.to_regclass(%s) IS NOT NULL, %s, %s", literal(s.table), schema, formatOf(s.table)))
		if err != nil {
			return nil, fmt.Errorf("pgxbackend: look for the history table %s: %w", s.table, connError(err, false, s.conn.PgConn().IsClosed()))
		}
		row := results[0].Rows[0]
		if string(row[0]) == "t" {
			s.tstate = tableExists
			s.format, _ = strconv.Atoi(string(row[2]))
			return nil, nil
		}
		if string(row[1]) != "t" && !s.missing { // else the step creates it first
			stmts = append(stmts, "CREATE SCHEMA IF NOT EXISTS "+ident(s.b.opts.Schema))
		}
	}
	s.format = formatCurrent
	return append(stmts, historyDDL(s.table)...), nil
}

// repeatablesDigest is the SQL aggregate of the digest of the repeatable
// scripts' rows (source.DigestRepeatables); names are ASCII, so the C
// collation orders them as Go does.
const repeatablesDigest = `pg_catalog.sha256(pg_catalog.string_agg(pg_catalog.int4send(pg_catalog.octet_length(name)) || pg_catalog.convert_to(name, 'UTF8') || pg_catalog.decode(checksum, 'hex'), ''::bytea ORDER BY name COLLATE "C"))`

// hasColumn is the SQL that tells whether table has the column col.
func hasColumn(table, col string) string {
	return fmt.Sprintf(`EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = pg_catalog.to_regclass(%s) AND attname = %s AND NOT attisdropped)`, literal(table), literal(col))
}

// hasDigest is the SQL that tells whether table has the digest column of
// format 2.
func hasDigest(table string) string { return hasColumn(table, "digest") }

// hasDownColumns is the SQL that tells whether table has the down
// scripts' columns of format 3.
func hasDownColumns(table string) string {
	return "(" + hasColumn(table, "reversible") + " AND " + hasColumn(table, "down_script") + ")"
}

// change returns the statements that make ch. A Delete or Update that
// finds no row divides by zero, so that the failure rolls back the step's
// SQL too (SQLSTATE 22012, which Apply reports as ErrNotRecorded). On a
// table of format 3 an insert records the version's down script; from
// format 2 its digest, and an insert or a delete
// below the top brings the digests above it up to date.
func (s *session) change(ch backend.Change) ([]string, error) {
	r := ch.Record
	where := fmt.Sprintf("app_key = %s AND version = %d", s.b.appKey, r.Version)
	digests := s.format >= formatDigest
	switch ch.Op {
	case backend.Repeat:
		if r.Version != 0 || r.Name == "" {
			return nil, fmt.Errorf("pgxbackend: repeat: want a name and version 0, got %q and %d", r.Name, r.Version)
		}
		key := s.b.repeatKey
		stmts := []string{fmt.Sprintf(`WITH upd AS (UPDATE %[1]s SET checksum = %[4]s, applied_at = pg_catalog.clock_timestamp(),
	execution_time = pg_catalog.clock_timestamp() - pg_catalog.statement_timestamp() WHERE app_key = %[2]s AND name = %[3]s RETURNING 1)
INSERT INTO %[1]s (app_key, version, name, checksum, applied_at, execution_time)
SELECT %[2]s, coalesce((SELECT max(version) FROM %[1]s WHERE app_key = %[2]s), 0) + 1, %[3]s, %[4]s,
	pg_catalog.clock_timestamp(), pg_catalog.clock_timestamp() - pg_catalog.statement_timestamp()
WHERE NOT EXISTS (SELECT FROM upd)`, s.table, key, literal(r.Name), literal(r.Checksum.String()))}
		if digests {
			stmts = append(stmts, fmt.Sprintf(`UPDATE %[1]s SET digest = (SELECT %[3]s FROM %[1]s WHERE app_key = %[2]s) WHERE app_key = %[2]s`,
				s.table, key, repeatablesDigest))
		}
		return stmts, nil
	case backend.Forget:
		return []string{fmt.Sprintf("DELETE FROM %s WHERE app_key = %s", s.table, s.b.repeatKey)}, nil
	case backend.Insert:
		// The migration's SQL and this statement arrive in one message, so
		// statement_timestamp() is when the SQL started.
		cols, vals := "", ""
		if digests {
			d := digestOf(s.table, s.b.appKey, r.Version, r.Checksum.String())
			if s.onTop(r.Version, true) && s.chainKnown() {
				// On top of a history read under the lock: its digest,
				// not a read of the record below.
				next := source.Chain(s.topDigest(), r.Version, r.Checksum)
				d = `'\x` + hex.EncodeToString(next[:]) + `'::bytea`
			}
			cols, vals = ", digest", ", "+d
		}
		if s.format >= formatDown {
			cols += ", reversible, down_script"
			switch r.Down {
			case backend.DownKept:
				vals += ", true, " + literal(r.DownSQL)
			case backend.DownNone:
				vals += ", false, NULL"
			default:
				vals += ", NULL, NULL"
			}
		}
		// A run takes at least a microsecond, so that an execution time of
		// zero marks an imported record (see "History table").
		at, took := "pg_catalog.clock_timestamp()", "GREATEST(pg_catalog.clock_timestamp() - pg_catalog.statement_timestamp(), interval '1 microsecond')"
		if r.Imported {
			took = "interval '0'"
			if !r.AppliedAt.IsZero() {
				at = fmt.Sprintf("(timestamptz 'epoch' + %d * interval '1 microsecond')", r.AppliedAt.UnixMicro())
			}
		}
		stmts := []string{fmt.Sprintf(`INSERT INTO %s (app_key, version, name, checksum, applied_at, execution_time, dirty%s)
VALUES (%s, %d, %s, %s, %s, %s, %s%s)`,
			s.table, cols, s.b.appKey, r.Version, literal(r.Name), literal(r.Checksum.String()), at, took, dirty(r.Dirty), vals)}
		if digests && !s.onTop(r.Version, true) {
			// Below the top: the records above need their digests again.
			stmts = append(stmts, rechain(s.table, s.b.appKey, r.Version))
		}
		return stmts, nil
	case backend.Delete:
		stmts := []string{fmt.Sprintf(`WITH changed AS (DELETE FROM %s WHERE %s RETURNING 1)
SELECT 1 / (SELECT count(*)::int FROM changed)`, s.table, where)}
		if digests && !s.onTop(r.Version, false) {
			stmts = append(stmts, rechain(s.table, s.b.appKey, r.Version))
		}
		return stmts, nil
	case backend.Update:
		set := "dirty = " + dirty(r.Dirty)
		if r.Duration != 0 {
			set += fmt.Sprintf(", execution_time = interval '%d microseconds'", r.Duration.Microseconds())
		}
		return []string{fmt.Sprintf(`WITH changed AS (UPDATE %s SET %s WHERE %s RETURNING 1)
SELECT 1 / (SELECT count(*)::int FROM changed)`, s.table, set, where)}, nil
	}
	return nil, fmt.Errorf("pgxbackend: invalid change op %d", ch.Op)
}

// dirty is the SQL value of a dirty marker.
func dirty(d source.Direction) string {
	if d == 0 {
		return "NULL"
	}
	return literal(d.String())
}
