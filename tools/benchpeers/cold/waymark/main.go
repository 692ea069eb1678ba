// Command waymark is waymark's cold no-op up from files on disk: load
// -dir (source.FromDir), connect, Migrate, close.
package main

import (
	"context"

	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/coldmain"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/waymarktool"
)

func main() {
	coldmain.Main("waymark", func(ctx context.Context, a coldmain.Args) error {
		return waymarktool.Mode{}.Cold(ctx, a.Conn, func() (*source.Set, error) { return source.FromDir(a.Dir) })
	})
}
