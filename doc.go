// Package waymark plans and applies raw-SQL PostgreSQL migrations.
//
// Migrations are plain files, v001_create_users.up.sql and
// v001_create_users.down.sql, kept in a folder or compiled into the binary
// with go:embed; views, functions and triggers can live beside them as
// repeatable scripts (r_active_users.sql), applied again whenever they
// change. You say where the schema should be (a target version);
// waymark works out how to get there, shows that path as a value you can
// print, store and test, and then runs exactly that path.
//
// # Start here
//
// A service migrates at boot, before it serves (Example_boot):
//
//	set, err := source.FromFS(migrations, "migrations") // every file parsed and checked
//	_, err = execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil)
//
// CI plans on the pull request and applies exactly the reviewed plan after
// approval (Example_ci), refused if a file or the database changed since,
// or if the plan's steps are not the path the files give (a step deleted
// from the saved plan):
//
//	p, err := plan.Build(ctx, db, set, plan.Latest(), nil) // reads; never writes
//	err = plan.Save(file, p, &plan.SaveOptions{Key: key})  // JSON, SQL included, signed
//	fmt.Print(p.Review())                                  // every step's SQL, for the reviewer
//	// later
//	p, err = plan.Load(file, &plan.LoadOptions{Key: key})
//	_, err = execute.Run(ctx, db, p, &execute.Options{Files: set})
//
// A unit test checks a plan without a database (Example_test):
//
//	p, err := plan.Compute(set, plantest.Applied(set, 1, 2), plan.Latest(), nil)
//
// The waymark command (cmd/waymark) does all of this from a shell: status,
// plan, apply, resolve, new, check for hazards on busy tables, drift for
// what was changed by hand, schema for the expected schema as a file to
// commit, and fleet for many databases or schemas at once (package [github.com/waymarkdb/waymark/fleet]); import,
// import-history and baseline move a database from golang-migrate, goose,
// tern, pop or Flyway. A service mounts the same commands in its own binary, with
// its embedded migrations, through package
// [github.com/waymarkdb/waymark/cli].
//
// # Packages
//
// The packages form layers, and each imports only the layers below it:
//
//	cli          the command: status, plan, apply, resolve, new, check, drift, schema, fleet, import, import-history, baseline
//	   │
//	   ▼
//	drift        compares a live schema with the one its migrations make on a scratch database, for one database or a fleet
//	fleet        one set on many databases and schemas: bounded parallelism, canaries, a report per target
//	adopt        records another tool's history in waymark's, through execute.Baseline
//	   │
//	   ▼
//	execute      runs a plan under a lock, a transaction per step, and records it
//	status       reports each version's state: applied, pending, dirty, drifted, ...
//	   │
//	   ▼
//	plan         computes a plan from the files and the database's state, without side effects
//	   │
//	   ▼
//	backend      the database interface and its history records
//	   │
//	   ▼
//	source       reads and validates migration files from any fs.FS
//
// That is: drift imports fleet (for its targets), execute and schema (and
// pgx, to connect to the live and scratch servers); fleet imports execute and status (and the pgx backend, to
// connect to the targets it is given by connection string); adopt imports
// execute, backend, source and adopt/convert (and pgx, to read the other
// tool's history table); execute and status import plan, backend and
// source; plan imports backend and source; backend imports source; source
// imports only the standard library (and waymark's internal SQL lexer and
// error helpers).
//
// Beside them: [github.com/waymarkdb/waymark/backend/pgxbackend] is the
// PostgreSQL backend on pgx v5; [github.com/waymarkdb/waymark/backend/memory]
// is an in-memory backend for logic tests and
// [github.com/waymarkdb/waymark/backend/backendtest] the conformance suite
// every backend passes; [github.com/waymarkdb/waymark/plan/plantest] builds
// database states for tests that plan without a database;
// [github.com/waymarkdb/waymark/adopt/convert] turns golang-migrate, goose,
// tern and pop files into waymark's, importing only source.
//
// For release day: [github.com/waymarkdb/waymark/admin] is an HTTP admin
// endpoint a service mounts (status, plan, apply of the plan the caller
// saw, behind the caller's authorizer) with a readiness helper; package
// source's waymark:batch directive backfills a big table in committed,
// resumable batches; and the history keeps each version's down script, so
// that a binary rolled back to an older release can undo what the newer
// one applied (package plan).
//
// For a service's own tests: [github.com/waymarkdb/waymark/waymarktest]
// gives each test a new database at a version of its migration set (a
// clone of a template built once) and checks that every down script
// undoes its up script; [github.com/waymarkdb/waymark/schema] reads a
// database's schema into a comparable, printable snapshot, which that
// check compares.
//
// Whether a migration is safe on a busy table:
// [github.com/waymarkdb/waymark/hazard] checks scripts and plans for
// hazards without a database; [github.com/waymarkdb/waymark/hazard/measure]
// runs a plan on a scratch database and records each statement's locks,
// rewrites and scans; [github.com/waymarkdb/waymark/hazard/review] puts the
// two side by side; [github.com/waymarkdb/waymark/hazard/hazardtest] fails a
// service's test on any unaccepted hazard.
//
// This package itself holds only documentation and examples.
package waymark
