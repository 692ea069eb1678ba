package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/adopt"
	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/execute"
)

func init() {
	register(&Command{
		Name:    "import-history",
		Args:    "golang-migrate|goose|tern|pop|flyway",
		Summary: "record what another tool applied as applied in waymark's history",
		Help: `Reads the tool's history table (golang-migrate schema_migrations, goose
goose_db_version, tern schema_version, pop schema_migration, flyway
flyway_schema_history; -from-table and
-from-schema name another), converts -from again to map the tool's versions
to waymark's, and records them as applied, without running anything: in one
transaction, under the migration lock, only into an empty waymark history,
with the checksums of the files in -dir (the converted files). It refuses,
changing nothing and naming the versions, a dirty golang-migrate version,
failed Flyway rows, Flyway versions whose files changed since, versions the
files lack, and applied versions whose files could not be converted until
they are written by hand. The records keep the time the tool applied each
version where it kept one (goose's tstamp), and status shows them as
imported. Stop the other tool's migrations first. The tool's table is left
as it is: drop it when you are sure. Flyway's repeatable scripts that are
unchanged since it applied them are recorded too; changed ones are left for
the next plan. -dry-run lists what would be recorded.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, DatabaseFlags|SetFlags|JSONFlag)
			from := fs.String("from", "", "the tool's migration directory, as it was converted (required)")
			table := fs.String("from-table", "", "the tool's history table (default: the tool's own)")
			schema := fs.String("from-schema", "", "the schema of the tool's history table (default: found through search_path)")
			dry := fs.Bool("dry-run", false, "list what would be recorded; write nothing")
			return func(ctx context.Context, args []string) (Outcome, error) {
				tool, err := toolArg(args, *from)
				if err != nil {
					return Usage, err
				}
				conv, err := convert.ConvertDir(*from, tool, nil)
				if err != nil {
					return Failed, err
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
				conn, err := pgx.Connect(ctx, env.databaseURL())
				if err != nil {
					return Failed, fmt.Errorf("connect: %w", err)
				}
				defer conn.Close(context.WithoutCancel(ctx))
				res, err := adopt.Import(ctx, conn, db, set, conv, &adopt.Options{Schema: *schema, Table: *table, DryRun: *dry, Logger: env.Logger()})
				for _, refusal := range []error{adopt.ErrNoTable, adopt.ErrDirty, adopt.ErrFailed, adopt.ErrMismatch, adopt.ErrUnconverted, execute.ErrHistoryNotEmpty, execute.ErrBadBaseline} {
					if errors.Is(err, refusal) {
						return Refused, err
					}
				}
				if err != nil {
					return 0, err
				}
				h := res.History
				if len(res.Records) == 0 {
					if env.JSON {
						env.printRecords("import-history", nil, res.DryRun, "", tool)
					} else {
						fmt.Fprintf(env.Stdout, "%s's table %s says nothing is applied: nothing to import\n", tool, h.Table)
					}
					return NothingToDo, nil
				}
				env.printRecords("import-history", res.Records, res.DryRun, fmt.Sprintf("%s's versions %s to %s, from %s", tool, res.Versions[0].Source, res.Versions[len(res.Versions)-1].Source, h.Table), tool)
				if env.JSON {
					return Done, nil
				}
				if len(res.NotApplied) > 0 {
					vs := make([]string, len(res.NotApplied))
					for i, v := range res.NotApplied {
						vs[i] = fmt.Sprint(v)
					}
					fmt.Fprintf(env.Stdout, "warning: %s never applied %s %s below them: plans refuse them as out of order until applied with -allow-out-of-order\n",
						tool, plural(len(vs), "version"), strings.Join(vs, ", "))
				}
				for _, r := range res.Repeatables {
					fmt.Fprintf(env.Stdout, "repeatable script %s: recorded as applied (unchanged since %s applied it)\n", r.Name, tool)
				}
				for _, d := range res.RepeatablesPending {
					fmt.Fprintf(env.Stdout, "repeatable script %q: changed since %s applied it, or no longer in the files: the next plan applies it if it is in the files\n", d, tool)
				}
				if !res.DryRun {
					fmt.Fprintf(env.Stdout, "%s's table %s is left as it is: drop it when you are sure you will not go back\n", tool, h.Table)
				}
				return Done, nil
			}
		},
	})
}
