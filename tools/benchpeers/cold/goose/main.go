// Command goose is goose's cold no-op up: open a provider on -dir, Up,
// close.
package main

import (
	"context"

	"github.com/waymarkdb/waymark/tools/benchpeers/internal/coldmain"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/goosetool"
)

func main() {
	coldmain.Main("goose", func(ctx context.Context, a coldmain.Args) error {
		return goosetool.Cold(ctx, a.Conn, a.Dir)
	})
}
