// Package psqltool runs `psql -1` for the peers benchmark: every script in
// one file, run in one transaction, with no bookkeeping at all.
package psqltool

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/waymarkdb/waymark/tools/benchpeers/internal/workload"
)

// Files written by Layout.
const (
	UpFile   = "up.sql"
	DownFile = "down.sql"
)

// Layout returns up.sql, the up scripts in order, and down.sql, the down
// scripts in reverse order.
func Layout(ms []workload.Migration) []workload.File {
	var up, down strings.Builder
	for i := range ms {
		up.WriteString(ms[i].Up)
		down.WriteString(ms[len(ms)-1-i].Down)
	}
	return []workload.File{{Name: UpFile, Data: up.String()}, {Name: DownFile, Data: down.String()}}
}

// Command returns the psql command that runs file of dir in one
// transaction, stopping at the first error.
func Command(ctx context.Context, psql, connString, dir, file string) *exec.Cmd {
	return exec.CommandContext(ctx, psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1",
		"-d", connString, "-f", filepath.Join(dir, file))
}

func run(ctx context.Context, psql, connString, dir, file string) error {
	out, err := Command(ctx, psql, connString, dir, file).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql -1 -f %s: %w\n%s", file, err, out)
	}
	return nil
}

// Up runs up.sql.
func Up(ctx context.Context, psql, connString, dir string) error {
	return run(ctx, psql, connString, dir, UpFile)
}

// Down runs down.sql.
func Down(ctx context.Context, psql, connString, dir string) error {
	return run(ctx, psql, connString, dir, DownFile)
}
