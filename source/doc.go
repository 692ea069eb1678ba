// Package source finds, parses and validates migration files in an [fs.FS]:
// a directory on disk ([FromDir]), files compiled in with go:embed, or an
// in-memory [testing/fstest.MapFS] ([FromFS]).
//
// # File names
//
// Only the entries directly inside the directory are considered;
// sub-directories are not searched. A name that starts with "." is ignored,
// and so is a name that does not end in ".sql" (compared without regard to
// case). Every other name must have the form
//
//	name      = "v" version [ "_" words ] "." direction ".sql"
//	version   = digit { digit }            (base 10, 1 to 9223372036854775807)
//	words     = wordchar { wordchar }      (wordchar: A-Z a-z 0-9 _ -)
//	direction = "up" | "down"
//
// for example v001_create_users.up.sql and v001_create_users.down.sql. The
// literal parts are lower case: V1.up.sql, v1.UP.sql, 1.up.sql, v1.sql and
// v1.up.sql.sql are all errors, so a typo is never silently skipped. Leading
// zeros do not change the version: v1 and v001 are the same version, and
// both present is an error. Version 0 stands for the empty schema and cannot
// be a file. Gaps between versions are fine, so timestamps work as versions.
//
// A name that starts with "r_" is a repeatable script instead ([Repeatable]):
//
//	repeatable = "r_" words ".sql"
//
// for example r_active_users.sql: one file per view, function, procedure or
// trigger, edited in place and re-applied whenever it changes. The words
// are its name in the history. R_x.sql, r_.sql, r_x.up.sql and r_x.SQL are
// errors. Repeatable scripts are checked like up scripts (directives
// included: waymark:no-transaction and waymark:allow work the same;
// waymark:batch is an error, since a repeatable script runs again whole) and
// [Set.Repeatables] lists them in name order, the order they are applied
// in. A set may hold only repeatable scripts.
//
// A migration file may be a symbolic link to a file inside the directory
// (or one of its sub-directories); one that resolves outside it (an
// absolute target, or a ".." that climbs above the directory, even to come
// back) is an error ([ErrOutside]) and is never read, so that a change to
// the directory cannot make waymark read, and print in a review, a file
// from elsewhere on the machine. [FromDir] reads through an [os.Root];
// [FromFS] checks the links of any fs.FS that reads them (see its doc).
//
// Every version needs an up file. A down file is optional; a version without
// one is irreversible. An up and a down file of the same version must have
// the same name (the part before ".up.sql" / ".down.sql").
//
// # Scripts
//
// A script must be valid UTF-8, without a byte order mark and without NUL
// bytes. An up script must contain at least one statement, unless it says
// that it is empty on purpose (waymark:empty, below); a down script may be
// empty (the version is reversible with nothing to undo). Its [Checksum] is
// the SHA-256 of the file's bytes.
//
// Scripts are split into statements with PostgreSQL's lexical rules (quotes,
// E'...' strings, quoted identifiers, dollar quotes, nested comments, BEGIN ATOMIC
// bodies; standard_conforming_strings assumed on), so an unterminated quote
// or comment is reported at load time with its line and column.
//
// # Directives
//
// A "--" comment line (nothing but whitespace before it on its line) whose
// text starts with "waymark" is a directive, and must be one that waymark
// knows, written exactly (lower case, "waymark:" and the name):
//
//	-- waymark:no-transaction
//	-- waymark:allow <rule> "<reason>"
//	-- waymark:empty "<reason>"
//	-- waymark:batch [pause=D] [lock-timeout=D] [statement-timeout=D]
//
// waymark:no-transaction, before the script's first statement, marks a
// script that must run outside a transaction block (CREATE INDEX
// CONCURRENTLY, VACUUM, REINDEX CONCURRENTLY, ...). Such a script runs
// statement by statement ([Script.Statements]).
//
// waymark:allow accepts a hazard that a checker of migrations would report
// for the statement the directive comes before ([Script.Allows]); the rule
// is a name of lower-case letters, digits and dashes, and the reason, in
// double quotes, must say something. Which rule names exist is up to the
// checker.
//
// waymark:empty marks an up script that has no statements on purpose: a
// version that exists for its down script, or whose change another
// version made (tools that migrated the database before waymark allowed
// such steps, and the importer writes the directive for them). Without it,
// an up script of only comments is an error, because it is far more often
// a file forgotten half-written. The reason, in double quotes, must say
// something: it tells the reviewer why the step does nothing. It is refused
// in a down script (which may be empty without it) and in a script that
// has statements.
//
// waymark:batch, in a no-transaction script, marks the statement it comes
// before as a batch ([Script.Batches]): the runner repeats it, each run in
// a transaction of its own that commits, until it reports that it touched
// no row. The statement must report rows (UPDATE, DELETE, INSERT, MERGE or
// WITH) and bound them itself (a LIMIT in a sub-select, a key range), and
// touch only rows not yet done, so that each run does the next batch and a
// run stopped part-way carries on where it stopped when run again. Its
// options, each a Go duration (100ms, 5s), are the pause between runs and
// the lock_timeout and statement_timeout of each run. A script whose every
// statement is a batch is [Script.Resumable].
//
// A misspelt directive, one with arguments it does not take, and a
// file-level directive (no-transaction, empty) after the first statement
// are errors: a directive is never silently ignored. [Script.Directives]
// lists a script's directives.
//
// A script without waymark:no-transaction runs inside one transaction with
// its history record, so it must not contain transaction control of its own
// (BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, PREPARE
// TRANSACTION); SAVEPOINT and ROLLBACK TO SAVEPOINT are fine. A
// no-transaction script may use transactions, but must end every one it
// begins.
//
// # Errors
//
// [FromFS] reports every problem in the set at once, as an [ErrorList]
// sorted by file and position that prints one problem per line. Each
// problem is an [*Error] that names its file and, where it helps, the line
// and column ([Position]) in the form "path:line:col: kind: detail". Use
// [errors.Is] with the Err* sentinels to branch on the kind of problem, and
// [errors.As] to get the list or its first [*Error].
package source
