package cli_test

import (
	"context"
	"fmt"
	"os"
	"testing/fstest"

	"github.com/waymarkdb/waymark/cli"
	"github.com/waymarkdb/waymark/source"
)

// A service mounts the commands under a subcommand of its own binary, with
// the migrations compiled into it (here an fstest.MapFS stands in for an
// embed.FS): "myservice migrate status", "myservice migrate apply -plan
// plan.json", and so on, always with exactly the binary's migrations.
func ExampleMain() {
	migrations := fstest.MapFS{
		"migrations/v001_users.up.sql": {Data: []byte("CREATE TABLE users (id bigint PRIMARY KEY);\n")},
	}
	set, err := source.FromFS(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	// In main: if os.Args[1] == "migrate" { os.Exit(cli.Main(ctx, os.Args[2:], cfg)) }
	args := []string{"help"}
	code := cli.Main(context.Background(), args, &cli.Config{Name: "myservice migrate", Set: set, Stdout: os.Stdout})
	fmt.Println("exit code:", code)
	// Output:
	// Usage: myservice migrate COMMAND [flags] [arguments]
	//
	// Commands:
	//   apply          apply a saved plan, or migrate up to a target
	//   baseline       record every version up to VERSION as applied, without running it
	//   check          is this migration safe on a busy table? the plan's hazards, static and, with -scratch, measured
	//   drift          does the database have the schema its migrations make? what was changed by hand
	//   fleet          status, plan, apply or drift-check the migrations on many databases or schemas at once
	//   import         convert another tool's migration files into waymark's
	//   import-history record what another tool applied as applied in waymark's history
	//   new            create the next vNNN_name.up.sql and .down.sql, numbered like the set
	//   plan           show the plan to a target; save it as JSON for apply
	//   resolve        record what a dirty version's database holds after a repair by hand
	//   schema         write the schema the migrations make at a version, as stable text to review and commit
	//   status         show every version: applied (when, how long), pending, dirty, drifted, missing, out of order
	//
	// Run 'myservice migrate help COMMAND' for a command's flags.
	// Exit codes: 0 done or nothing to do, 1 failed, 2 usage, 3 refused (nothing changed) or drift,
	// 4 with -detailed-exitcode: steps pending or applied.
	// exit code: 0
}
