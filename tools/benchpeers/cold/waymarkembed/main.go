// Command waymarkembed is waymark's cold no-op up from migrations compiled
// into the binary with go:embed: load, connect, Migrate, close. -dir is
// not used.
//
// The benchmark writes the embedded set into migrations/ (not kept in
// git) and builds this program with -tags peersembed; without the tag it
// only says so.
package main

import (
	"context"
	"errors"

	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/coldmain"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/waymarktool"
)

func main() {
	coldmain.Main("waymarkembed", func(ctx context.Context, a coldmain.Args) error {
		if migrations == nil {
			return errors.New("built without the embedded set: the benchmark writes it and builds with -tags peersembed")
		}
		return waymarktool.Mode{}.Cold(ctx, a.Conn, func() (*source.Set, error) { return source.FromFS(migrations, "migrations") })
	})
}
