// Package waymark plans and applies raw-SQL PostgreSQL migrations.
//
// Migrations are plain files, v001_create_users.up.sql and
// v001_create_users.down.sql, kept in a folder or compiled into the binary
// with go:embed. You say where the schema should be (a target version);
// waymark works out how to get there, shows that path as a value you can
// print, store and test, and then runs exactly that path.
//
// # Packages
//
// The packages form layers, and each imports only the layers below it:
//
//	execute      runs a plan under a lock, a transaction per step, and records it
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
// That is: execute imports plan, backend and source; plan imports backend
// and source; backend imports source; source imports only the standard
// library (and waymark's internal SQL lexer and error helpers).
//
// Beside them: [github.com/waymarkdb/waymark/backend/pgxbackend] is the
// PostgreSQL backend on pgx v5; [github.com/waymarkdb/waymark/backend/memory]
// is an in-memory backend for logic tests and
// [github.com/waymarkdb/waymark/backend/backendtest] the conformance suite
// every backend passes; [github.com/waymarkdb/waymark/plan/plantest] builds
// database states for tests that plan without a database.
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
