package pgxbackend

import (
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
)

// connError returns err as a *backend.ConnectionError when it means that
// the connection broke rather than that a statement failed: the server
// ended the session (a FATAL error: terminated, shut down), or the network
// or socket failed (closed reports whether pgx has closed the connection
// since). ownTx says whether the failed call sent a COMMIT of its own, or
// a statement outside any transaction, whose reply may have been lost: its
// outcome is then unknown unless the server said it ended the session.
func connError(err error, ownTx, closed bool) error {
	if err == nil {
		return nil
	}
	var ce *backend.ConnectionError
	var stopped *cancelled
	if errors.As(err, &ce) || errors.As(err, &stopped) {
		return err // already classified, or the caller's context ended
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Severity == "FATAL" || pgErr.Severity == "PANIC" {
			return &backend.ConnectionError{Outcome: backend.OutcomeRolledBack, Err: err}
		}
		return err
	}
	var netErr net.Error
	if closed || errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		outcome := backend.OutcomeRolledBack
		if ownTx {
			outcome = backend.OutcomeUnknown
		}
		return &backend.ConnectionError{Outcome: outcome, Err: err}
	}
	return err
}
