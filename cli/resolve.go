package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/waymarkdb/waymark/execute"
)

func init() {
	register(&Command{
		Name:    "resolve",
		Args:    "VERSION applied|not-applied",
		Summary: "record what a dirty version's database holds after a repair by hand",
		Help: `A no-transaction migration that fails part-way leaves its version dirty, and
every plan is refused until it is resolved. Repair the database first (for a
failed CREATE INDEX CONCURRENTLY: drop the invalid index it left), then:
  applied       its work is in the database (completed by hand)
  not-applied   its work is not (partial effects removed): it will be planned again
Only the history changes, under the migration lock; the schema is untouched.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, DatabaseFlags|JSONFlag)
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) != 2 {
					return Usage, usagef("want VERSION applied|not-applied, got %q", args)
				}
				v, err := parseVersion("VERSION", args[0])
				if err != nil || v == 0 {
					return Usage, usagef("VERSION %q: want a version number", args[0])
				}
				var how execute.Resolution
				switch args[1] {
				case "applied":
					how = execute.MarkApplied
				case "not-applied":
					how = execute.MarkNotApplied
				default:
					return Usage, usagef("%q: want applied or not-applied", args[1])
				}
				ctx, db, done, err := env.Connect(ctx)
				if err != nil {
					return 0, err
				}
				defer done()
				if err := execute.Resolve(ctx, db, v, how, &execute.ResolveOptions{Logger: env.Logger()}); err != nil {
					return 0, err
				}
				if env.JSON {
					env.writeJSON(struct {
						jsonResult
						Version int64  `json:"version"`
						Now     string `json:"now"`
					}{jsonResult{"resolve", Done, ExitOK}, v, args[1]})
				} else {
					fmt.Fprintf(env.Stdout, "resolved: version %d is recorded as %s\n", v, how)
				}
				return Done, nil
			}
		},
	})
}
