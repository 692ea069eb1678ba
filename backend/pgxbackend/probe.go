package pgxbackend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
)

// Waiting for a reply that never comes (see "Faults" in the package doc):
// with limits set, a round trip silent for longer than the longest limit
// plus replyGrace is checked on (probe), over a new connection that gets
// probeTimeout to answer; a check that finds the round trip still running
// on the server waits again as long.
const (
	replyGrace   = 5 * time.Second
	probeTimeout = 5 * time.Second
	// idleFor is how long the server must have been done with the session's
	// query, the reply still not arrived, before the reply counts as lost.
	idleFor = "1 second"
)

// patienceFor returns how long a round trip under limits l may stay silent
// before the session checks on it, or 0 (no limits: no check; only the
// context ends the wait).
func patienceFor(l backend.Limits) time.Duration {
	if l.LockTimeout <= 0 && l.StatementTimeout <= 0 {
		return 0
	}
	return max(l.LockTimeout, l.StatementTimeout) + replyGrace
}

// watched runs fn with the round trips it makes checked on, when limits
// are set, for replies that never come (see probe).
func (s *session) watched(l backend.Limits, fn func() error) error {
	if p := patienceFor(l); p > 0 {
		s.patience = p // kept for the rest of the run: a later COMMIT is checked on as well
	}
	s.probing = true
	defer func() { s.probing = false }()
	return fn()
}

// probe checks, over a new connection, on a round trip of the session that
// has had no reply for a while. It returns nil when the round trip is
// still running on the server, or when the server answers but cannot tell
// (it refused the new connection, or hides other sessions' activity); it
// returns why the reply counts as lost when the server cannot be reached
// within probeTimeout, when no server process runs the session any more,
// or when the server finished the round trip over a second ago and its
// reply has not arrived.
//
// The session's server process is found by its process id with the
// advisory lock, and, under a lease (behind a pooler, where the process
// varies), by the lease holder's id in the text of the query it runs:
// every round trip checked on under a lease begins with the fence or the
// renewal, which name the holder.
func (s *session) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if s.b.hooks.probe != nil {
		s.b.hooks.probe()
	}
	conn, err := s.b.connected(ctx)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && ctx.Err() == nil {
			return nil // the server (or pooler) answers, with a refusal
		}
		return fmt.Errorf("a new connection to check on it failed too within %v: %w", probeTimeout, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		conn.Close(cctx)
		cancel()
	}()
	which := "pid = " + s.pid
	if s.mode == LockLease {
		which = "pg_catalog.strpos(query, " + literal(s.holder) + ") > 0"
	}
	results, err := conn.PgConn().Exec(ctx, `SELECT state, pg_catalog.clock_timestamp() - state_change > interval '`+idleFor+`'
FROM pg_catalog.pg_stat_activity WHERE pid <> pg_catalog.pg_backend_pid() AND `+which+`
ORDER BY state = 'active' DESC LIMIT 1`).ReadAll()
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return nil
		}
		return fmt.Errorf("a new connection to check on it failed too: %w", err)
	}
	rows := results[0].Rows
	switch {
	case len(rows) == 0:
		return errors.New("no server process runs the session any more")
	case rows[0][0] == nil:
		return nil // activity hidden from this role: cannot tell
	case string(rows[0][0]) == "active" || string(rows[0][1]) != "t":
		return nil
	}
	return fmt.Errorf("the server finished the query (its session is %s) but the reply did not arrive", rows[0][0])
}
