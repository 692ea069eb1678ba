package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Policy says what a run does after a target failed.
type Policy int8

const (
	// Stop starts no new target after a target failed or was refused;
	// the running ones finish. The default.
	Stop Policy = iota
	// Continue runs every target and reports every failure.
	Continue
)

// String returns "stop" or "continue".
func (p Policy) String() string {
	if p == Continue {
		return "continue"
	}
	return "stop"
}

// Options configure [Run], [Status] and [Plan]. A nil *Options means the
// defaults.
type Options struct {
	// Parallel is how many targets run at once, and so how many
	// connections the fleet opens at most (see "Connections" in the
	// package doc). Default [DefaultParallel].
	Parallel int
	// Canaries name targets that Run runs first; the others start only
	// when every canary succeeded (whatever OnError says). Status and
	// Plan ignore it. Default nil: no canaries.
	Canaries []string
	// OnError says what Run does after a target failed or was refused.
	// Default [Stop].
	OnError Policy
	// Execute holds the options of every target's execute.Migrate; Status
	// and Plan use its Plan options. Its Logger's records get a "target"
	// attribute; its Progress is not called (see Progress below). Default
	// nil: the defaults of execute.Options.
	Execute *execute.Options
	// Progress, if set, is called when a target starts and when it ends,
	// one call at a time. Default nil.
	Progress func(Event)
}

// Event reports a target starting or ending.
type Event struct {
	// Target is the target's name.
	Target string
	// Done counts the targets that have ended (this one included when it
	// ends); Total is the number of targets.
	Done, Total int
	// Result is nil when the target starts, and its result when it ends.
	Result *Result
}

// withDefaults returns opts with the defaults filled in, or the error of
// an invalid option.
func withDefaults(opts *Options) (Options, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Parallel == 0 {
		o.Parallel = DefaultParallel
	}
	if o.Parallel < 0 {
		return o, &Error{Err: ErrBadTarget, Detail: fmt.Sprintf("Options.Parallel is %d; want 1 or more (0: %d)", o.Parallel, DefaultParallel)}
	}
	if o.OnError != Stop && o.OnError != Continue {
		return o, &Error{Err: ErrBadTarget, Detail: fmt.Sprintf("Options.OnError is %d; want Stop or Continue", o.OnError)}
	}
	return o, nil
}

// executeOptions returns a copy of the execute options of o.
func (o *Options) executeOptions() execute.Options {
	var eo execute.Options
	if o.Execute != nil {
		eo = *o.Execute
	}
	eo.Progress = nil
	return eo
}

// planOptions returns the plan options of opts.
func planOptions(opts *Options) *plan.Options {
	if opts == nil || opts.Execute == nil {
		return nil
	}
	return opts.Execute.Plan
}

// Run takes every target to target with execute.Migrate, at most
// Options.Parallel at once, canaries first (see the package doc). It
// returns the report, and an [ErrorList] of the targets that failed or
// were refused and of those not started, or nil when every target got
// there. Invalid targets or options are refused before anything runs
// (ErrBadTarget), with a nil report.
func Run(ctx context.Context, targets []Target, set *source.Set, target plan.Target, opts *Options) (*Report, error) {
	o, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	cfgs, err := check(targets, o.Canaries)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{Target: target, Results: make([]Result, len(targets))}
	var canaries, rest []int
	for i, t := range targets {
		r := &rep.Results[i]
		r.Target, r.Outcome, r.From, r.To = t.Name, Skipped, -1, -1
		if slices.Contains(o.Canaries, t.Name) {
			r.Canary = true
			canaries = append(canaries, i)
		} else {
			rest = append(rest, i)
		}
	}
	eo := o.executeOptions()
	log := eo.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		stop   atomic.Bool // start no more targets
		failed atomic.Bool // a target failed
		mu     sync.Mutex  // serializes Progress
		ended  int         // targets ended, under mu
	)
	progress := func(name string, r *Result) {
		if o.Progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if r != nil {
			ended++
		}
		o.Progress(Event{Target: name, Done: ended, Total: len(targets), Result: r})
	}
	fn := func(ctx context.Context, i int, db backend.Backend, openErr error) bool {
		r := &rep.Results[i]
		progress(r.Target, nil)
		begin := time.Now()
		runOne(ctx, r, db, openErr, set, target, eo, log.With("target", r.Target))
		r.Duration = time.Since(begin)
		ok := r.Outcome == NoOp || r.Outcome == Applied
		if !ok {
			failed.Store(true)
			if o.OnError == Stop {
				stop.Store(true)
			}
		}
		progress(r.Target, r)
		return ok
	}
	each(ctx, o.Parallel, targets, cfgs, canaries, &stop, fn)
	canaryFailed := failed.Load()
	if canaryFailed {
		stop.Store(true)
	}
	each(ctx, o.Parallel, targets, cfgs, rest, &stop, fn)
	switch {
	case rep.Count(Skipped) == 0:
	case ctx.Err() != nil:
		rep.Stopped = ctx.Err()
	case canaryFailed:
		rep.Stopped = ErrCanaryFailed
	default:
		rep.Stopped = ErrStopped
	}
	rep.Duration = time.Since(start)
	return rep, rep.Err()
}

// runOne runs one target and fills in r.
func runOne(ctx context.Context, r *Result, db backend.Backend, openErr error, set *source.Set, target plan.Target, eo execute.Options, log *slog.Logger) {
	if openErr != nil {
		r.Outcome, r.Err = Failed, fmt.Errorf("connect: %w", openErr)
		return
	}
	eo.Logger = log
	res, err := execute.Migrate(ctx, db, set, target, &eo)
	r.Steps, r.Unconfirmed = res.Steps, res.Unconfirmed
	if p := res.Plan; p != nil {
		r.From, r.To = p.From, after(p, len(res.Steps))
	}
	switch {
	case err == nil && len(res.Steps) > 0:
		r.Outcome = Applied
	case err == nil:
		r.Outcome = NoOp
	case refusal(err):
		r.Outcome, r.Err = Refused, err
		if r.From < 0 {
			// The plan was refused: say where the target stands.
			if records, rerr := db.ReadState(ctx); rerr == nil {
				v := plan.State{Records: records}.Version()
				r.From, r.To = v, v
			}
		}
	default:
		r.Outcome, r.Err = Failed, err
	}
}

// after returns the version the database is at after the first n steps of
// p took effect.
func after(p *plan.Plan, n int) int64 {
	switch {
	case n == len(p.Steps):
		return p.To
	case n == 0:
		return p.From
	case p.Direction == source.Down:
		// Each down step removes the highest version; the next step's is
		// the highest left.
		return p.Steps[n].Version
	}
	v := p.From // an out-of-order step is below From; a repeatable script's has no version
	for _, st := range p.Steps[:n] {
		v = max(v, st.Version)
	}
	return v
}

// refusal reports whether err is one of waymark's refusals, made before
// anything changed: a refused plan, a plan that cannot run, invalid
// backend options.
func refusal(err error) bool {
	var list plan.ErrorList
	if errors.Is(err, execute.ErrStepFailed) {
		return false
	}
	return errors.As(err, &list) || errors.Is(err, execute.ErrBadPlan) || errors.Is(err, execute.ErrStalePlan) ||
		errors.Is(err, backend.ErrBadOptions)
}
