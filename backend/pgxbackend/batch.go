package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
)

var _ backend.RowCounter = (*session)(nil)

// ExecCount runs one batch of a waymark:batch statement: the fence, the
// limits (SET LOCAL) and the statement in one query, which PostgreSQL runs
// as one implicit transaction and commits, and returns the rows the
// statement reports. It works the same behind a transaction-mode pooler,
// since nothing outlives the transaction.
func (s *session) ExecCount(ctx context.Context, sql string, limits backend.Limits) (int64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, fmt.Errorf("pgxbackend: exec batch: %w", err)
	}
	if s.inTx {
		return 0, fmt.Errorf("pgxbackend: exec batch: %w", backend.ErrInTransaction)
	}
	if err := s.searchPathUsable(true); err != nil {
		return 0, err
	}
	pre := append([]string{s.fence()}, s.limits(limits, true)...)
	prefix := strings.Join(pre, ";\n") + ";\n"
	query := prefix + sql
	var rows int64
	done := 0
	err := s.watch(ctx, func(ctx context.Context) error {
		mrr := s.conn.PgConn().Exec(ctx, query)
		for mrr.NextResult() {
			tag, err := mrr.ResultReader().Close()
			if err != nil {
				break
			}
			rows = tag.RowsAffected()
			done++
		}
		return mrr.Close()
	})
	if err == nil {
		return rows, nil
	}
	// The implicit transaction was rolled back, or never committed: the
	// batch took no effect, unless the connection broke during the commit.
	if cerr := connError(err, true, s.conn.PgConn().IsClosed()); cerr != err {
		return 0, fmt.Errorf("pgxbackend: exec batch: %w", cerr)
	}
	if done < len(pre) {
		var pgErr *pgconn.PgError
		if done == 0 && errors.As(err, &pgErr) && pgErr.Code == "22012" {
			return 0, fmt.Errorf("pgxbackend: exec batch: %w: %s", backend.ErrLockLost, s.lostHint())
		}
		return 0, fmt.Errorf("pgxbackend: exec batch: %w", err)
	}
	return 0, s.scriptError(query, len(prefix), len(sql), 0, err)
}
