// Package execute runs a [plan.Plan] against a [backend.Backend], safely.
//
// # Guarantees
//
// [Run] takes the backend's exclusive migration lock, reads the state again
// under it and refuses a plan made from another state ([ErrStalePlan]), so
// two runs never apply a step twice. It runs exactly the plan's path:
// before anything happens, it refuses ([ErrBadPlan] wrapping
// plan.ErrNotPath) a plan whose steps are not the path from its From to
// its To for its state, which is the state read under the lock, and, given
// [Options].Files, not the path plan.Compute gives for those files (see
// plan.Plan.CheckPath: without the files, an up plan missing a version
// between two of its steps cannot be told). Each step then runs in a transaction of
// its own together with its history record: a failing step leaves neither
// its changes nor its record, and the steps before it stay applied (the
// [Result] lists them). With [Options].SingleTransaction the whole plan is
// one transaction: all of it or nothing.
//
// A no-transaction step cannot be atomic. It is recorded as dirty first,
// then its statements run one by one, each after the backend proved the
// lock is still the run's, then it is recorded clean. If a statement
// fails, the version stays dirty and every later plan refuses to run
// ([plan.ErrDirty]) until [Resolve] records what the database holds; the
// [StepError] says which statements took effect, and, for a statement
// that built an index concurrently, names every index it left INVALID and
// the DROP INDEX CONCURRENTLY of each (backend.ErrInvalidIndex). Such a
// statement is never tried again, whatever [Options].LockTimeoutRetries.
//
// A repeatable script's step (plan.Step.Repeatable) runs like a version's,
// in its own transaction with its record (backend.Repeat), which replaces
// the script's earlier one; a no-transaction one runs statement by
// statement and is recorded after its last statement, never dirty: if a
// statement fails, its record is unchanged and the next run applies it
// again from the start. A plan with repeatable scripts' steps or
// plan.Plan.ForgetRepeatables needs a backend that records them
// (backend.RepeatableReader; [ErrBadPlan] otherwise); a down plan forgets
// their records (backend.Forget) before its first step.
//
// # Batches
//
// A statement marked waymark:batch (see package source) runs again and
// again, each run in a transaction of its own that commits (and proves the
// lock, like every write), within the directive's lock and statement
// timeouts (else the Options'), with its pause in between, until it
// reports 0 rows. Each run is logged (Info, "waymark: batch", with its rows
// and the running total) and reported to Options.Progress ([Event].Batch).
// A step whose script is all batches is resumable: when it stops part-way
// (a failure, a cancel, a lost connection, a killed process) its version
// stays dirty with the batches that committed, the [StepError] says so
// (Resumable), and the next up plan resumes it ([plan.Step].Resume) instead
// of refusing: its batches find only the rows not yet done. The session
// must implement backend.RowCounter (pgxbackend's does).
//
// Every step's SQL starts from the same session state, whatever earlier
// steps of the run set (see the backend), and runs within
// [Options].LockTimeout and StatementTimeout when they are set.
//
// Cancelling the context stops the running statement on the server; its
// step is rolled back (or, outside a transaction, left dirty) and the lock
// is released.
//
// # Faults
//
// A step whose connection breaks fails with a [*StepError] wrapping a
// *backend.ConnectionError: its Outcome says whether the server rolled
// the step back or whether it is unknown if the step committed (the reply
// was lost, or never came); the error names the version and says that the
// history tells ("waymark status"). A run never claims a cancel or a
// rollback the server did not confirm. With LockTimeout or
// StatementTimeout set, a network that goes silent without closing ends
// the run without a context deadline (the pgx backend gives up on the
// reply after the longest limit plus 10s at most, then releases the lock
// within its own bound).
//
// The steps before a run's last commit do not wait for the disk (see
// [Options].DurableEveryStep): a crash of the server can undo them, each
// whole, from the last back to the last durable commit. A run that ends
// with a lost connection (or a release of the lock that did not get
// through, which would have flushed them) lists such steps, and the step whose commit was
// never confirmed, in [Result].Unconfirmed rather than in Result.Steps.
// Running again reads the history under the lock and applies what is
// missing: it finishes the job.
//
// # The lock
//
// Waiting for the migration lock, held by another process, lasts as long
// as the context allows: the Logger hears when the wait starts and every
// few seconds, with who holds the lock and what it runs, and a wait that
// the context ends returns a [*LockError] ([ErrLockTimeout]) naming the
// holder. A step that finds the lock lost (a transaction-mode pooler, an
// expired lease) changes nothing and fails with backend.ErrLockLost.
//
// [Migrate] is the call for service start-up: when there is nothing to do,
// it returns after one read that never waits for the migration lock and
// writes nothing (to see whether a run is under way, the pgx backend's read
// takes the lock's key in shared mode and gives it back in the same
// statement).
package execute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Options configure Run and Migrate. A nil *Options means the defaults.
type Options struct {
	// Plan holds the checks Migrate computes its plan with. Run, given
	// Files, computes with them the path its plan must be (see Files).
	// Default: nil, the defaults of plan.Options.
	Plan *plan.Options
	// SingleTransaction runs the whole plan in one transaction, so that it
	// applies completely or not at all. A plan with a no-transaction step
	// is refused ([ErrBadPlan]). Default false: one transaction per step.
	SingleTransaction bool
	// LockTimeout bounds each wait of a step's SQL for a table lock
	// (PostgreSQL's lock_timeout, set for the step only), so that a step
	// queued behind a long transaction gives up instead of blocking every
	// query that queues behind it. It does not bound the wait for waymark's
	// own migration lock, which the context does. Default 0: the server's
	// setting.
	LockTimeout time.Duration
	// StatementTimeout bounds each statement of a step (PostgreSQL's
	// statement_timeout, set for the step only). Default 0: the server's
	// setting.
	StatementTimeout time.Duration
	// LockTimeoutRetries is how many more times a transactional step that
	// failed because its LockTimeout passed is tried, after a pause that
	// doubles from one second up to half a minute (with jitter). Each try
	// is a new transaction; nothing of a failed try stays. No-transaction
	// steps are never retried. Default 0: the first failure stands.
	LockTimeoutRetries int
	// DurableEveryStep makes every step's commit wait until it is flushed
	// to disk. Default false: the steps before the last commit without
	// waiting (PostgreSQL's synchronous_commit = off, for those
	// transactions only), and the run's last commit, durable, flushes them
	// all; a failed run's are flushed when the lock is released. A crash
	// can lose such a step only whole (its SQL and its record are one
	// transaction), never leave the history ahead of the schema, and no
	// other process acts on a step before it is durable (Migrate waits for
	// a run under way). It saves a disk flush per step.
	DurableEveryStep bool
	// Logger receives a record per step (level Info), per statement of
	// no-transaction steps (Debug), and, while another session holds the
	// migration lock, one when the wait starts and one every few seconds
	// naming the holder (Info). It is the one logger of a run: backends
	// report through errors, not logs. Default: nothing is logged.
	Logger *slog.Logger
	// Progress, if set, is called before and after each step, from the
	// goroutine running the plan. Default: nil.
	Progress func(Event)
	// Files, if set, is the migration set as it is now. Run checks a plan
	// made earlier against it (plan.Plan.CheckFiles) and refuses, before
	// anything happens, a plan a step of which no longer matches its file
	// ([ErrBadPlan] wrapping plan.ErrFileChanged, naming the file), and a
	// plan whose steps are not the path plan.Compute gives for these files,
	// the plan's state and its end, with Options.Plan ([ErrBadPlan]
	// wrapping plan.ErrNotPath, naming the version: a step deleted by hand
	// from a saved plan). Migrate ignores it: it plans from its own set.
	// Default nil: only what the plan itself tells is checked.
	Files *source.Set
	// RefuseNewerDatabase makes Migrate to plan.Latest() refuse a database
	// that has applied versions above the set's latest. Default false:
	// when the database has every version of the set applied, clean and
	// with the files' checksums, and more versions above them (a newer
	// release migrated; this is an older replica during a rolling deploy),
	// Migrate logs a warning and succeeds with an empty plan. Plans from
	// plan.Build and plan.Compute, and Migrate to other targets, refuse
	// such a database unless plan.Options.AllowNewerDatabase is set.
	RefuseNewerDatabase bool
}

// Event reports progress through a plan.
type Event struct {
	Step plan.Step
	// Index is the 0-based position of Step in the plan; Total is the
	// number of steps.
	Index, Total int
	// Done is false before the step runs and true after.
	Done bool
	// Duration and Err are set when Done.
	Duration time.Duration
	Err      error
	// Batch, when set, reports one run of a waymark:batch statement of
	// the step (between its events before and after, with Done false).
	Batch *Batch
}

// Result is what a run did.
type Result struct {
	// Plan is the plan that ran (for Migrate, the one computed under the
	// lock).
	Plan *plan.Plan
	// Steps lists the steps that took effect, in order. After an error it
	// holds the steps that took effect before the failure (none with
	// SingleTransaction). After a lost connection it holds only those the
	// run can vouch for: the rest are in Unconfirmed.
	Steps []StepResult
	// Unconfirmed lists, in order, the steps after Steps that may or may
	// not have taken effect, when the run ended with a lost connection
	// (an error wrapping backend.ErrConnectionLost, or backend.ErrConnect
	// from a pooler that could not reach the server) or a release of the
	// lock that did not get through (backend.ErrLockMayBeHeld): steps
	// committed without waiting for the disk (see
	// Options.DurableEveryStep) that no durable commit of the run
	// followed, which a crash of the server undoes, and the step whose
	// commit the server never confirmed. The history tells which are
	// applied; running again applies the rest.
	Unconfirmed []StepResult
}

// StepResult is one step that took effect.
type StepResult struct {
	Version int64
	// Name is the version's name, or the repeatable script's.
	Name string
	// Repeatable marks a repeatable script's step (Version 0).
	Repeatable bool
	Direction  source.Direction
	Duration   time.Duration
}

// Run executes p: it takes the migration lock, checks that the database is
// still in the state p was computed from, and runs the steps (see the
// package doc for the guarantees). An empty plan returns at once without
// touching the database. The Result is never nil; after an error it says
// which steps were applied.
func Run(ctx context.Context, db backend.Backend, p *plan.Plan, opts *Options) (*Result, error) {
	r := newRunner(opts)
	r.use(p)
	if p.Empty() {
		return r.res, nil
	}
	if err := r.checkFiles(); err != nil {
		return r.res, err
	}
	if err := r.checkPath(); err != nil {
		return r.res, err
	}
	if err := r.check(); err != nil {
		return r.res, err
	}
	if err := checkBackend(db); err != nil {
		return r.res, err
	}
	err := underLock(ctx, db, r.log, func(sess backend.Session, now plan.State) error {
		if err := stale(p.State, now); err != nil {
			return err
		}
		if err := staleHistory(p, now); err != nil {
			return err
		}
		return r.run(ctx, sess)
	})
	r.settle(err)
	return r.res, err
}

// settle moves the steps the run cannot vouch for from Result.Steps to
// Result.Unconfirmed, when the run ended with a lost connection or a
// release that did not get through (backend.ErrLockMayBeHeld): the
// steps no durable commit followed (Unlock would have made the last one
// durable), and the step whose commit the server never confirmed.
func (r *runner) settle(err error) {
	lost := errors.Is(err, backend.ErrConnectionLost) || errors.Is(err, backend.ErrLockMayBeHeld) ||
		errors.Is(err, backend.ErrConnect) // a pooler refusing mid-run: its server may have restarted
	if !lost {
		return
	}
	steps := r.res.Steps
	if r.durable < len(steps) {
		r.res.Steps, r.res.Unconfirmed = steps[:r.durable:r.durable], slices.Clone(steps[r.durable:])
	}
	if r.unknown != nil {
		r.res.Unconfirmed = append(r.res.Unconfirmed, *r.unknown)
	}
}

// runner executes the steps of one plan.
type runner struct {
	p       *plan.Plan
	scripts []*source.Script // the steps' scripts, parsed by check
	opts    Options
	log     *slog.Logger
	res     *Result
	durable int         // how many of res.Steps a durable commit has followed
	unknown *StepResult // the step whose commit the server never confirmed
	index   int         // the step running
}

func newRunner(opts *Options) *runner {
	r := &runner{res: &Result{}}
	if opts != nil {
		r.opts = *opts
	}
	r.log = r.opts.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// use sets the plan to run.
func (r *runner) use(p *plan.Plan) {
	r.p, r.res.Plan = p, p
}

// check refuses a plan that cannot run as it is, before anything happens:
// each step's SQL is checked again as package source checks a file, so that
// a plan decoded from JSON or built by hand gets the same scrutiny.
func (r *runner) check() error {
	r.scripts = make([]*source.Script, len(r.p.Steps))
	for i, st := range r.p.Steps {
		bad := func(format string, args ...any) error {
			return &Error{Err: ErrBadPlan, Version: st.Version, Path: st.Path, Detail: fmt.Sprintf(format, args...)}
		}
		sc, err := source.ParseScript(st.Path, []byte(st.SQL), st.Direction)
		switch {
		case err != nil:
			return &Error{Err: ErrBadPlan, Version: st.Version, Path: st.Path, Detail: "its SQL is not a valid script", Cause: err}
		case sc.Checksum != st.Checksum:
			return bad("SQL does not match its checksum")
		case sc.NoTransaction != st.NoTransaction:
			return bad("the step's no-transaction flag (%v) does not match its script's directive", st.NoTransaction)
		case st.NoTransaction && r.opts.SingleTransaction:
			return bad("Options.SingleTransaction, but the step must run outside a transaction")
		case st.Resume && (st.Direction != source.Up || !sc.Resumable()):
			return bad("a resume step, but its script is not an up script of waymark:batch statements only")
		case st.Repeatable && len(sc.Batches) > 0:
			return bad("a repeatable script's step, but its script has a waymark:batch statement (batches belong in versioned migrations)")
		}
		r.scripts[i] = sc
	}
	return nil
}

// run executes the steps under the lock.
func (r *runner) run(ctx context.Context, sess backend.Session) error {
	p := r.p
	if _, ok := sess.(backend.RepeatableReader); !ok && (p.ForgetRepeatables || len(p.Repeatables()) > 0) {
		return &Error{Err: ErrBadPlan, Detail: "the plan has repeatable scripts, and the backend does not record them"}
	}
	if err := r.canBatch(sess); err != nil {
		return err
	}
	r.log.InfoContext(ctx, "waymark: migrating", "direction", p.Direction.String(), "from", p.From, "to", p.To, "steps", len(p.Steps))
	if r.opts.SingleTransaction {
		if err := sess.Begin(ctx); err != nil {
			return &Error{Err: ErrTransaction, Detail: "begin", Cause: err}
		}
	}
	if p.ForgetRepeatables {
		r.log.InfoContext(ctx, "waymark: forgetting the repeatable scripts' records", "repeatables", len(p.State.Repeatables))
		if err := sess.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Forget}, Limits: r.limits()}); err != nil {
			if r.opts.SingleTransaction {
				err = errors.Join(err, sess.Rollback(context.WithoutCancel(ctx)))
			}
			return &Error{Err: ErrStepFailed, Detail: "forget the repeatable scripts' records", Cause: err}
		}
	}
	var done []StepResult
	for i, st := range p.Steps {
		r.index = i
		r.progress(Event{Step: st, Index: i, Total: len(p.Steps)})
		r.log.InfoContext(ctx, "waymark: step", "version", st.Version, "name", st.Name, "repeatable", st.Repeatable, "direction", st.Direction.String(), "path", st.Path)
		start := time.Now()
		var err error
		if st.NoTransaction {
			err = r.runNoTx(ctx, sess, st, r.scripts[i])
		} else {
			// Every commit but the last may skip the disk flush: the last
			// one, durable, flushes them all.
			async := !r.opts.DurableEveryStep && i < len(p.Steps)-1
			err = r.runTx(ctx, sess, st, r.scripts[i], async)
		}
		d := time.Since(start)
		r.progress(Event{Step: st, Index: i, Total: len(p.Steps), Done: true, Duration: d, Err: err})
		if err != nil {
			r.log.ErrorContext(ctx, "waymark: step failed", "version", st.Version, "error", err)
			var ce *backend.ConnectionError
			if errors.As(err, &ce) && ce.Outcome == backend.OutcomeUnknown && !r.opts.SingleTransaction {
				r.unknown = &StepResult{Version: st.Version, Name: st.Name, Repeatable: st.Repeatable, Direction: st.Direction, Duration: d}
			}
			if r.opts.SingleTransaction {
				if rerr := sess.Rollback(context.WithoutCancel(ctx)); rerr != nil {
					err = errors.Join(err, &Error{Err: ErrTransaction, Detail: "roll back", Cause: rerr})
				}
			}
			return err
		}
		r.log.InfoContext(ctx, "waymark: step done", "version", st.Version, "duration", d)
		done = append(done, StepResult{Version: st.Version, Name: st.Name, Repeatable: st.Repeatable, Direction: st.Direction, Duration: d})
		if !r.opts.SingleTransaction {
			r.res.Steps = done
			if st.NoTransaction || r.opts.DurableEveryStep || i == len(p.Steps)-1 {
				r.durable = len(done) // a durable commit flushes every earlier one
			}
		}
	}
	if r.opts.SingleTransaction {
		if err := sess.Commit(ctx); err != nil {
			var ce *backend.ConnectionError
			if errors.As(err, &ce) && ce.Outcome == backend.OutcomeUnknown {
				r.res.Unconfirmed = done // the one commit may have happened
			}
			return &Error{Err: ErrTransaction, Detail: "commit", Cause: err}
		}
		r.res.Steps = done
		r.durable = len(done)
	}
	r.log.InfoContext(ctx, "waymark: migrated", "version", p.To)
	return nil
}

func (r *runner) progress(e Event) {
	if r.opts.Progress != nil {
		r.opts.Progress(e)
	}
}

// limits are the limits each step runs with.
func (r *runner) limits() backend.Limits {
	return backend.Limits{LockTimeout: r.opts.LockTimeout, StatementTimeout: r.opts.StatementTimeout}
}
