// Command migrate is golang-migrate's cold no-op up: open the driver and
// the source on -dir, Up, close.
package main

import (
	"context"

	"github.com/waymarkdb/waymark/tools/benchpeers/internal/coldmain"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/migratetool"
)

func main() {
	coldmain.Main("migrate", func(ctx context.Context, a coldmain.Args) error {
		return migratetool.Cold(ctx, a.Conn, a.Dir)
	})
}
