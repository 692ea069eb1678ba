package execute

import (
	"context"
	"errors"

	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// plan computes Migrate's plan from the state now. Beyond plan.Compute, it
// lets an older replica of a rolling deploy boot: when the plan to
// plan.Latest() is refused only because the database has versions above
// the set's latest, and the set's own versions are all applied (the plan
// with those tolerated is empty), it logs a warning and returns that empty
// plan, unless Options.RefuseNewerDatabase.
func (r *runner) plan(ctx context.Context, set *source.Set, now plan.State, target plan.Target) (*plan.Plan, error) {
	p, err := plan.Compute(set, now, target, r.opts.Plan)
	if err == nil || target != plan.Latest() || r.opts.RefuseNewerDatabase || !errors.Is(err, plan.ErrUnknownVersion) {
		return p, err
	}
	var loose plan.Options
	if r.opts.Plan != nil {
		loose = *r.opts.Plan
	}
	loose.AllowNewerDatabase = true
	q, qerr := plan.Compute(set, now, target, &loose)
	if qerr != nil || !q.Empty() {
		return p, err
	}
	var newer []int64
	for _, rec := range now.Records {
		if rec.Version > set.Latest() {
			newer = append(newer, rec.Version)
		}
	}
	r.log.WarnContext(ctx, "waymark: the database is ahead of this binary's migrations (a newer release applied them); nothing to do",
		"latest", set.Latest(), "database", q.From, "newer", newer)
	return q, nil
}
