package waymark_test

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"os"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
	"github.com/waymarkdb/waymark/source"
)

//go:embed testdata/sample/*.sql
var sample embed.FS

// migrations is a small set kept in memory, as a unit test would.
var migrations = fstest.MapFS{
	"migrations/v001_users.up.sql":     {Data: []byte("CREATE TABLE users (id bigint PRIMARY KEY, name text);\n")},
	"migrations/v001_users.down.sql":   {Data: []byte("DROP TABLE users;\n")},
	"migrations/v002_email.up.sql":     {Data: []byte("ALTER TABLE users ADD COLUMN email text;\n")},
	"migrations/v002_email.down.sql":   {Data: []byte("ALTER TABLE users DROP COLUMN email;\n")},
	"migrations/v003_email_idx.up.sql": {Data: []byte("-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n")},
}

// Start here, 1 of 3: a service migrates at boot, before it serves. When
// the database is up to date this is one query and takes no lock; replicas
// booting together wait for one another; an older replica during a rolling
// deploy finds the database ahead and boots with a warning.
func Example_boot() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	set, err := source.FromFS(sample, "testdata/sample") // //go:embed testdata/sample/*.sql
	if err != nil {
		panic(err) // every bad file, one per line: "testdata/sample/v3_x.up.sql:4:1: ..."
	}
	if _, err := execute.Migrate(ctx, pgxbackend.New(pool, nil), set, plan.Latest(), nil); err != nil {
		panic(err)
	}
}

// Start here, 2 of 3: CI plans on the pull request and applies exactly the
// reviewed plan after approval (the waymark command does the same: see
// cmd/waymark/ci.sh). The apply job refuses a plan whose migration files or
// database changed since, or, with a key, whose file was edited.
func Example_ci() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	db := pgxbackend.New(pool, nil)
	set, err := source.FromFS(sample, "testdata/sample")
	if err != nil {
		panic(err)
	}
	key := []byte(os.Getenv("WAYMARK_PLAN_KEY"))

	// The plan job: read the state (no lock, no write), save the plan, post
	// the review.
	p, err := plan.Build(ctx, db, set, plan.Latest(), nil)
	if err != nil {
		panic(err) // refused: drift, dirty, unknown versions, ...
	}
	var saved bytes.Buffer
	if err := plan.Save(&saved, p, &plan.SaveOptions{Key: key}); err != nil {
		panic(err)
	}
	fmt.Print(p.Review()) // every step's SQL, with line numbers

	// The apply job, later, with the saved file and the checked-out files.
	q, err := plan.Load(&saved, &plan.LoadOptions{Key: key})
	if err != nil {
		panic(err)
	}
	if _, err := execute.Run(ctx, db, q, &execute.Options{Files: set}); err != nil {
		panic(err)
	}
}

// Start here, 3 of 3: a unit test checks what a change to the migrations
// will do, without a database.
func Example_test() {
	set, err := source.FromFS(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	// A database at version 1 goes up through 2 and 3; version 3 runs
	// outside a transaction.
	p, err := plan.Compute(set, plantest.Applied(set, 1), plan.Latest(), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Versions(), p.Steps[1].NoTransaction)
	// Going down from 3 is refused: version 3 has no down script.
	_, err = plan.Compute(set, plantest.Applied(set, 1, 2, 3), plan.DownTo(0), nil)
	fmt.Println(err)
	// Output:
	// [2 3] true
	// plan: version 3 (migrations/v003_email_idx.up.sql): irreversible version: it has no down script, so the database cannot go below 3
}

// A reviewer's view of a plan: every step's SQL with line numbers, the
// text to post on the pull request.
func Example_review() {
	set, _ := source.FromFS(migrations, "migrations")
	p, _ := plan.Compute(set, plantest.Applied(set, 1), plan.Latest(), nil)
	fmt.Print(p.Review())
	// Output:
	// plan: up from 1 to 3 (2 steps)
	//   up  2  email      migrations/v002_email.up.sql      transaction     sha256:315473a2
	//   up  3  email_idx  migrations/v003_email_idx.up.sql  no-transaction  sha256:ce51ac6d
	// made from: version 1 applied
	//
	// step 1 of 2: up 2 email, in a transaction
	// migrations/v002_email.up.sql  sha256:315473a2
	//   1 | ALTER TABLE users ADD COLUMN email text;
	//
	// step 2 of 2: up 3 email_idx, NO TRANSACTION: 1 statement, run one by one; a failure leaves version 3 dirty
	// migrations/v003_email_idx.up.sql  sha256:ce51ac6d
	//   1 | -- waymark:no-transaction
	//   2 | CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
}

// A dry run of the migrations compiled into the binary, against an empty
// database: no database is needed to see what would happen.
func Example() {
	set, err := source.FromFS(sample, "testdata/sample")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(p)
	// Output:
	// plan: up from 0 to 4 (4 steps)
	//   up  1  create_users       testdata/sample/v001_create_users.up.sql       transaction     sha256:eb4ac91d
	//   up  2  add_email          testdata/sample/v002_add_email.up.sql          transaction     sha256:1dcee361
	//   up  3  users_email_index  testdata/sample/v003_users_email_index.up.sql  no-transaction  sha256:3bf9a306
	//   up  4  orders             testdata/sample/v004_orders.up.sql             transaction     sha256:720dd23e
}

// Going down must be asked for, and only reversible versions can be undone.
func Example_down() {
	set, _ := source.FromFS(migrations, "migrations")
	applied := plantest.Applied(set, 1, 2, 3)

	if _, err := plan.Compute(set, applied, plan.To(1), nil); err != nil {
		fmt.Println(err)
	}
	if _, err := plan.Compute(set, applied, plan.DownTo(1), nil); err != nil {
		fmt.Println(err)
	}
	p, _ := plan.Compute(set, plantest.Applied(set, 1, 2), plan.DownTo(0), nil)
	fmt.Print(p)
	fmt.Println(p.Versions())
	// Output:
	// plan: target 1: needs steps in the other direction: the database has applied versions 2, 3 above it; going down must be asked for with plan.DownTo(1)
	// plan: version 3 (migrations/v003_email_idx.up.sql): irreversible version: it has no down script, so the database cannot go below 3
	// plan: down from 2 to 0 (2 steps)
	//   down  2  email  migrations/v002_email.down.sql  transaction  sha256:3894a2e1
	//   down  1  users  migrations/v001_users.down.sql  transaction  sha256:de101570
	// [2 1]
}

// A database that is already there gets an empty plan, not an error.
func Example_noop() {
	set, _ := source.FromFS(migrations, "migrations")
	p, _ := plan.Compute(set, plantest.Applied(set, 1, 2, 3), plan.Latest(), nil)
	fmt.Print(p)
	fmt.Println(p.Empty())
	// Output:
	// plan: nothing to do, the database is at version 3
	// true
}

// Every problem in a set of files is reported at once, each naming its file.
func Example_badFiles() {
	_, err := source.FromFS(fstest.MapFS{
		"db/V1_init.up.sql":     {Data: []byte("CREATE TABLE t (id int);")},
		"db/v2.up.sql":          {Data: []byte("-- TODO\n")},
		"db/v3_idx.up.sql":      {Data: []byte("-- waymark:no-transactoin\nCREATE INDEX CONCURRENTLY i ON t (id);")},
		"db/v4_lonely.down.sql": {Data: []byte("DROP TABLE t;")},
	}, "db")
	fmt.Println(err)
	// Output:
	// db/V1_init.up.sql: invalid migration file name: want v<version>[_<name>].up.sql or .down.sql (starting with lower-case "v")
	// db/v2.up.sql: up script has no statements: the file holds only whitespace and comments (if the step is empty on purpose, say so: -- waymark:empty "<reason>")
	// db/v3_idx.up.sql:1:1: invalid directive: unknown directive "waymark:no-transactoin" (known: waymark:no-transaction, waymark:allow, waymark:empty, waymark:batch)
	// db/v4_lonely.down.sql: down script without an up script: add v4_lonely.up.sql
}
