// Package fleet applies one migration set to many databases and schemas:
// shards on many PostgreSQL servers, regional copies, a schema per tenant.
// There is no coordinator: each target is an ordinary [execute.Migrate]
// on its own backend, with its own lock and its own history, so a fleet
// run racing another fleet run, or a replica booting against one of the
// targets, still applies every step once per target.
//
//	targets, err := fleet.Schemas(ctx, url, `tenant\_%`, nil) // or fleet.Databases, or your own
//	rep, err := fleet.Run(ctx, targets, set, plan.Latest(), &fleet.Options{Parallel: 8, Canaries: []string{"app/tenant_demo"}})
//	fmt.Print(rep)                                             // a table, the errors, a summary line
//
// # Targets
//
// A [Target] is a name and either a [backend.Backend] the caller keeps
// open (any backend: a pgxbackend.Backend on a pool of yours) or a
// PostgreSQL connection string with [pgxbackend.Options], which the fleet
// connects to when the target's turn comes. [Databases] makes targets of
// connection strings, [ParseTargets] reads them from a file, and [Schemas]
// makes a target of every schema matching a LIKE pattern in one database:
// that target, named database/schema ("app/tenant_01"), keeps its own
// history table in its schema and runs the set with its schema first on
// the search_path (pgxbackend.Options.SearchPath), step after step. The
// targets of several databases append into one call; [SchemasOn] lists
// several at once and adds the host (host:port/database/schema) where two
// servers have a database of the same name. A pattern PostgreSQL would
// reject (one ending with its escape character, \) is an [ErrBadPattern].
//
// A target with no history table yet (a new tenant) is found so without a
// failed statement in the server's log.
//
// # Runs
//
// [Run] takes every target to the same target version. At most
// [Options].Parallel targets run at once (default 4). Canary targets
// ([Options].Canaries) run first, and the others start only when every
// canary succeeded. By default the first failure stops the start of new
// targets (the running ones finish); [Continue] runs every target and
// reports every failure. Cancelling the context stops the start of new
// targets and cancels the running ones the way execute does: the running
// statement is cancelled on the server, its step rolled back (or, outside
// a transaction, left dirty), the lock released.
//
// A target whose run lost its connection (a crash of its server, a
// network that failed) reports, besides the steps it vouches for
// ([Result].Steps, and To, the version they reach), the steps it cannot
// vouch for ([Result].Unconfirmed; see execute.Result): committed without
// waiting for the disk, or never confirmed. The report's text and JSON
// name them; the target's history tells, and running again finishes the
// job.
//
// [Status] reads every target's history (no lock, no write) and says
// which are behind, dirty or drifted; [Plan] computes every target's plan
// without writing, and groups identical ones ("412 targets at 17: up to
// 19, apply 18, 19").
//
// # Connections
//
// Each of the Parallel workers holds at most one connection of its own,
// opened for a connection-string target when its turn comes and kept for
// the next target on the same connection string (the schemas of one
// database share it); it is closed before the worker connects elsewhere,
// after a target failed, and at the end. So a fleet of such targets never
// has more than Parallel connections open at once, however many targets
// it has. (A lease, used behind a connection pooler, adds a connection per
// running target to renew it, to the pooler.) A target with a DB of the
// caller's uses that backend's connections: a pgxbackend.Backend on a
// pool uses one of the pool's connections while its target runs. The
// connections the fleet opens have application_name "waymark fleet"
// unless the connection string sets one.
//
// # Reports
//
// A [Report] has a [Result] per target, in the order the targets were
// given: the version before and after, the steps applied, the time taken,
// and the [Outcome]: no-op, applied, refused (waymark's checks refused
// before changing anything: a dirty version, drift, a version the files
// lack), failed (with the error, an *execute.StepError for a failing step)
// or skipped (not started). It prints as a table with a summary line
// (String, Summary) and encodes as JSON (format "waymark.fleet/v1").
// Reports never hold connection strings, so never passwords: targets made
// from connection strings are named after their host, port and database.
//
// # Targets file
//
// [ParseTargets] reads one target per line:
//
//	file   = { line "\n" }
//	line   = [ name ] conn | "#" comment | ""
//	name   = a word (no white space) containing neither "=" nor "://"
//	conn   = a connection string: a URL (postgres://...) or key=value words
//
// White space around a line is ignored. Without a name, the target is
// named host:port/database. Names must be unique. For example:
//
//	# name      connection string
//	eu-1        postgres://migrator@eu-1.db.internal/app
//	us-1        host=us-1.db.internal dbname=app user=migrator
//	postgres://migrator@ap-1.db.internal/app
//
// The last target is named ap-1.db.internal:5432/app.
package fleet
