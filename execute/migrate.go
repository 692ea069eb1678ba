package execute

import (
	"context"
	"errors"
	"fmt"

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
func Migrate(ctx context.Context, db backend.Backend, set *source.Set, target plan.Target, opts *Options) (res *Result, err error) {
	r := newRunner(opts)
	popts := r.opts.Plan
	if p, err := plan.Build(ctx, db, set, target, popts); err == nil && p.Empty() {
		r.use(p)
		return r.res, nil
	}
	// Anything else is decided under the lock: a dirty version seen without
	// it may belong to a step that another process is still running.
	sess, err := lock(ctx, db, r.log)
	if err != nil {
		return r.res, err
	}
	defer func() { err = errors.Join(err, unlock(ctx, sess, r.log)) }()
	records, err := sess.ReadState(ctx)
	if err != nil {
		return r.res, fmt.Errorf("execute: read state: %w", err)
	}
	p, err := plan.Compute(set, plan.State{Applied: records}, target, popts)
	if err != nil {
		return r.res, err
	}
	r.use(p)
	if p.Empty() {
		return r.res, nil
	}
	if err := r.check(); err != nil {
		return r.res, err
	}
	return r.res, r.run(ctx, sess)
}
