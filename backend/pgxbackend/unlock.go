package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
)

// Unlock rolls back an open transaction, brings the session back to the
// state it had when it took the lock, releases the lock and gives the
// connection back to its pool (or leaves it to its owner). It reports
// honestly whether the lock may still be held (see the package doc).
func (s *session) Unlock(ctx context.Context) error {
	if s.unlocked {
		return fmt.Errorf("pgxbackend: unlock: %w", backend.ErrUnlocked)
	}
	s.unlocked = true
	s.stopHeartbeat()
	bound := unlockTimeout
	if s.mode == LockLease {
		// A release that cannot get through keeps trying until the lease
		// would have expired anyway.
		bound = max(bound, time.Until(s.leaseEnd()))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
	defer cancel()
	var err error
	if s.mode == LockLease {
		err = s.releaseLease(ctx)
	} else {
		err = s.releaseAdvisory(ctx)
	}
	s.giveBack(err != nil)
	return err
}

// releaseAdvisory resets the session and releases the advisory lock in one
// query, tried twice (a late cancel request of the caller's context may hit
// the first try). If neither try succeeds, it ends the session's server
// process from another connection, which releases the lock.
func (s *session) releaseAdvisory(ctx context.Context) error {
	var stmts []string
	if s.inTx || s.conn.PgConn().TxStatus() != 'I' {
		stmts = append(stmts, "ROLLBACK")
	}
	s.inTx = false
	stmts = append(stmts, s.restore(false)...)
	if s.async {
		// A durable commit flushes the run's asynchronous commits before
		// the lock is free. The server flushes a commit only if its
		// transaction wrote WAL (an xid alone is not enough): a
		// transactional logical message, which any user may emit and
		// which changes nothing, makes it write some.
		stmts = append(stmts, "SELECT pg_catalog.pg_logical_emit_message(true, 'waymark', 'flush')")
	}
	if s.pooled != nil {
		// The connection goes back to the application's pool: nothing a
		// script left on it may follow.
		stmts = append(stmts, "UNLISTEN *", "CLOSE ALL")
	}
	stmts = append(stmts, fmt.Sprintf(`SELECT pg_catalog.pg_advisory_unlock(%d) AS "waymark:unlocked"`, s.key))
	if s.pooled != nil {
		stmts = append(stmts, "SELECT pg_catalog.pg_advisory_unlock_all()")
	}
	q := strings.Join(stmts, ";\n")
	var err error
	for try := range 2 {
		if s.conn.PgConn().IsClosed() {
			err = errors.New("the connection is closed")
			break
		}
		if s.b.hooks.unlockTry != nil {
			if err = s.b.hooks.unlockTry(try); err != nil {
				continue
			}
		}
		var results []*pgconn.Result
		if results, err = s.query(ctx, q); err == nil {
			if !unlocked(results) {
				return fmt.Errorf("pgxbackend: release the migration lock: %w: the server says this session did not hold it", backend.ErrLockLost)
			}
			return nil
		}
	}
	ferr := s.terminate(ctx)
	for try := 0; ferr != nil && cutOff(ferr) && try < 3 && ctx.Err() == nil; try++ {
		// A server going down may take the connection and drop it.
		time.Sleep(250 * time.Millisecond)
		ferr = s.terminate(ctx)
	}
	if ferr != nil {
		if serverDown(ferr) {
			// An advisory lock lives in the server's memory: it ends with
			// the server process that holds it, and no one can take or
			// hold it while the server is not running.
			return nil
		}
		return fmt.Errorf("pgxbackend: release the migration lock: %w: %w; and ending the session's server process %s failed: %w",
			backend.ErrLockMayBeHeld, err, s.pid, ferr)
	}
	return nil
}

// cutOff reports whether err is a connection attempt that the server
// dropped before it answered.
func cutOff(err error) bool {
	var connecting *pgconn.ConnectError
	return errors.As(err, &connecting) &&
		(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))
}

// serverDown reports whether err, from connecting, says that the server is
// not running: nothing listens at its address, or it is starting up (after
// a crash or a restart), shutting down or recovering (SQLSTATE 57P03).
func serverDown(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "57P03"
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}

// unlocked reports whether the result of pg_advisory_unlock says true.
func unlocked(results []*pgconn.Result) bool {
	for _, r := range results {
		if len(r.FieldDescriptions) == 1 && r.FieldDescriptions[0].Name == "waymark:unlocked" {
			return len(r.Rows) == 1 && string(r.Rows[0][0]) == "t"
		}
	}
	return false
}

// terminate ends the session's server process from another connection
// and checks that no process holds the lock as that process any more.
func (s *session) terminate(ctx context.Context) error {
	if s.b.hooks.terminate != nil {
		if err := s.b.hooks.terminate(); err != nil {
			return err
		}
	}
	conn, err := s.b.connected(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	q := fmt.Sprintf(`SELECT pg_catalog.pg_terminate_backend(%[1]s, 5000);
SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = %[1]s AND objsubid = 1
	AND classid = '%[2]d'::oid AND objid = '%[3]d'::oid`, s.pid, uint64(s.key)>>32, uint64(s.key)&0xffffffff)
	results, err := conn.PgConn().Exec(ctx, q).ReadAll()
	if err != nil {
		return err
	}
	if n := string(results[1].Rows[0][0]); n != "0" {
		return fmt.Errorf("server process %s still holds the lock", s.pid)
	}
	return nil
}

// releaseLease resets the session and deletes the lease, tried on the
// session's connection and, if that fails, on a new one. A lease that can
// be neither released nor found expires on its own, after at most LeaseTTL
// (see releaseAgain).
func (s *session) releaseLease(ctx context.Context) error {
	var stmts []string
	if s.inTx || s.conn.PgConn().TxStatus() != 'I' {
		stmts = append(stmts, "ROLLBACK")
	}
	s.inTx = false
	stmts = append(stmts, s.restore(false)...)
	release := fmt.Sprintf(`DELETE FROM %s WHERE lock_key = %d AND holder = %s`, s.leaseTable, s.key, literal(s.holder))
	stmts = append(stmts, release)
	var (
		results []*pgconn.Result
		err     error
	)
	if !s.conn.PgConn().IsClosed() {
		results, err = s.query(ctx, strings.Join(stmts, ";\n"))
	} else {
		err = errors.New("the connection is closed")
	}
	retried := false
	if err != nil {
		if results, err = s.releaseAgain(ctx, release); err != nil {
			return fmt.Errorf("pgxbackend: release the migration lease: %w: %w; it expires by itself by %s (Options.LeaseTTL after its last renewal)",
				backend.ErrLockMayBeHeld, err, s.leaseEnd().UTC().Format(time.RFC3339))
		}
		retried = true
	}
	last := results[len(results)-1].CommandTag
	if retried && last.Delete() && last.RowsAffected() == 0 {
		// The first try's DELETE may have committed with its reply lost:
		// either way the lease is no longer ours, and nobody's by our hand.
		return nil
	}
	if !last.Delete() || last.RowsAffected() != 1 {
		return fmt.Errorf("pgxbackend: release the migration lease: %w: it had expired and another session took it over", backend.ErrLockLost)
	}
	return nil
}

// Retrying the release of a lease pauses from releasePauseMin, doubling,
// up to releasePauseMax; each try gets up to releaseTry.
const (
	releasePauseMin = 100 * time.Millisecond
	releasePauseMax = 2 * time.Second
	releaseTry      = 5 * time.Second
)

// leaseEnd is the latest the lease can expire by itself: LeaseTTL after the
// last query that may have renewed it was sent.
func (s *session) leaseEnd() time.Time {
	return time.Unix(0, s.renewed.Load()).Add(s.b.opts.LeaseTTL)
}

// releaseAgain runs release on new connections until one succeeds, or
// until trying again would end after the lease expires by itself (or ctx
// ends): a server restarting behind a pooler (whose login back-off refuses
// connections for a while) is back in time, and the next run need not
// wait the lease out. It returns the errors of the tries when none
// succeeded.
func (s *session) releaseAgain(ctx context.Context, release string) ([]*pgconn.Result, error) {
	end := s.leaseEnd()
	var errs []error
	pause := releasePauseMin
	for try := 1; ; try++ {
		tctx, cancel := context.WithTimeout(ctx, min(releaseTry, max(time.Until(end), time.Second)))
		results, err := s.releaseOnce(tctx, release)
		cancel()
		if err == nil {
			return results, nil
		}
		if len(errs) < 3 {
			errs = append(errs, fmt.Errorf("try %d: %w", try, err))
		} else {
			errs[2] = fmt.Errorf("try %d: %w", try, err) // the first two and the last
		}
		if time.Now().Add(pause).After(end) || ctx.Err() != nil {
			return nil, errors.Join(errs...)
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(errs...)
		case <-time.After(pause):
		}
		pause = min(2*pause, releasePauseMax)
	}
}

// releaseOnce runs release on a new connection.
func (s *session) releaseOnce(ctx context.Context, release string) ([]*pgconn.Result, error) {
	conn, err := s.b.connected(ctx)
	if err != nil {
		return nil, connectError(nil, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		conn.Close(cctx)
		cancel()
	}()
	return conn.PgConn().Exec(ctx, release).ReadAll()
}

// giveBack ends the session's use of its connection. A pooled connection
// goes back to the pool, unless its state is not known to be clean (broken
// is set, or it is inside a transaction): then it is closed. A single
// *pgx.Conn belongs to the caller and stays open.
func (s *session) giveBack(broken bool) {
	if s.pooled == nil {
		return
	}
	pc := s.pooled.Conn().PgConn()
	if !broken && !pc.IsClosed() && pc.TxStatus() == 'I' {
		s.pooled.Release()
		return
	}
	conn := s.pooled.Hijack()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
