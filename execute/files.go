package execute

import "fmt"

// checkFiles refuses a plan whose steps no longer match the files of
// Options.Files, when it is set.
func (r *runner) checkFiles() error {
	if r.opts.Files == nil {
		return nil
	}
	if err := r.p.CheckFiles(r.opts.Files); err != nil {
		return &Error{Err: ErrBadPlan, Detail: "the files changed since the plan was made; nothing was run", Cause: err}
	}
	return nil
}

// checkPath refuses a plan whose steps are not exactly the path from its
// From to its To: for its own state (which the state read under the lock
// must equal, or the plan is stale) and, when Options.Files is set, the
// path plan.Compute gives for those files with Options.Plan.
func (r *runner) checkPath() error {
	if err := r.p.CheckPath(r.opts.Files, r.opts.Plan); err != nil {
		return &Error{Err: ErrBadPlan, Detail: fmt.Sprintf("its steps are not the path from %d to %d; nothing was run", r.p.From, r.p.To), Cause: err}
	}
	return nil
}
