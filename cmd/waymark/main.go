// Command waymark plans and applies the PostgreSQL migrations in a
// directory: status, plan, apply, resolve and new, drift and schema,
// fleet for many databases or schemas at once, and import, import-history and baseline
// to move a database from another tool. Run 'waymark help'.
//
// A service that embeds its migrations mounts the same commands in its own
// binary with package [github.com/waymarkdb/waymark/cli].
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/waymarkdb/waymark/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], nil)
	stop()
	os.Exit(code)
}
