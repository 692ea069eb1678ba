// Package waymark plans and applies raw-SQL PostgreSQL migrations.
//
// Migrations are plain files, v001_create_users.up.sql and
// v001_create_users.down.sql, kept in a folder or compiled into the binary
// with go:embed. You say where the schema should be (a target version);
// waymark works out how to get there, shows that path as a value you can
// print, store and test, and then runs exactly that path.
//
// The work is split in four packages:
//
//   - [github.com/waymarkdb/waymark/source] reads and validates migration
//     files from any fs.FS;
//   - [github.com/waymarkdb/waymark/plan] computes a plan from the files and
//     the database's state, without side effects;
//   - [github.com/waymarkdb/waymark/execute] runs a plan under a lock, with a
//     transaction per step, and records it;
//   - [github.com/waymarkdb/waymark/backend] is the database interface, with
//     the PostgreSQL implementation in backend/pgxbackend.
//
// This package itself holds only documentation and examples.
package waymark
