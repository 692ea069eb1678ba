package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/fleet"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

func init() {
	register(&Command{
		Name:    "fleet",
		Args:    "status|plan|apply|drift",
		Summary: "status, plan, apply or drift-check the migrations on many databases or schemas at once",
		Help: `The targets are the databases of -targets FILE (one per line: an optional
name, then a connection string; # starts a comment line), or the one of
-database; with -schemas PATTERN, every schema of those databases whose name
matches the LIKE pattern ('tenant\_%') instead, each with its own history in
its schema and its schema first on the search_path.
At most -parallel targets run at once, and the fleet opens at most that many
connections. apply runs the -canary targets first, and the others only if
they all succeed; after a failure it starts no more targets unless -continue.
status reads every history (no lock, no write); plan groups identical plans;
drift checks each target as the drift command does (-scratch, -ignore,
-privileges, -owners), building the expected schema of each distinct version
once.
Exit codes: 1 when a target failed, was not started or could not be read,
2 when -schemas is not a valid LIKE pattern or matches no schema,
3 when a plan was refused (dirty, drifted, ...) or a target's schema drifted,
and with -detailed-exitcode
4 when steps are pending (status, plan) or were applied (apply).`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, DatabaseFlags|SetFlags|JSONFlag|DetailedFlag|PlanFlags|LimitFlags)
			var f fleetFlags
			fs.StringVar(&f.targets, "targets", "", "file of targets, one per line: [name] connection-string")
			fs.StringVar(&f.schemas, "schemas", "", "LIKE pattern of schemas: each matching schema of each database is a target")
			fs.IntVar(&f.parallel, "parallel", fleet.DefaultParallel, "targets run at once, and connections open at most")
			fs.StringVar(&f.canary, "canary", "", "apply: comma-separated target names to apply first; the others start only if they all succeed")
			fs.BoolVar(&f.cont, "continue", false, "apply: go on after a target failed (default: start no more targets)")
			var tf targetFlags
			tf.add(fs, "plan, apply: ")
			var df driftFlags
			df.add(fs)
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) != 1 || !slices.Contains([]string{"status", "plan", "apply", "drift"}, args[0]) {
					return Usage, usagef("fleet takes one argument, status, plan, apply or drift; got %q", args)
				}
				sub := args[0]
				switch {
				case sub != "apply" && (f.canary != "" || f.cont):
					return Usage, usagef("-canary and -continue are for fleet apply")
				case (sub == "status" || sub == "drift") && tf.set():
					return Usage, usagef("-to and -down-to are for fleet plan and apply")
				case f.schemas != "" && env.schema != "":
					return Usage, usagef("-schema cannot be combined with -schemas: each schema keeps its own history")
				case f.parallel < 1:
					return Usage, usagef("-parallel %d: want 1 or more", f.parallel)
				}
				target, err := tf.target()
				if err != nil {
					return Usage, err
				}
				set, err := env.Set()
				if err != nil {
					return Failed, err
				}
				if env.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, env.timeout)
					defer cancel()
				}
				exec, err := env.executeOptions(set)
				if err != nil {
					return 0, err
				}
				targets, err := f.load(ctx, env)
				if err != nil {
					return 0, err
				}
				opts := &fleet.Options{Parallel: f.parallel, Execute: exec}
				switch sub {
				case "status":
					return fleetStatus(ctx, env, targets, set, opts)
				case "plan":
					return fleetPlan(ctx, env, targets, set, target, opts)
				case "drift":
					return fleetDrift(ctx, env, targets, set, &df, f.parallel)
				}
				if f.canary != "" {
					opts.Canaries = strings.Split(f.canary, ",")
				}
				if f.cont {
					opts.OnError = fleet.Continue
				}
				if env.terminal() {
					opts.Progress = fleetProgress(env)
				}
				rep, err := fleet.Run(ctx, targets, set, target, opts)
				if rep == nil {
					return fleetRefusal(err)
				}
				env.print(rep)
				switch {
				case rep.Count(fleet.Failed)+rep.Count(fleet.Skipped) > 0:
					return Failed, fmt.Errorf("%d of %d targets failed, %d not started", rep.Count(fleet.Failed), len(rep.Results), rep.Count(fleet.Skipped))
				case rep.Count(fleet.Refused) > 0:
					return Refused, fmt.Errorf("%d of %d targets refused", rep.Count(fleet.Refused), len(rep.Results))
				case rep.Count(fleet.Applied) > 0:
					return Changed, nil
				}
				return NothingToDo, nil
			}
		},
	})
}

// fleetFlags are the flags of the fleet command.
type fleetFlags struct {
	targets, schemas, canary string
	parallel                 int
	cont                     bool
}

// load returns the targets: the databases of -targets or -database, or
// their schemas matching -schemas, with the backend options of -schema,
// -table and -app-key.
func (f *fleetFlags) load(ctx context.Context, env *Env) ([]fleet.Target, error) {
	var dbs []fleet.Target
	switch {
	case f.targets != "":
		if env.database != "" {
			return nil, usagef("-targets and -database cannot be combined")
		}
		file, err := os.Open(f.targets)
		if err != nil {
			return nil, usagef("-targets: %v", err)
		}
		defer file.Close()
		if dbs, err = fleet.ParseTargets(file, f.targets); err != nil {
			return nil, &UsageError{Msg: err.Error()}
		}
	default:
		url := env.database
		if url == "" {
			url = env.cfg.Getenv(EnvDatabaseURL)
		}
		if url == "" {
			return nil, usagef("no targets: pass -targets FILE, -database URL or set %s", EnvDatabaseURL)
		}
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			// pgx's message masks the password.
			return nil, usagef("-database: %v", err)
		}
		dbs = []fleet.Target{{Name: fleet.NameOf(cfg), Conn: url}}
	}
	backend := pgxbackend.Options{Schema: env.schema, Table: env.table, AppKey: env.appKey}
	if f.schemas == "" {
		for i := range dbs {
			dbs[i].Backend = &backend
		}
		return dbs, nil
	}
	var targets []fleet.Target
	for _, db := range dbs {
		schemas, err := fleet.Schemas(ctx, db.Conn, f.schemas, &fleet.SchemaOptions{Backend: &backend})
		if errors.Is(err, fleet.ErrBadPattern) {
			return nil, usagef("-schemas: %v", err)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", db.Name, err)
		}
		// One database: a target is its schema; several: the database's
		// name (in -targets) and the schema.
		for _, s := range schemas {
			s.Name = s.Backend.Schema
			if len(dbs) > 1 {
				s.Name = db.Name + "/" + s.Name
			}
			targets = append(targets, s)
		}
	}
	if len(targets) == 0 {
		return nil, usagef("-schemas '%s' matches no schema in %s: check the pattern (%% matches any run of characters, _ any one, \\ escapes them)",
			f.schemas, plural(len(dbs), "database"))
	}
	return targets, nil
}

// fleetRefusal is the outcome of a fleet call that refused its targets
// or options before starting (a -canary that is not a target): a usage
// error.
func fleetRefusal(err error) (Outcome, error) {
	if errors.Is(err, fleet.ErrBadTarget) {
		return Usage, err
	}
	return 0, err
}

// print prints a fleet report: its JSON with -json, else its table.
func (e *Env) print(rep fmt.Stringer) {
	if e.JSON {
		e.writeJSON(rep)
		return
	}
	fmt.Fprint(sayWriter{e, e.Stdout}, rep)
}

// fleetStatus prints every target's status.
func fleetStatus(ctx context.Context, env *Env, targets []fleet.Target, set *source.Set, opts *fleet.Options) (Outcome, error) {
	rep, err := fleet.Status(ctx, targets, set, opts)
	if rep == nil {
		return fleetRefusal(err)
	}
	env.print(rep)
	refused := 0
	for _, c := range []string{"dirty", "drifted", "missing", "out-of-order"} {
		refused += rep.Count(c)
	}
	switch {
	case rep.Count("unreadable") > 0:
		return Failed, fmt.Errorf("%d of %d targets could not be read", rep.Count("unreadable"), len(rep.Targets))
	case refused > 0 && env.detailed:
		return Refused, nil
	case rep.Count("behind") > 0:
		return Changed, nil
	}
	return NothingToDo, nil
}

// fleetPlan prints the targets' plans, grouped.
func fleetPlan(ctx context.Context, env *Env, targets []fleet.Target, set *source.Set, target plan.Target, opts *fleet.Options) (Outcome, error) {
	rep, err := fleet.Plan(ctx, targets, set, target, opts)
	if rep == nil {
		return fleetRefusal(err)
	}
	env.print(rep)
	pending, _, refused, unreadable := rep.Count()
	switch {
	case unreadable > 0:
		return Failed, fmt.Errorf("%d of %d targets could not be read", unreadable, len(rep.Plans))
	case refused > 0:
		return Refused, fmt.Errorf("%d of %d targets' plans refused", refused, len(rep.Plans))
	case pending > 0:
		return Changed, nil
	}
	return NothingToDo, nil
}

// fleetProgress prints a line on the terminal as each target ends.
func fleetProgress(env *Env) func(fleet.Event) {
	return func(e fleet.Event) {
		r := e.Result
		if r == nil {
			return
		}
		line := fmt.Sprintf("[%d/%d] %s %s", e.Done, e.Total, e.Target, r.Outcome)
		if r.From >= 0 {
			line += fmt.Sprintf(" %d -> %d", r.From, r.To)
		}
		steps := fmt.Sprintf("%d steps", len(r.Steps))
		if n := len(r.Unconfirmed); n > 0 {
			steps += fmt.Sprintf(" and %d unconfirmed", n)
		}
		fmt.Fprintf(env.Stdout, "%s (%s, %v)\n", line, steps, r.Duration.Round(time.Millisecond))
	}
}
