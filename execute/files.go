package execute

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
