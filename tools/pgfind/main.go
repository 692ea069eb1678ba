// Command pgfind prints the PostgreSQL server binaries that the tests and
// the demo will use, chosen as package
// [github.com/waymarkdb/waymark/internal/pgcluster] describes, and when
// they are to come from the cache and are not there yet, fetches them
// first. make test and make demo run it before anything else, so that a
// download happens once and in the open, and a machine without the
// binaries stops make with one message saying how to get them.
//
// Usage, from the repository's root:
//
//	go run ./tools/pgfind
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/internal/pgcluster"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: go run ./tools/pgfind (no arguments; see the package doc of internal/pgcluster for the environment variables)")
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir, err := pgcluster.FindBinDir(ctx, func(format string, args ...any) {
		fmt.Printf(format+"\n", args...)
	})
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgfind: %s --version: %w\n%s", filepath.Join(dir, "postgres"), err, out)
	}
	fmt.Printf("pgfind: %s\n", strings.TrimSpace(string(out)))
	return nil
}
