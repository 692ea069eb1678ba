// Command tern is tern's cold no-op up: connect, load -dir, Migrate,
// close.
package main

import (
	"context"

	"github.com/waymarkdb/waymark/tools/benchpeers/internal/coldmain"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/terntool"
)

func main() {
	coldmain.Main("tern", func(ctx context.Context, a coldmain.Args) error {
		return terntool.Cold(ctx, a.Conn, a.Dir)
	})
}
