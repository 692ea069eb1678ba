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
// version and digest, the digest of the repeatable scripts' records, whether a record is dirty (through the partial index
// on dirty records), and whether a session holds the migration lock: an
// advisory lock (tried shared and given back at once, which does not wait)
// or an unexpired lease. It takes no lock and writes nothing. A history
// kept before digests (format 1) or none at all reads as not Known.
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
	q := fmt.Sprintf(`WITH k AS MATERIALIZED (%[1]s)
SELECT h.version, h.digest, coalesce(h.dirty, false), %[4]s,
	(SELECT pg_catalog.to_jsonb(r) ->> 'digest' FROM %[2]s r WHERE app_key = %[5]s ORDER BY version DESC LIMIT 1)
FROM k LEFT JOIN LATERAL (
	SELECT version, pg_catalog.to_jsonb(t) ->> 'digest' AS digest,
		EXISTS (SELECT FROM %[2]s WHERE app_key = %[3]s AND dirty IS NOT NULL) AS dirty
	FROM %[2]s t WHERE app_key = %[3]s ORDER BY version DESC LIMIT 1) h ON true`,
		s.keyExpr(), b.table, b.appKey, busy, b.repeatKey)
	raw, err := b.queryRow(ctx, q)
	if _, found, perr := parseHistory(nil, err, b.table); err != nil && perr == nil && !found {
		// No history table yet: an empty history, unless a first run is
		// under way; that takes a second query, on fresh databases only.
		raw, err = b.queryRow(ctx, fmt.Sprintf(`WITH k AS MATERIALIZED (%s) SELECT NULL, NULL, false, %s, NULL FROM k`, s.keyExpr(), busy))
	}
	if err != nil {
		return backend.Head{}, fmt.Errorf("pgxbackend: read head: %w", err)
	}
	if len(raw) != 6 {
		return backend.Head{}, fmt.Errorf("pgxbackend: read head: %d columns", len(raw))
	}
	h := backend.Head{Dirty: string(raw[2]) == "t", Busy: string(raw[3]) == "t" || raw[4] != nil && string(raw[4]) != "0"}
	if raw[5] != nil {
		// Unreadable (a table of format 1 has no digests): a digest no
		// set has, so that the caller reads the records.
		h.Repeatables = source.Digest{0xff}
		if d, ok := strings.CutPrefix(string(raw[5]), `\x`); ok && len(d) == hex.EncodedLen(len(source.Digest{})) {
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
	var qr querier = b.conn
	if b.pool != nil {
		qr = b.pool
	}
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
