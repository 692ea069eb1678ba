package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

func init() {
	register(&Command{
		Name:    "apply",
		Summary: "apply a saved plan, or migrate up to a target",
		Help: `With -plan FILE, runs exactly that plan (saved by 'plan -o'), after checking
that every step still matches its migration file, that its steps are exactly
the path the files give from its start to its end (computed with -allow-*
as given here), that nothing follows the plan in the file and, with
-key-file or $WAYMARK_PLAN_KEY, the plan's signature; it is refused (exit 3)
if a file, the plan or the database changed since planning.
Without -plan, migrates to -to (default: the latest version) or -down-to,
planning under the lock, like a service at boot. A database ahead of the
files (a newer release migrated it) is accepted with a warning.
With -detailed-exitcode: 0 nothing to do, 4 steps applied.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, DatabaseFlags|SetFlags|JSONFlag|DetailedFlag|KeyFlag|PlanFlags|LimitFlags)
			planFile := fs.String("plan", "", "the saved plan to apply")
			var tf targetFlags
			tf.add(fs, "without -plan: ")
			single := fs.Bool("single-transaction", false, "run the whole plan in one transaction (no no-transaction steps)")
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) > 0 {
					return Usage, usagef("apply takes no arguments, got %q (a saved plan is given with -plan)", args)
				}
				if *planFile != "" && tf.set() {
					return Usage, usagef("-plan cannot be combined with -to or -down-to: the plan has its target")
				}
				t, key, set, err := env.planning(tf)
				if err != nil {
					return 0, err
				}
				var saved *plan.Plan
				if *planFile != "" {
					if saved, err = loadPlan(*planFile, key); err != nil {
						return 0, err
					}
				}
				opts, err := env.executeOptions(set)
				if err != nil {
					return 0, err
				}
				opts.SingleTransaction = *single
				ctx, db, done, err := env.Connect(ctx)
				if err != nil {
					return 0, err
				}
				defer done()

				if env.terminal() {
					opts.Progress = newProgress(env.Stdout).event
				}
				var res *execute.Result
				if saved != nil {
					res, err = execute.Run(ctx, db, saved, opts)
				} else {
					res, err = execute.Migrate(ctx, db, set, t, opts)
				}
				out := NothingToDo
				if len(res.Steps) > 0 {
					out = Changed
				}
				if err != nil {
					out = Classify(err)
				}
				report(env, set, res, out, err)
				return out, err
			}
		},
	})
}

// loadPlan reads a saved plan, verifying its signature with key if set.
func loadPlan(path string, key []byte) (*plan.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("-plan: %v", err)
	}
	defer f.Close()
	p, err := plan.Load(f, &plan.LoadOptions{Key: key})
	if err != nil {
		if errors.Is(err, plan.ErrSignature) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, fmt.Errorf("%s: %w: %w", path, errBadPlanFile, err)
	}
	return p, nil
}

type jsonApply struct {
	jsonResult
	From      int64            `json:"from"`
	To        int64            `json:"to"`
	Direction source.Direction `json:"direction"`
	Steps     []jsonStep       `json:"steps"`
	// Unconfirmed are the steps the run cannot vouch for (see
	// execute.Result.Unconfirmed).
	Unconfirmed []jsonStep `json:"unconfirmed,omitempty"`
	Error       string     `json:"error,omitempty"`
}

type jsonStep struct {
	Version   int64            `json:"version"`
	Name      string           `json:"name,omitempty"`
	Direction source.Direction `json:"direction"`
	Duration  string           `json:"duration"`
	// Repeatable marks a repeatable script's step (Version 0, Name its
	// name).
	Repeatable bool `json:"repeatable,omitempty"`
}

// report prints what apply did.
func report(env *Env, set *source.Set, res *execute.Result, out Outcome, err error) {
	p := res.Plan
	if env.JSON {
		j := jsonApply{jsonResult: jsonResult{"apply", out, out.Code(env.detailed)}, Steps: []jsonStep{}}
		if p != nil {
			j.From, j.To, j.Direction = p.From, p.To, p.Direction
		}
		for _, s := range res.Steps {
			j.Steps = append(j.Steps, jsonStep{s.Version, s.Name, s.Direction, s.Duration.String(), s.Repeatable})
		}
		for _, s := range res.Unconfirmed {
			j.Unconfirmed = append(j.Unconfirmed, jsonStep{s.Version, s.Name, s.Direction, s.Duration.String(), s.Repeatable})
		}
		if err != nil {
			j.Error = env.message(err)
		}
		env.writeJSON(j)
		return
	}
	w := env.Stdout
	for _, s := range res.Steps {
		if env.terminal() {
			break // the progress lines showed them
		}
		if s.Repeatable {
			fmt.Fprintf(w, "applied: %s repeatable %s (%v)\n", s.Direction, s.Name, s.Duration.Round(time.Microsecond))
			continue
		}
		fmt.Fprintf(w, "applied: %s %d %s (%v)\n", s.Direction, s.Version, dash(s.Name), s.Duration.Round(time.Microsecond))
	}
	for _, s := range res.Unconfirmed {
		if s.Repeatable {
			fmt.Fprintf(w, "unconfirmed: %s repeatable %s: may or may not be applied\n", s.Direction, s.Name)
			continue
		}
		fmt.Fprintf(w, "unconfirmed: %s %d %s: may or may not be applied\n", s.Direction, s.Version, dash(s.Name))
	}
	if n := len(res.Unconfirmed); n > 0 {
		fmt.Fprintf(w, "the connection was lost before %d step(s) were confirmed on disk; a crash of the server undoes such a step whole: "+
			"waymark status shows what is applied, and running again finishes the job\n", n)
	}
	switch {
	case p == nil:
	case err != nil && len(res.Steps) > 0:
		fmt.Fprintf(w, "stopped after %d of %d steps\n", len(res.Steps), len(p.Steps))
	case err != nil:
		fmt.Fprintf(w, "nothing was applied\n")
	case len(res.Steps) == 0 && p.From > set.Latest():
		fmt.Fprintf(w, "nothing to do: the database is at version %d, ahead of these migrations (up to %d)\n", p.From, set.Latest())
	case len(res.Steps) == 0:
		fmt.Fprintf(w, "nothing to do: the database is at version %d\n", p.From)
	default:
		fmt.Fprintf(w, "done: %s from %d to %d (%d steps)\n", p.Direction, p.From, p.To, len(res.Steps))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
