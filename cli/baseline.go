package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/execute"
)

func init() {
	register(&Command{
		Name:    "baseline",
		Args:    "VERSION",
		Summary: "record every version up to VERSION as applied, without running it",
		Help: `For a database whose schema is already there: made by hand, restored from a
dump, or migrated by another tool (import-history reads that tool's history
instead). Records every version of the files up to VERSION, with the
checksum of its up file as it is now, in one transaction, under the
migration lock, and only into an empty history: a database that waymark
has migrated is refused. Nothing runs; the next apply starts above VERSION.
status shows these versions as imported, with no duration.
-dry-run lists what would be recorded.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, DatabaseFlags|SetFlags|JSONFlag)
			dry := fs.Bool("dry-run", false, "list what would be recorded; write nothing")
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) != 1 {
					return Usage, usagef("want one VERSION, got %q", args)
				}
				v, err := parseVersion("VERSION", args[0])
				if err != nil || v == 0 {
					return Usage, usagef("VERSION %q: want a version of the files", args[0])
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
				res, err := execute.Baseline(ctx, db, set, v, &execute.BaselineOptions{DryRun: *dry, Logger: env.Logger()})
				if errors.Is(err, execute.ErrHistoryNotEmpty) || errors.Is(err, execute.ErrBadBaseline) {
					return Refused, err
				}
				if err != nil {
					return 0, err
				}
				env.printRecords("baseline", res.Records, res.DryRun, fmt.Sprintf("up to version %d", v), "")
				return Done, nil
			}
		},
	})
}

// jsonRecord is a history record in -json output.
type jsonRecord struct {
	Version  int64  `json:"version"`
	Name     string `json:"name"`
	Checksum string `json:"checksum"`
	// AppliedAt is when the other tool applied it, if it kept the time.
	AppliedAt *time.Time `json:"applied_at,omitempty"`
}

// printRecords reports the records that baseline or import-history wrote,
// or with dryRun would write; what says which, and tool whose history
// import-history read ("" for baseline).
func (e *Env) printRecords(command string, records []backend.Record, dryRun bool, what string, tool convert.Tool) {
	if e.JSON {
		doc := struct {
			jsonResult
			DryRun   bool         `json:"dry_run"`
			Recorded []jsonRecord `json:"recorded"`
		}{jsonResult: jsonResult{command, Done, ExitOK}, DryRun: dryRun, Recorded: []jsonRecord{}}
		for _, r := range records {
			j := jsonRecord{Version: r.Version, Name: r.Name, Checksum: r.Checksum.String()}
			if !r.AppliedAt.IsZero() {
				at := r.AppliedAt.UTC()
				j.AppliedAt = &at
			}
			doc.Recorded = append(doc.Recorded, j)
		}
		e.writeJSON(doc)
		return
	}
	verb := "recorded"
	if dryRun {
		verb = "dry run: would record"
	}
	fmt.Fprintf(e.Stdout, "%s %s as applied (%s), without running them:\n", verb, plural(len(records), "version"), what)
	for _, r := range records {
		fmt.Fprintf(e.Stdout, "  %d  %s  sha256:%s", r.Version, r.Name, r.Checksum.Short())
		if !r.AppliedAt.IsZero() && tool != "" {
			fmt.Fprintf(e.Stdout, "  applied by %s %s", tool, r.AppliedAt.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(e.Stdout)
	}
}

// plural returns "1 version", "2 versions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
