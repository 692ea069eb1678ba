package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/waymarkdb/waymark/plan"
)

func init() {
	register(&Command{
		Name:    "plan",
		Summary: "show the plan to a target; save it as JSON for apply",
		Help: `Reads the history (no lock, no write) and prints the plan: the short dry run,
or with -review every step's SQL with line numbers, for a pull-request
comment. -o saves the exact plan, SQL included, for 'apply -plan'; with
-key-file or $WAYMARK_PLAN_KEY it is signed, so that an edited plan is refused.
With -json the plan's JSON is printed instead.
With -detailed-exitcode: 0 nothing to do, 4 steps planned.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, DatabaseFlags|SetFlags|JSONFlag|DetailedFlag|KeyFlag|PlanFlags)
			var tf targetFlags
			tf.add(fs, "")
			out := fs.String("o", "", "save the plan as JSON to this file")
			review := fs.Bool("review", false, "print every step's SQL with line numbers")
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) > 0 {
					return Usage, usagef("plan takes no arguments, got %q", args)
				}
				t, key, set, err := env.planning(tf)
				if err != nil {
					return 0, err
				}
				ctx, db, done, err := env.Connect(ctx)
				if err != nil {
					return 0, err
				}
				defer done()
				p, err := plan.Build(ctx, db, set, t, env.planOptions())
				if err != nil {
					return 0, err
				}
				var saved bytes.Buffer
				if err := plan.Save(&saved, p, &plan.SaveOptions{Key: key}); err != nil {
					return Usage, err
				}
				if *out != "" {
					if err := writeFile(*out, saved.Bytes()); err != nil {
						return Failed, err
					}
				}
				switch {
				case env.JSON:
					env.Stdout.Write(saved.Bytes())
					env.wrote = true
				case *review:
					fmt.Fprint(env.Stdout, p.Review())
				default:
					fmt.Fprint(env.Stdout, p)
				}
				if *out != "" && !env.JSON {
					fmt.Fprintf(env.Stderr, "saved the plan to %s\n", *out)
				}
				if p.Empty() {
					return NothingToDo, nil
				}
				return Changed, nil
			}
		},
	})
}

// writeFile writes data to path through a temporary file in the same
// directory, so that a reader never sees half a plan.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".waymark-plan-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
