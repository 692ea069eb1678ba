package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// The history table's formats. Format 1 (waymark before digests) has no
// digest column; format 2 adds it and a partial index on dirty records;
// format 3 adds each version's down script (reversible, down_script);
// format 4 keeps each app key's repeatable scripts under the companion
// app key (see [RepeatableKeySuffix]) and adds a unique index on their
// names. A session that finds an older format upgrades the table in place,
// under the migration lock, through every missing step of formatSteps in
// one transaction. Binaries of format 2 and 3 read and write a table of a
// later format unchanged: they name the columns they use, their records
// keep no down script (reversible NULL), and they never read the
// companion app key.
const (
	formatDigest     = 2
	formatDown       = 3
	formatRepeatable = 4
	// formatCurrent is the format a new table is created in.
	formatCurrent = formatRepeatable
)

// RepeatableKeySuffix ends the app key under which the history table keeps
// the records of an app key's repeatable scripts: app key "billing" keeps
// them under "billing#repeatable", one row per script, where a reader of
// the versions of "billing" (an older release included) never sees them.
// Their version column is only a row number (1, 2, ...), their digest
// column the digest of all of them (source.DigestRepeatables).
const RepeatableKeySuffix = "#repeatable"

// tableComment marks a table of the given format.
func tableComment(format int) string { return fmt.Sprintf("waymark history, format %d", format) }

// formatStep is one in-place upgrade of the history table: it brings a
// table of format to-1 to format to. Steps are self-contained and each
// checks whether its work is done, so they can be run in a chain.
type formatStep struct {
	to int
	// done is the SQL condition that holds when table has the step's
	// changes.
	done func(table string) string
	// stmts makes the step's changes to table.
	stmts func(table string) []string
}

// formatSteps are the upgrades, in order.
var formatSteps = []formatStep{
	{to: formatDigest, done: hasDigest, stmts: func(table string) []string {
		return []string{"ALTER TABLE " + table + " ADD COLUMN digest bytea", dirtyIndex(table), backfill(table)}
	}},
	{to: formatDown, done: hasDownColumns, stmts: func(table string) []string {
		// NULL for every existing record: no down script kept.
		return []string{"ALTER TABLE " + table + " ADD COLUMN reversible boolean, ADD COLUMN down_script text"}
	}},
	{to: formatRepeatable, done: hasRepeatableIndex, stmts: func(table string) []string {
		return []string{repeatableIndex(table)}
	}},
}

// formatOf is the SQL of the format of table: that of the last step of
// the chain whose work is done, as is the work of every step before it (1
// when the first step's is not).
func formatOf(table string) string {
	q := "CASE"
	for i := len(formatSteps) - 1; i >= 0; i-- {
		var all []string
		for _, st := range formatSteps[:i+1] {
			all = append(all, st.done(table))
		}
		q += fmt.Sprintf(" WHEN %s THEN %d", strings.Join(all, " AND "), formatSteps[i].to)
	}
	return q + " ELSE 1 END"
}

// dirtyIndex is the partial index on dirty records (format 2).
func dirtyIndex(table string) string {
	return "CREATE INDEX ON " + table + " (app_key) WHERE dirty IS NOT NULL"
}

// repeatableIndex is the unique index on the names of repeatable scripts
// (format 4).
func repeatableIndex(table string) string {
	return "CREATE UNIQUE INDEX ON " + table + " (app_key, name) WHERE app_key LIKE " + literal("%"+RepeatableKeySuffix)
}

// hasRepeatableIndex is the SQL that tells whether table has the index of
// format 4.
func hasRepeatableIndex(table string) string {
	return fmt.Sprintf(`EXISTS (SELECT FROM pg_catalog.pg_index WHERE indrelid = pg_catalog.to_regclass(%s) AND indisunique
	AND pg_catalog.pg_get_expr(indpred, indrelid) LIKE %s)`, literal(table), literal("%"+RepeatableKeySuffix+"%"))
}

// zeroDigest is the digest of no versions, as SQL.
var zeroDigest = `'\x` + strings.Repeat("00", 32) + `'::bytea`

// historyDDL returns the statements that create the history table, of the
// current format.
func historyDDL(table string) []string {
	return []string{`CREATE TABLE IF NOT EXISTS ` + table + ` (
	app_key        text        NOT NULL,
	version        bigint      NOT NULL CHECK (version > 0),
	name           text        NOT NULL,
	checksum       text        NOT NULL,
	applied_at     timestamptz NOT NULL,
	execution_time interval    NOT NULL,
	dirty          text        CHECK (dirty IN ('up', 'down')),
	digest         bytea,
	reversible     boolean,
	down_script    text,
	PRIMARY KEY (app_key, version)
)`,
		dirtyIndex(table),
		repeatableIndex(table),
		"COMMENT ON TABLE " + table + " IS " + literal(tableComment(formatCurrent)),
	}
}

// digestOf returns the SQL of the digest of version v with checksum hex
// checksum, chained onto the record below it in appKey's history.
func digestOf(table, appKey string, v int64, checksum string) string {
	return fmt.Sprintf(`pg_catalog.sha256(coalesce((SELECT digest FROM %s WHERE app_key = %s AND version < %d ORDER BY version DESC LIMIT 1), %s)
	|| pg_catalog.int8send(%d::bigint) || pg_catalog.decode(%s, 'hex'))`, table, appKey, v, zeroDigest, v, literal(checksum))
}

// rechain returns the statement that recomputes the digests of appKey's
// records above version from, chained onto the highest record at or below
// it (none: the zero digest). After an insert or a delete at from, only the
// records above it can be out of date; on top of the history there are
// none, and the statement looks at one index entry.
func rechain(table, appKey string, from int64) string {
	return fmt.Sprintf(`WITH RECURSIVE chain(version, digest) AS (
	SELECT coalesce(max(version), 0), coalesce((SELECT digest FROM %[1]s WHERE app_key = %[2]s AND version = max(a.version)), %[3]s)
		FROM %[1]s a WHERE app_key = %[2]s AND version <= %[4]d
	UNION ALL
	SELECT n.version, pg_catalog.sha256(c.digest || pg_catalog.int8send(n.version) || pg_catalog.decode(n.checksum, 'hex'))
	FROM chain c CROSS JOIN LATERAL (SELECT version, checksum FROM %[1]s WHERE app_key = %[2]s AND version > c.version ORDER BY version LIMIT 1) n
)
UPDATE %[1]s t SET digest = c.digest FROM chain c
WHERE t.app_key = %[2]s AND t.version = c.version AND t.version > %[4]d AND t.digest IS DISTINCT FROM c.digest`, table, appKey, zeroDigest, from)
}

// backfill is the statement that computes the digests of every record of
// every app key, for a table upgraded to format 2.
func backfill(table string) string {
	return fmt.Sprintf(`WITH RECURSIVE chain(app_key, version, digest) AS (
	SELECT f.app_key, f.version, pg_catalog.sha256(%[2]s || pg_catalog.int8send(f.version) || pg_catalog.decode(f.checksum, 'hex'))
	FROM (SELECT DISTINCT ON (app_key) app_key, version, checksum FROM %[1]s ORDER BY app_key, version) f
	UNION ALL
	SELECT n.app_key, n.version, pg_catalog.sha256(c.digest || pg_catalog.int8send(n.version) || pg_catalog.decode(n.checksum, 'hex'))
	FROM chain c CROSS JOIN LATERAL (SELECT app_key, version, checksum FROM %[1]s
		WHERE app_key = c.app_key AND version > c.version ORDER BY version LIMIT 1) n
)
UPDATE %[1]s t SET digest = c.digest FROM chain c WHERE t.app_key = c.app_key AND t.version = c.version`, table, zeroDigest)
}

// upgradeWait bounds how long the upgrade waits for the history table,
// which other app keys' runs may be writing to; when it is busy, the
// upgrade waits for a later run.
const upgradeWait = "5s"

// upgrade brings a history table of an older format (from, 1 or more) to
// the current one, in one transaction: every step of formatSteps above
// from, each only if its work is not done yet, then the comment. Two
// sessions of different app keys upgrading at once take turns (a
// transaction-level advisory lock), and the second finds the work done.
// It reports whether the table is now of the current format.
func (s *session) upgrade(ctx context.Context, from int) (bool, error) {
	body := "BEGIN\n"
	for _, st := range formatSteps {
		if st.to <= from {
			continue
		}
		body += fmt.Sprintf("\tIF NOT (%s) THEN\n", st.done(s.table))
		for _, stmt := range st.stmts(s.table) {
			body += "\t\tEXECUTE " + literal(stmt) + ";\n"
		}
		body += "\tEND IF;\n"
	}
	body += "\tEXECUTE " + literal("COMMENT ON TABLE "+s.table+" IS "+literal(tableComment(formatCurrent))) + ";\nEND"
	tag := "waymark"
	for strings.Contains(body, "$"+tag+"$") {
		tag += "_"
	}
	q := strings.Join([]string{
		"BEGIN",
		"SET LOCAL lock_timeout = '" + upgradeWait + "'",
		fmt.Sprintf("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(%s, 0))", literal("waymark create "+s.table)),
		"DO " + dollarQuote(body),
		"COMMIT",
	}, ";\n")
	if _, err := s.query(ctx, q); err != nil {
		s.rollbackIfOpen(ctx)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" {
			return false, nil // busy: a later run upgrades
		}
		return false, fmt.Errorf("pgxbackend: upgrade the history table %s: %w", s.table, connError(err, true, s.conn.PgConn().IsClosed()))
	}
	return true, nil
}
