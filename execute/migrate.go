package execute

import (
	"context"
	"errors"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Migrate takes the database to target: the call for service start-up.
//
// It first checks, without waiting for the migration lock, whether the
// database is already there: with a backend that keeps digests
// (backend.HeadReader), one query that reads one row compares the
// history's digests (versions, and repeatable scripts) with the set's and
// tells whether a run holds the lock (the pgx backend takes the lock's key
// in shared mode for that instant, and gives it back in the same
// statement); otherwise it reads the history. When only the repeatable
// scripts' digest differs it reads the history, still without the lock:
// records of repeatable scripts removed from the files need no work. If
// there is nothing to do, it returns at once (no wait, no write, no lock
// held). Otherwise, and whenever another process holds the migration lock
// (its run is under way, and what it committed may not be durable yet), it
// takes the lock, plans again under it and runs the plan. Many
// replicas may call Migrate at once: one of them applies each step, the
// others wait and find nothing left to do. The Result is never nil.
//
// A database ahead of set (a newer release migrated it; see
// [Options].RefuseNewerDatabase) is accepted with a warning when every
// version of set is applied: the Result's plan is empty, and its From is
// the database's version, above set.Latest().
func Migrate(ctx context.Context, db backend.Backend, set *source.Set, target plan.Target, opts *Options) (*Result, error) {
	r := newRunner(opts)
	if err := checkBackend(db); err != nil {
		return r.res, err
	}
	if done, err := r.noop(ctx, db, set, target); err != nil || done {
		return r.res, err
	}
	// Anything else is decided under the lock: a dirty version seen without
	// it may belong to a step that another process is still running.
	err := underLock(ctx, db, r.log, func(sess backend.Session, now plan.State) error {
		p, err := r.plan(ctx, set, now, target)
		if err != nil {
			return err
		}
		r.use(p)
		if p.Empty() {
			return nil
		}
		if err := r.check(); err != nil {
			return err
		}
		return r.run(ctx, sess)
	})
	r.settle(err)
	return r.res, err
}

// noop reports whether the database is at target with nothing to do,
// decided without the lock; r.res then holds the empty plan.
func (r *runner) noop(ctx context.Context, db backend.Backend, set *source.Set, target plan.Target) (bool, error) {
	if hr, ok := db.(backend.HeadReader); ok {
		h, err := hr.ReadHead(ctx)
		if errors.Is(err, backend.ErrConnect) {
			return false, &Error{Err: ErrConnect, Cause: err} // no use waiting for the lock
		}
		if err != nil || h.Busy {
			return false, nil // decided under the lock
		}
		versionsDone := false
		if v := target.Version(set); h.Known && !h.Dirty && h.Version == v {
			if d, ok := set.Digest(v); ok && d == h.Digest {
				if h.Repeatables == set.RepeatablesDigest() || v != set.Latest() {
					r.use(&plan.Plan{From: v, To: v})
					return true, nil
				}
				versionsDone = true
			}
		}
		if h.Known && h.Version <= set.Latest() && !versionsDone {
			return false, nil // work to do, or a refusal: under the lock
		}
	}
	// The whole history, without the lock: a database ahead of the set
	// (see Options.RefuseNewerDatabase), a backend without digests, or
	// repeatable scripts' records that differ from the files (changed
	// files, or records of files removed, which stay and need no work).
	st, err := plan.ReadState(ctx, db)
	if errors.Is(err, backend.ErrConnect) {
		return false, &Error{Err: ErrConnect, Cause: err}
	}
	if err != nil {
		return false, nil
	}
	p, err := r.plan(ctx, set, st, target)
	if err != nil || !p.Empty() {
		return false, nil
	}
	r.use(p)
	return true, nil
}
