// Command floor is the raw-pgx floor's cold no-op: connect, one SELECT,
// close. It reads no file; -latest gives the version to expect.
package main

import (
	"context"

	"github.com/waymarkdb/waymark/tools/benchpeers/internal/coldmain"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/floor"
)

func main() {
	coldmain.Main("floor", func(ctx context.Context, a coldmain.Args) error {
		return floor.Cold(ctx, a.Conn, a.Latest)
	})
}
