// Package coldmain is the shared main of the benchmark's cold-start
// programs (the directories under cold/): each is one tool's no-op up in a
// process of its own, timed by the benchmark from exec to exit.
package coldmain

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

// Args are the command-line arguments every cold program takes.
type Args struct {
	// Conn is the connection string (-conn).
	Conn string
	// Dir is the directory of migration files (-dir), or what the
	// program's own tool needs in its place.
	Dir string
	// Latest is the latest version (-latest), for the floor, which reads
	// no file.
	Latest int64
}

// Main parses the arguments, runs check and exits: 0 when it returned
// nil, 1 with the error on standard error otherwise.
func Main(name string, check func(ctx context.Context, a Args) error) {
	var a Args
	flag.StringVar(&a.Conn, "conn", "", "connection string")
	flag.StringVar(&a.Dir, "dir", "", "directory of migration files")
	flag.Int64Var(&a.Latest, "latest", 0, "latest version (floor only)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := check(ctx, a)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
