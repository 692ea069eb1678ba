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
func Migrate(ctx context.Context, db backend.Backend, set *source.Set, target plan.Target, opts *Options) (*Result, error) {
	r := newRunner(opts)
	if err := checkBackend(db); err != nil {
		return r.res, err
	}
	popts := r.opts.Plan
	if p, err := plan.Build(ctx, db, set, target, popts); err == nil && p.Empty() {
		r.use(p)
		return r.res, nil
	}
	// Anything else is decided under the lock: a dirty version seen without
	// it may belong to a step that another process is still running.
	return r.res, underLock(ctx, db, r.log, func(sess backend.Session, now plan.State) error {
		p, err := plan.Compute(set, now, target, popts)
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
