// Package hazard finds the statements of migration scripts that are
// dangerous on a busy table, without a database: those that take a lock
// blocking reads or writes for as long as they read or rewrite a whole
// table, that queue behind a long transaction with no lock timeout, or
// that break the release still running.
//
// [Check] checks the up scripts of a [source.Set] in version order;
// [CheckPlan] checks the steps of a [plan.Plan]. Each reports, per
// statement, what the statement is expected to do to the tables that
// existed before its script ([Statement].Effects: its locks, rewrites and
// full scans) and the hazards it has ([Finding]: a rule, a severity, a
// place, a reason and a safer pattern). A measurement on a scratch
// database (package [github.com/waymarkdb/waymark/hazard/measure]) checks
// those expectations, and package
// [github.com/waymarkdb/waymark/hazard/review] shows both side by side.
//
// # Rules
//
//	create-index-not-concurrently      CREATE INDEX without CONCURRENTLY on an existing table
//	drop-index-not-concurrently        DROP INDEX without CONCURRENTLY
//	reindex-not-concurrently           REINDEX without CONCURRENTLY
//	add-column-volatile-default        ADD COLUMN with a volatile default, serial or identity: a rewrite
//	alter-column-type                  ALTER COLUMN ... TYPE that rewrites
//	set-not-null                       SET NOT NULL (or ADD ... NOT NULL, or a primary key's) without a validated proof
//	constraint-missing-not-valid       ADD FOREIGN KEY or CHECK without NOT VALID
//	add-key-not-using-index            ADD PRIMARY KEY, UNIQUE or EXCLUDE that builds its index under ACCESS EXCLUSIVE
//	rename-column, rename-table        renames (and SET SCHEMA) that break the running release
//	drop-column, drop-table            drops that break the running release
//	vacuum-full, cluster               rewrites under ACCESS EXCLUSIVE
//	table-rewrite                      other rewrites: STORED generated columns, SET LOGGED/UNLOGGED, SET ACCESS METHOD, SET TABLESPACE, REFRESH MATERIALIZED VIEW
//	detach-partition-not-concurrently  DETACH PARTITION without CONCURRENTLY
//	create-table-partition-of          CREATE TABLE ... PARTITION OF an existing table
//	attach-partition-scan              ATTACH PARTITION reading the attached table, or the DEFAULT partition, under ACCESS EXCLUSIVE
//	not-available                      syntax the target version does not have, or a form the server never accepts
//	missing-lock-timeout               ACCESS EXCLUSIVE on an existing table in a script without lock_timeout
//	batch-unbounded                    a waymark:batch statement without LIMIT: its first run touches every row
//	batch-endless                      a waymark:batch statement whose WHERE does not change as it runs: it never reports 0 rows
//	versioned-uses-repeatable          a versioned up script names what a repeatable script creates
//
// and, reported by a measurement only: measured-lock, measured-rewrite and
// measured-invalid-index, for what the server did that no rule predicted.
// [Rules] lists them with their severity, summary and safer pattern.
//
// The severity follows what the statement does to a busy table: an error
// blocks its reads or writes for as long as the whole table is read or
// written (a rewrite, a scan, an index build under a lock that blocks
// writes); a warning holds a strong lock only briefly, reading nothing
// (DROP INDEX and DETACH PARTITION without CONCURRENTLY, an ALTER COLUMN
// TYPE that only remakes foreign keys), which is a lock-timeout matter,
// or breaks the release still running (renames, drops).
//
// A statement that the target version does not have (NOT ENFORCED, ADD
// CONSTRAINT ... NOT NULL [NOT VALID] and VIRTUAL generated columns
// before PostgreSQL 18, SET EXPRESSION before 17), or that the server
// never accepts (CREATE INDEX CONCURRENTLY on a partitioned table), gets a
// not-available finding, "... is not available on PostgreSQL N", and no
// other: it fails, so it locks nothing.
//
// Versioned-uses-repeatable (a warning) needs the set ([Check], or
// [Options].Set): it finds the views, materialized views, functions,
// procedures, triggers and aggregates that the set's repeatable scripts
// create, and reports a versioned up script's statement that names one
// (outside strings: a use inside a function body or DO block is not
// seen), other than one that drops it. Repeatable scripts run after every
// version, so such a migration depends on when the database was migrated.
// [Check] also checks the repeatable scripts themselves, after the
// versions, as version 0.
//
// A statement only counts against a table that existed before its script:
// creating a table and then indexing or altering it in the same script
// (one transaction, or a no-transaction script that nothing else uses
// yet) is not a hazard. A table is new only if the script made it: CREATE
// TABLE IF NOT EXISTS of a table that exists already makes nothing, and
// CREATE INDEX IF NOT EXISTS of an index that exists builds nothing (it
// only locks the table). A temporary table is no other session's: nothing
// done to it is a hazard. Missing-lock-timeout is reported once per
// script, at its first statement that needs ACCESS EXCLUSIVE without a
// timeout.
//
// # Every relation a statement locks
//
// [Statement].Effects names every relation the statement locks, rewrites
// or reads, not only the one it names, as PostgreSQL's own behaviour
// (measured on 14 to 18) says:
//
//   - ALTER COLUMN ... TYPE of a column with a foreign key, or one that
//     other tables' foreign keys reference, remakes those keys: ACCESS
//     EXCLUSIVE on the other table, and, when the type changes the
//     values' representation, a new check of the referencing rows. DROP
//     COLUMN of a foreign-key column, like DROP CONSTRAINT of the key,
//     locks the referenced table ACCESS EXCLUSIVE.
//   - TRUNCATE ... CASCADE empties and locks every table that references
//     the table, and those that reference them.
//   - ATTACH PARTITION locks the attached table, and the parent's DEFAULT
//     partition if it has one, ACCESS EXCLUSIVE, and reads each in full
//     unless a validated CHECK on the partition key proves the rows fit.
//   - CREATE INDEX on a partitioned table takes SHARE on, and reads, each
//     partition.
//   - REINDEX TABLE rebuilds the table's indexes (each named), not its
//     rows.
//   - ALTER COLUMN ... TYPE between timestamp and timestamptz under a UTC
//     TimeZone keeps the rows but builds the indexes on the column again
//     under ACCESS EXCLUSIVE.
//   - DROP TABLE (or VIEW) ... CASCADE locks the views it drops with it.
//   - ALTER INDEX ... ATTACH PARTITION locks the partition's index ACCESS
//     EXCLUSIVE.
//
// # Batches
//
// A statement marked waymark:batch (see package source) is run again and
// again until it reports 0 rows. The checker reads what it can see of it:
// an UPDATE or INSERT without LIMIT (or FETCH FIRST) anywhere is
// batch-unbounded; an UPDATE whose WHERE, subqueries included, names none
// of the columns it sets, or an INSERT ... SELECT that never reads the
// table it fills, is batch-endless. DELETE always changes what it finds;
// WITH and MERGE statements are not judged.
//
// # What the checker knows
//
// The checker reads statements with waymark's SQL lexer and understands
// CREATE TABLE, CREATE [UNIQUE] INDEX, the forms of ALTER TABLE and ALTER
// INDEX that migrations use, DROP, REINDEX, VACUUM, CLUSTER, REFRESH
// MATERIALIZED VIEW, TRUNCATE, LOCK, COMMENT ON, CREATE TRIGGER, CREATE
// VIEW, SET and RESET, and the statements that take no strong lock (data
// changes, CREATE FUNCTION, CREATE TYPE, GRANT, ...). A DO block is read
// for the SQL statements of its body and the string literals it EXECUTEs
// (conditions and loops are not followed; SQL built at run time is not
// known), and stays Known false. For anything else (procedure calls)
// [Statement].Known is false: its effects are unknown.
//
// As it reads the scripts in order it keeps a model of the schema they
// build: each table's columns and their types, its constraints (whether
// validated, which prove a column NOT NULL, which columns a foreign key
// constrains and references), its indexes, whether it is partitioned (its
// key, its partitions, its DEFAULT partition), and the relations each
// view reads. [Options].Prerequisites, a script of what the set expects
// and does not make, is read first. That is how it tells that widening
// a varchar(20) to varchar(40) needs no rewrite, or that SET NOT NULL
// follows a validated CHECK (col IS NOT NULL). Names are matched as
// written, with unquoted names folded to lower case and the schema
// "public" taken as no schema. What no script created is unknown, and a
// verdict that depends on it says so ("waymark does not know the column's
// current type") rather than guess.
//
// # Accepting a hazard
//
// A finding is accepted by a directive on a line of its own before the
// statement:
//
//	-- waymark:allow add-column-volatile-default "the table is empty until launch"
//	ALTER TABLE players ADD COLUMN token uuid DEFAULT gen_random_uuid();
//
// It names one rule and gives a reason, and covers only the statement that
// follows it ([source.Script].Allows). An accepted finding stays in the
// report, marked with the reason, but no longer fails [Report.Err]. A
// directive that names no rule is an error ([ErrUnknownRule], at its
// file, line and column, listing the rules); one that accepts nothing is
// listed in [Script].UnusedAllows. Directives for the measured rules are
// read by package review.
//
// # Lock timeouts
//
// A statement has a lock timeout when the runner sets one for every step
// ([Options].LockTimeout) or when its script set one earlier: SET
// lock_timeout, SET LOCAL lock_timeout, or SELECT set_config('lock_timeout',
// ...), to anything but 0 or DEFAULT. RESET lock_timeout (or RESET ALL)
// removes it. In a no-transaction script, SET LOCAL works only inside a
// transaction that the script began, and lasts until it ends.
//
// The checker follows TimeZone the same way: after SET [LOCAL] TimeZone
// = 'UTC' (or SET TIME ZONE 'UTC', or another zone always at offset 0),
// changing a column between timestamp and timestamptz needs no rewrite of
// the table; the indexes on the column are still built again.
//
// # Server versions
//
// [Options].ServerVersion names the PostgreSQL the scripts will run on
// (default [DefaultServerVersion], PostgreSQL 14, whose verdicts hold on
// every later version). From PostgreSQL 18, a generated column without
// STORED is virtual and needs no rewrite, a CHECK can be NOT ENFORCED,
// NOT NULL can be added NOT VALID and validated later (which becomes the
// safer pattern for set-not-null), and a foreign key on a partitioned
// table can be NOT VALID (before 18 the safer pattern goes partition by
// partition). The rest of what the rules rely on (a constant default
// without a rewrite, SET NOT NULL using a validated CHECK, REINDEX
// CONCURRENTLY, DETACH PARTITION CONCURRENTLY) holds from 14 on.
package hazard
