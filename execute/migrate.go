package execute

import (
	"context"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Migrate takes the database to target: the call for service start-up.
//
// It first reads the state without locking; if the database is already
// there, it returns at once (one read, no lock, no write). Otherwise it takes
// the migration lock, plans again under it (another process may have
// migrated meanwhile) and runs the plan. Many replicas may call Migrate at
// once: one of them applies each step, the others wait and find nothing left
// to do. The Result is never nil.
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
	if records, err := db.ReadState(ctx); err == nil {
		if p, err := r.plan(ctx, set, plan.State{Records: records}, target); err == nil && p.Empty() {
			r.use(p)
			return r.res, nil
		}
	}
	// Anything else is decided under the lock: a dirty version seen without
	// it may belong to a step that another process is still running.
	return r.res, underLock(ctx, db, r.log, func(sess backend.Session, now plan.State) error {
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
}
