// Package convert turns a directory of another migration tool's files into
// waymark's files: golang-migrate, goose, tern, pop (with the additions
// of Ory's popx) and Flyway. It keeps the order the tool applies them in, their SQL
// byte for byte and the way the tool ran them (in a transaction or not),
// and it never drops a file silently: every file that does not become a
// waymark file is listed with the reason.
//
// [Convert] reads and converts; [Result.Write] writes the files;
// [Result.Report] says what was decided. Package adopt then records in
// waymark's history what the tool's history table says was applied,
// mapping its versions through the [Result].
//
// # What each tool reads
//
// golang-migrate: files directly in the directory named
//
//	version "_" identifier "." ( "up" | "down" ) "." extension
//
// (golang-migrate's own pattern, ^([0-9]+)_(.*)\.(down|up)\.(.*)$), the
// version an unsigned integer. Each file runs as one query, which
// PostgreSQL runs as one transaction; with [Options].MultiStatement (the
// database URL had x-multi-statement=true), statement by statement. A
// version without a down file is irreversible in waymark (golang-migrate
// went down through it doing nothing); one without an up file gets an
// empty up step.
//
// goose: files directly in the directory named version "_" name ".sql",
// the version an integer of 1 or more, each holding both directions:
// "-- +goose Up", the up SQL, "-- +goose Down", the down SQL. The up file
// is everything before the "-- +goose Down" line (comments above "-- +goose
// Up" included), the down file that line and everything after it, so the
// two files together are the goose file. "-- +goose NO TRANSACTION" makes
// both no-transaction scripts. A file without a Down section is
// irreversible. Go migrations (version "_" name ".go") and files with
// "-- +goose ENVSUB ON" (their SQL depends on the environment) cannot be
// converted.
//
// tern: files directly in the directory named version "_" name ".sql",
// numbered 1, 2, 3... without gaps, each holding the up SQL, then the line
// "---- create above / drop below ----", then the down SQL; the down file
// starts with that line. A direction whose SQL has a
// "---- tern: disable-tx ----" line is a no-transaction script. Without
// down SQL, the version is irreversible, as in tern. tern renders every
// migration as a text/template: a file with "{{" cannot be converted; .sql
// files in sub-directories are templates, not migrations.
//
// pop: files anywhere under the directory named
//
//	version "_" name [ "." dialect ] [ ".autocommit" ] "." ( "up" | "down" ) "." ( "sql" | "fizz" )
//
// For each version and direction, the file for postgres (or its synonyms
// postgresql, pg, pgx) is used, else the generic one (no dialect); files
// for other dialects are ignored. ".autocommit." (popx) makes a
// no-transaction script. fizz files and files with "{{" (pop renders every
// migration as a text/template) cannot be converted. pop orders versions
// as text, and so does the conversion.
//
// Flyway: files anywhere under the directory (Flyway searches its
// locations recursively) named
//
//	"V" version "__" description ".sql"     a versioned migration
//	"U" version "__" description ".sql"     its undo script (Flyway Teams)
//	"R__" description ".sql"                a repeatable migration
//	version = digits { ( "." | "_" ) digits }
//
// Versions compare number by number ([CompareFlyway]; "1.2" before
// "1.10", "1.01" and "1.1" the same version, which is an error twice); the
// history table holds them in the canonical form [FlywayVersion]. The undo
// script is the version's down script; without one the version is
// irreversible. A repeatable migration becomes a repeatable script
// r_<description>.sql ([Result].Repeatables). A script whose configuration
// (a <script>.sql.conf file, or a "-- flyway:executeInTransaction=false"
// line) sets executeInTransaction=false is a no-transaction script.
// Scripts with placeholders ("${"), SQL callbacks (beforeMigrate.sql,
// afterMigrate.sql, ...), baseline migrations (B<version>__) and .sql files
// whose name Flyway skips are not converted. [FlywayChecksum] is the
// checksum Flyway records, so that package adopt can tell a file changed
// since Flyway applied it.
//
// In every layout, a script that has transaction control of its own
// (BEGIN, COMMIT) or a statement that cannot run in a transaction block
// (CREATE INDEX CONCURRENTLY) becomes a no-transaction script: the tool
// could only have run it that way. A script that merely wraps all its SQL
// in BEGIN; ... COMMIT; ([File].Wrapped) ran as one transaction, and
// [Options].Unwrap makes it an ordinary transactional script instead
// ([File].Unwrapped): its BEGIN and COMMIT become comments on their own
// lines, so that every other line keeps its number, and waymark runs the
// rest in its transaction, with the version's record; a failure then
// rolls it back whole instead of leaving the version dirty.
//
// # Versions
//
// The tool's versions stay waymark's versions, written with the same
// digits (000001_init.up.sql becomes v000001_init.up.sql), when every one
// is an integer from 1 to 9223372036854775807 and the tool's order is
// their numeric order. Otherwise ([Result].Renumbered) every version is
// renumbered 1 to n in the tool's order, with at least four digits, and
// the tool's version is kept at the start of the name:
// 20150100000001000000_networks.postgres.up.sql becomes
// v0001_20150100000001000000_networks.up.sql. A migration that cannot be
// converted keeps its number too, so that its file can be written by hand
// under that name. Names keep A-Z a-z 0-9 _ and -; any other character
// becomes "_".
//
// # Directives
//
// The conversion adds lines only at the top of a script, and only these:
//
//	-- waymark:no-transaction
//	-- waymark:empty "an empty step in the <tool> migrations this set was converted from"
//
// the second for an up script with no statements, which every tool ran as
// a step that does nothing (its down script may still matter).
//
// # What converts, but not cleanly
//
// [Result].Warnings names, by file and line, each statement that uses the
// tool's own history table ([HistoryTable]: golang-migrate's
// schema_migrations, ...): it ran against a table the tool had made, and
// fails on a new database, where waymark makes none. [Result.Report]
// prints the warnings, and writes a note that many versions share (such
// as "irreversible") once, with the list of their versions.
//
// # What is not converted
//
// [Result].Unconverted lists the files the tool would run that waymark
// cannot (Go migrations, templates, fizz) and files that look like
// migrations but that the tool skips (a .sql file not named as the tool
// wants: most likely a typo); [Result].Ignored lists what the tool never
// runs on PostgreSQL (another dialect's files, sub-directories it does not
// read, files that are not SQL). Problems that the tool itself would
// refuse (two files for a version, a goose file without "-- +goose Up", a
// gap in tern's numbers) and converted scripts that waymark refuses (an
// unterminated quote) are errors, as a source.ErrorList naming the tool's
// files.
package convert
