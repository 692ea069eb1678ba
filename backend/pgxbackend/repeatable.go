package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

var (
	_ backend.RepeatableReader = (*Backend)(nil)
	_ backend.RepeatableReader = (*session)(nil)
)

// repeatablesQuery reads the rows of the repeatable scripts kept under
// key from table, in name order.
func repeatablesQuery(table, key string) string {
	return `SELECT name, checksum,
	(pg_catalog.date_part('epoch', applied_at) * 1000000)::bigint,
	(pg_catalog.date_part('epoch', execution_time) * 1000000)::bigint
FROM ` + table + ` WHERE app_key = ` + key + ` ORDER BY name COLLATE "C"`
}

// parseRepeatables reads the records of repeatablesQuery's rows; without
// a table there are none.
func parseRepeatables(rows [][][]byte, err error, table string) ([]backend.RepeatableRecord, error) {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000"):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("pgxbackend: read repeatable scripts from %s: %w", table, connError(err, false, false))
	}
	recs := make([]backend.RepeatableRecord, 0, len(rows))
	for _, row := range rows {
		if len(row) != 4 || row[0] == nil || row[1] == nil || row[2] == nil || row[3] == nil {
			return nil, fmt.Errorf("pgxbackend: read repeatable scripts from %s: unexpected row", table)
		}
		r := backend.RepeatableRecord{Name: string(row[0])}
		var err error
		if r.Checksum, err = source.ParseChecksum(string(row[1])); err != nil {
			return nil, fmt.Errorf("pgxbackend: read repeatable scripts from %s: %s: %w", table, r.Name, err)
		}
		at, err1 := strconv.ParseInt(string(row[2]), 10, 64)
		took, err2 := strconv.ParseInt(string(row[3]), 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("pgxbackend: read repeatable scripts from %s: %s: %w", table, r.Name, err)
		}
		r.AppliedAt, r.Duration = time.UnixMicro(at), time.Duration(took)*time.Microsecond
		recs = append(recs, r)
	}
	return recs, nil
}

// ReadRepeatables reads the records of the app key's repeatable scripts in
// one query, without a lock and without writing. They are rows of the
// history table under the app key followed by [RepeatableKeySuffix]. Until
// the table has been found once, it looks for it first, so that a
// database without one does not make the server log a failed statement.
func (b *Backend) ReadRepeatables(ctx context.Context) ([]backend.RepeatableRecord, error) {
	if b.err != nil {
		return nil, b.err
	}
	if exists, err := b.tableExists(ctx); err != nil || !exists {
		return nil, err
	}
	q, release, err := b.querier(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgxbackend: read repeatable scripts from %s: %w", b.table, err)
	}
	defer release()
	result, err := readRows(ctx, q, repeatablesQuery(b.table, b.repeatKey))
	var rows [][][]byte
	if result != nil {
		rows = result.Rows
	}
	return parseRepeatables(rows, err, b.table)
}

// ReadRepeatables reads the records of the repeatable scripts under the
// lock; inside a transaction it sees the transaction's changes.
func (s *session) ReadRepeatables(ctx context.Context) ([]backend.RepeatableRecord, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("pgxbackend: read repeatable scripts: %w", err)
	}
	if s.tstate == tableMissing {
		return nil, nil
	}
	results, err := s.query(ctx, repeatablesQuery(s.table, s.b.repeatKey))
	var rows [][][]byte
	if err == nil && len(results) > 0 {
		rows = results[len(results)-1].Rows
	}
	return parseRepeatables(rows, err, s.table)
}
