package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/hazard/measure"
	"github.com/waymarkdb/waymark/hazard/review"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

func init() {
	register(&Command{
		Name:    "check",
		Summary: "is this migration safe on a busy table? the plan's hazards, static and, with -scratch, measured",
		Help: `Checks the steps of a plan for hazards on busy tables: locks that block reads
or writes while a whole table is read or rewritten, steps without a lock
timeout, changes that break the release still running. Without a
database it plans from the empty schema; with -database (or DATABASE_URL)
it plans from that database's state, which it reads without a lock and
never changes, and judges by the rules of that server's major version.
It says on standard error which version it judged for, and why.

With -scratch URL it also measures: it creates a scratch database on that
server (the URL's role needs CREATEDB; never point it at production), brings
it to the plan's starting version, runs every step there, records each
statement's locks, rewrites, scans and invalid indexes, and drops the
database. Each prediction is then marked confirmed or refuted, and what no
rule predicted is reported too.

A statement that fails on the scratch database stops the measurement:
the review then shows what was measured up to it, the failing statement's
locks and the INVALID index it may have left included, with the error
(exit code 1).

In a pull request's CI, where no database holds the schema, -from VERSION
checks only what is new: the plan starts at the schema the files up to
VERSION build (the rules read them first, the scratch database is
brought there) and only the versions above it are checked, so that only
their findings decide the exit code. -prerequisites FILE runs an SQL
script on the scratch database before the first version, and has the
rules read it first: the objects a set expects and does not make (an
extension, a table another tool owns). Keep it outside the migrations
folder or in a sub-folder of it (migrations/prerequisites/setup.sql),
as waymarktest's Prerequisites does.

A finding is accepted in the file with -- waymark:allow <rule> "<reason>"
on the line before the statement. Exit code 3 when a finding is not
accepted, 0 when none is left.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, DatabaseFlags|SetFlags|JSONFlag|PlanFlags)
			var tf targetFlags
			tf.add(fs, "the plan's ")
			scratch := fs.String("scratch", "", "measure the plan on a scratch database created (and dropped) on this server")
			version := fs.Int("server-version", 0, "judge for this PostgreSQL major version (14 to 18; default: the -database server's, else the -scratch server's, else 14)")
			lockTimeout := fs.Duration("lock-timeout", 0, "the lock timeout the steps will run with (as apply's -lock-timeout)")
			from := fs.String("from", "", "check only the versions above `VERSION`: plan from the schema the files up to it build, not from the empty schema (no database needed)")
			prerequisites := fs.String("prerequisites", "", "an SQL `file` run on the scratch database before the first version, and read by the rules first: what the set expects and does not make")
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) > 0 {
					return Usage, usagef("check takes no arguments, got %q", args)
				}
				target, err := tf.target()
				if err != nil {
					return Usage, err
				}
				fromVersion := int64(-1)
				if *from != "" {
					if fromVersion, err = parseVersion("-from", *from); err != nil {
						return Usage, err
					}
					if env.database != "" {
						return Usage, usagef("-from %s plans from the files, -database from that database's history: give one of them", *from)
					}
				}
				set, err := env.Set()
				if err != nil {
					return Failed, err
				}
				if *version != 0 && (*version < 14 || *version > 18) {
					return Usage, usagef("-server-version %d: want 14 to 18", *version)
				}
				var p *plan.Plan
				var serverVersion int
				if fromVersion >= 0 {
					p, err = env.planFrom(set, fromVersion, target)
				} else {
					p, serverVersion, err = env.checkedPlan(ctx, set, target)
				}
				if err != nil {
					return 0, err
				}
				opts := &hazard.Options{Set: set, LockTimeout: *lockTimeout}
				var setupSQL string
				if *prerequisites != "" {
					data, err := os.ReadFile(*prerequisites)
					if err != nil {
						return Failed, fmt.Errorf("-prerequisites: %w", err)
					}
					if opts.Prerequisites, err = source.ParseScript(*prerequisites, data, source.Up); err != nil {
						return Failed, fmt.Errorf("-prerequisites: %w", err)
					}
					setupSQL = string(data)
				}
				judged := ""
				switch {
				case *version != 0:
					opts.ServerVersion, judged = *version*10000, "-server-version"
				case serverVersion != 0:
					opts.ServerVersion, judged = majorOf(serverVersion), "the version of the -database server"
				}
				var measured *measure.Report
				var failure error // the statement that stopped the measurement
				if *scratch != "" {
					conn, done, err := scratchDatabase(ctx, *scratch, set, p.From, *prerequisites, setupSQL)
					if err != nil {
						return Failed, err
					}
					defer done()
					if opts.ServerVersion == 0 {
						opts.ServerVersion, judged = serverVersionNum(conn), "the version of the -scratch server"
					}
					measured, failure = measure.Run(ctx, conn, p, nil)
					if failure != nil && measured == nil {
						return Failed, fmt.Errorf("measure on the scratch database: %w", failure)
					}
				}
				static, err := hazard.CheckPlan(p, opts)
				if err != nil {
					return Failed, err
				}
				if judged == "" {
					judged = "the default: the oldest PostgreSQL waymark supports; -database or -server-version names yours"
				}
				if !env.JSON {
					fmt.Fprintf(env.Stderr, "check: rules for PostgreSQL %d, %s\n", static.ServerVersion/10000, judged)
				}
				r, err := review.BuildPartial(p, static, measured, failure)
				if err != nil {
					return Failed, err
				}
				if env.JSON {
					env.writeJSON(r)
				} else {
					fmt.Fprint(env.Stdout, r)
				}
				if failure != nil {
					// What was measured is printed; the failure decides.
					return Failed, fmt.Errorf("measure on the scratch database: %w", failure)
				}
				if r.Err() != nil {
					return Refused, nil
				}
				return Done, nil
			}
		},
	})
}

// checkedPlan is the plan check reviews: to target from the state of the
// database, when one is given, else from the empty schema; and the
// database's server_version_num (0 without a database).
func (e *Env) checkedPlan(ctx context.Context, set *source.Set, target plan.Target) (*plan.Plan, int, error) {
	if e.databaseURL() == "" {
		p, err := plan.Compute(set, plan.State{}, target, e.planOptions())
		return p, 0, err
	}
	ctx, pool, db, done, err := e.connect(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	var version int
	if err := pool.QueryRow(ctx, "SELECT pg_catalog.current_setting('server_version_num')::int").Scan(&version); err != nil {
		return nil, 0, fmt.Errorf("read the server's version: %w", err)
	}
	p, err := plan.Build(ctx, db, set, target, e.planOptions())
	return p, version, err
}

// majorOf returns the server_version_num of version's major release:
// 150008 gives 150000.
func majorOf(version int) int { return version / 10000 * 10000 }

// planFrom is the plan check reviews with -from: to target from the state
// in which every version of the files up to from is applied.
func (e *Env) planFrom(set *source.Set, from int64, target plan.Target) (*plan.Plan, error) {
	if from > 0 {
		if _, ok := set.Lookup(from); !ok {
			return nil, usagef("-from %d: no such version in the files", from)
		}
	}
	var state plan.State
	for _, m := range set.Migrations() {
		if m.Version <= from {
			state.Records = append(state.Records, backend.Record{Version: m.Version, Name: m.Name, Checksum: m.Up.Checksum})
		}
	}
	return plan.Compute(set, state, target, e.planOptions())
}

// scratchDatabase creates a database on the server of url, runs the
// prerequisites script setupSQL (from file setupPath) on it when there is
// one, migrates it to version from with set, and returns a connection to
// it and the function that drops it.
func scratchDatabase(ctx context.Context, url string, set *source.Set, from int64, setupPath, setupSQL string) (*pgx.Conn, func(), error) {
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the scratch server: %w", err)
	}
	name := fmt.Sprintf("waymark_check_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		admin.Close(ctx)
		return nil, nil, fmt.Errorf("create the scratch database: %w", err)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = admin.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		admin.Close(dctx)
	}
	cfg := admin.Config().Copy()
	cfg.Database = name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		drop()
		return nil, nil, fmt.Errorf("connect to the scratch database: %w", err)
	}
	done := func() {
		conn.Close(context.WithoutCancel(ctx))
		drop()
	}
	if setupSQL != "" {
		if _, err := conn.PgConn().Exec(ctx, setupSQL).ReadAll(); err != nil {
			done()
			return nil, nil, fmt.Errorf("-prerequisites %s on the scratch database: %w", setupPath, err)
		}
	}
	if from > 0 {
		if _, err := execute.Migrate(ctx, backendOn(conn), set, plan.To(from), nil); err != nil {
			done()
			return nil, nil, fmt.Errorf("bring the scratch database to version %d: %w", from, err)
		}
	}
	return conn, done, nil
}

// serverVersionNum returns the server's version as server_version_num
// does (150008), from what it reported at connection start.
func serverVersionNum(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	major := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			break
		}
		major = major*10 + int(c-'0')
	}
	if major == 0 {
		return 0
	}
	return major * 10000
}

// backendOn is a waymark backend on a connection of the command's own.
func backendOn(conn *pgx.Conn) *pgxbackend.Backend { return pgxbackend.New(conn, nil) }
