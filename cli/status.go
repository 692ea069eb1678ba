package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/waymarkdb/waymark/status"
)

func init() {
	register(&Command{
		Name:    "status",
		Summary: "show every version: applied (when, how long), pending, dirty, drifted, missing, out of order",
		Help: `Reads the history and compares it with the migration files. Takes no lock
and writes nothing, so it is safe against production at any time.
The problems listed are those for which a plan would be refused.
With -detailed-exitcode: 0 up to date, 4 steps pending, 3 a plan would be refused.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, DatabaseFlags|SetFlags|JSONFlag|DetailedFlag|PlanFlags)
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) > 0 {
					return Usage, usagef("status takes no arguments, got %q", args)
				}
				set, err := env.Set()
				if err != nil {
					return Failed, err
				}
				ctx, db, done, err := env.Connect(ctx)
				if err != nil {
					return 0, err
				}
				defer done()
				r, err := status.Read(ctx, db, set, env.planOptions())
				if err != nil {
					return Failed, err
				}
				if env.JSON {
					env.writeJSON(r)
				} else {
					fmt.Fprint(env.Stdout, r)
					for _, h := range hints(env.cfg.Name, r.Err) {
						fmt.Fprintf(env.Stdout, "hint: %s\n", h)
					}
				}
				switch {
				case r.Err != nil && env.detailed:
					return Refused, nil
				case r.Count(status.Pending)+r.Count(status.OutOfOrder) > 0:
					return Changed, nil
				}
				return NothingToDo, nil
			}
		},
	})
}
