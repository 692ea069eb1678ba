package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// The history table's format. Format 1 (waymark before digests) has no
// digest column; format 2 adds it and a partial index on dirty records;
// format 3 adds each version's down script (reversible, down_script). A
// session that finds an older format upgrades the table in place, under
// the migration lock. Binaries of format 2 read and write a table of
// format 3 unchanged: they name the columns they use, and their records
// keep no down script (reversible NULL).
const (
	formatDigest = 2
	formatDown   = 3
	// tableComment marks a table of format 3.
	tableComment = "waymark history, format 3"
)

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
		"CREATE INDEX ON " + table + " (app_key) WHERE dirty IS NOT NULL",
		"COMMENT ON TABLE " + table + " IS " + literal(tableComment),
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

// upgrade brings a history table of format 1 or 2 to format 3, in one
// transaction: from format 1, the digest column, its values for every
// record and the index on dirty records; then the columns of the down
// scripts (NULL for every existing record: nothing kept) and the comment.
// Two sessions of different app keys upgrading at once take turns (a
// transaction-level advisory lock), and the second finds the work done. It
// reports whether the table is now of format 3.
func (s *session) upgrade(ctx context.Context) (bool, error) {
	has := func(col string) string {
		return fmt.Sprintf("EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = %s::regclass AND attname = %s AND NOT attisdropped)", literal(s.table), literal(col))
	}
	body := fmt.Sprintf(`BEGIN
	IF NOT %[1]s THEN
		EXECUTE %[2]s;
		EXECUTE %[3]s;
		EXECUTE %[4]s;
	END IF;
	IF NOT %[5]s THEN
		EXECUTE %[6]s;
		EXECUTE %[7]s;
	END IF;
END`, has("digest"), literal("ALTER TABLE "+s.table+" ADD COLUMN digest bytea"),
		literal(historyDDL(s.table)[1]), literal(backfill(s.table)),
		has("reversible"), literal("ALTER TABLE "+s.table+" ADD COLUMN reversible boolean, ADD COLUMN down_script text"),
		literal(historyDDL(s.table)[2]))
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
