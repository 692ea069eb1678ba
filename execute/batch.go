package execute

import (
	"context"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Batch reports one run of a waymark:batch statement (see [Event]).
type Batch struct {
	// Statement is the 1-based number of the statement in its script.
	Statement int
	// N is the 1-based number of this run of the statement.
	N int
	// Rows is the number of rows this run touched; Total the number all
	// runs of the statement in this step touched so far.
	Rows, Total int64
	// Duration is how long this run took.
	Duration time.Duration
}

// canBatch refuses, before anything runs, a plan with waymark:batch
// statements on a session that cannot count rows.
func (r *runner) canBatch(sess backend.Session) error {
	if _, ok := sess.(backend.RowCounter); ok {
		return nil
	}
	for i, sc := range r.scripts {
		if len(sc.Batches) > 0 {
			st := r.p.Steps[i]
			return &Error{Err: ErrBadPlan, Version: st.Version, Path: st.Path,
				Detail: "the backend cannot run a waymark:batch statement (its Session is not a backend.RowCounter)"}
		}
	}
	return nil
}

// runBatch runs statement i of a no-transaction step, a batch, again and
// again until it reports no row: each run in a transaction of its own that
// commits, within the batch's limits, with its pause in between.
func (r *runner) runBatch(ctx context.Context, sess backend.Session, st plan.Step, sc *source.Script, i int, b source.Batch) error {
	rc, ok := sess.(backend.RowCounter)
	if !ok {
		return &Error{Err: ErrBadPlan, Version: st.Version, Path: st.Path,
			Detail: "the backend cannot run a waymark:batch statement (its Session is not a backend.RowCounter)"}
	}
	limits := r.limits()
	if b.LockTimeout > 0 {
		limits.LockTimeout = b.LockTimeout
	}
	if b.StatementTimeout > 0 {
		limits.StatementTimeout = b.StatementTimeout
	}
	stmt := sc.Statements[i]
	var total int64
	for n := 1; ; n++ {
		start := time.Now()
		rows, err := rc.ExecCount(ctx, stmt.SQL, limits)
		if err != nil {
			r.log.ErrorContext(ctx, "waymark: batch failed", "version", st.Version, "statement", i+1, "batch", n, "rows_so_far", total, "error", err)
			return batchError(st, sc, err, i)
		}
		total += rows
		bt := Batch{Statement: i + 1, N: n, Rows: rows, Total: total, Duration: time.Since(start)}
		r.log.InfoContext(ctx, "waymark: batch", "version", st.Version, "statement", bt.Statement, "batch", n,
			"rows", rows, "total", total, "duration", bt.Duration)
		r.progress(Event{Step: st, Index: r.index, Total: len(r.p.Steps), Batch: &bt})
		if rows == 0 {
			return nil
		}
		if b.Pause > 0 {
			select {
			case <-ctx.Done():
				return batchError(st, sc, context.Cause(ctx), i)
			case <-time.After(b.Pause):
			}
		}
	}
}

// batchError is the error of a batch that failed or was stopped.
func batchError(st plan.Step, sc *source.Script, err error, i int) error {
	e := stepError(st, sc, err, i, true).(*StepError)
	e.Resumable = sc.Resumable()
	return e
}
