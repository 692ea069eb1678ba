package pgxbackend

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

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
	var ne *backend.ConnectError
	var stopped *cancelled
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.As(err, &stopped) {
		return err // already classified, or the caller's context ended
	}
	var connecting *pgconn.ConnectError
	if errors.As(err, &connecting) {
		return connectError(nil, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && refusal(pgErr) {
		// A pooler that cannot log in to the server says so when the
		// client's first query needs a server connection.
		return &backend.ConnectError{Problem: backend.ConnectRefused, Err: err}
	}
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

// connectError classifies err, the failure to make a connection (or to
// acquire one from pool, if not nil), as a *backend.ConnectError. An error
// that does not say where it tried to connect (a pool's, when the context
// ended first) gets the pool's address.
func connectError(pool *pgxpool.Pool, err error) error {
	var ne *backend.ConnectError
	if err == nil || errors.As(err, &ne) {
		return err
	}
	var connecting *pgconn.ConnectError
	if pool != nil && !errors.As(err, &connecting) {
		cfg := pool.Config().ConnConfig
		err = fmt.Errorf("%s (port %d): %w", cfg.Host, cfg.Port, err)
	}
	problem := backend.ConnectFailed
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "28"):
		problem = backend.ConnectAuth
	case errors.As(err, &pgErr):
		problem = backend.ConnectRefused
	}
	return &backend.ConnectError{Problem: problem, Err: err}
}

// refusal reports whether pgErr, on a connection that was made, is a
// refusal to serve it: PgBouncer reports its own refusals, such as its
// back-off after failed logins to the server ("server login has been
// failing, try again later"), as protocol violations (08P01); a server
// starting up or shutting down says 57P03.
func refusal(pgErr *pgconn.PgError) bool {
	return pgErr.Code == "08P01" || pgErr.Code == "57P03"
}
