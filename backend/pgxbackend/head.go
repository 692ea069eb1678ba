package pgxbackend

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

var _ backend.HeadReader = (*Backend)(nil)

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
func (b *Backend) ReadHead(ctx context.Context) (backend.Head, error) {
	if b.err != nil {
		return backend.Head{}, b.err
	}
	s := &session{b: b}
	busy := fmt.Sprintf(`CASE WHEN k.key IS NULL THEN false
		WHEN pg_catalog.pg_try_advisory_lock_shared(k.key) THEN NOT pg_catalog.pg_advisory_unlock_shared(k.key)
		ELSE true END,
	CASE WHEN pg_catalog.to_regclass(pg_catalog.format('%%I.%%I', k.schema, %[1]s)) IS NOT NULL THEN
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
	(pg_catalog.xpath('//row/repeatables/text()', h.x))[1]::text
FROM k, h`, s.keyExpr(), literal(b.table), literal(top), busy)
	raw, err := b.queryRow(ctx, q)
	if err != nil {
		return backend.Head{}, fmt.Errorf("pgxbackend: read head: %w", connError(err, false, false))
	}
	if len(raw) != 7 {
		return backend.Head{}, fmt.Errorf("pgxbackend: read head: %d columns", len(raw))
	}
	b.found.Store(string(raw[5]) == "t")
	h := backend.Head{Dirty: string(raw[2]) == "t", Busy: string(raw[3]) == "t" || raw[4] != nil && string(raw[4]) != "0"}
	if raw[6] != nil {
		// Unreadable (a table of format 1 has no digests): a digest no
		// set has, so that the caller reads the records.
		h.Repeatables = source.Digest{0xff}
		if d, ok := strings.CutPrefix(string(raw[6]), `\x`); ok && len(d) == hex.EncodedLen(len(source.Digest{})) {
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
