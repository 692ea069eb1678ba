package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/waymarkdb/waymark/tools/benchpeers/internal/floor"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/goosetool"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/migratetool"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/psqltool"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/terntool"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/waymarktool"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/workload"
)

// The rows of the result tables.
const (
	rowMigrate  = "golang-migrate"
	rowGoose    = "goose"
	rowTern     = "tern"
	rowWaymark  = "waymark"
	rowSingle   = "waymark, single transaction"
	rowEmbed    = "waymark, embed.FS"
	rowFloor    = "raw-pgx floor"
	rowPsql     = "psql -1"
	layoutMig   = "golang-migrate"
	layoutGoose = "goose"
	layoutTern  = "tern"
	layoutWM    = "waymark"
	layoutFloor = "floor"
	layoutPsql  = "psql"
)

// rows is the order of the tables.
var rows = []string{rowMigrate, rowGoose, rowTern, rowWaymark, rowSingle, rowEmbed, rowFloor, rowPsql}

// warm is a tool opened once, for repeated no-op ups.
type warm interface {
	Check(context.Context) error
	Close()
}

func opener[W warm](open func(ctx context.Context, conn, dir string) (W, error)) func(ctx context.Context, conn, dir string) (warm, error) {
	return func(ctx context.Context, conn, dir string) (warm, error) {
		w, err := open(ctx, conn, dir)
		if err != nil {
			return nil, err
		}
		return w, nil
	}
}

// coldRun is a program that does a tool's no-op up in a process of its
// own: argv returns its arguments for a connection string and the
// directory of the tool's files, given the directory of the programs.
type coldRun struct {
	row  string
	argv func(bin, conn, dir string) []string
}

// tool is one contender.
type tool struct {
	row    string
	layout string // key of layouts
	up     func(ctx context.Context, conn, dir string) error
	down   func(ctx context.Context, conn, dir string) error
	open   func(ctx context.Context, conn, dir string) (warm, error) // nil: no W3warm
	cold   []coldRun                                                 // none: no W3 cold
}

// layouts writes each tool's files.
var layouts = map[string]func([]workload.Migration) []workload.File{
	layoutMig:   migratetool.Layout,
	layoutGoose: goosetool.Layout,
	layoutTern:  terntool.Layout,
	layoutWM:    waymarktool.Layout,
	layoutFloor: floor.Layout,
	layoutPsql:  psqltool.Layout,
}

// coldProg is the cold program name, reading the tool's files, for row.
func coldProg(row, name string) coldRun {
	return coldRun{row: row, argv: func(bin, conn, dir string) []string {
		return []string{filepath.Join(bin, name), "-conn", conn, "-dir", dir}
	}}
}

// tools returns the contenders; psql is the psql program, latest the
// latest version of W1 (for the floor's cold check).
func tools(psql string, latest int) []tool {
	single := waymarktool.Mode{Single: true}
	return []tool{
		{row: rowMigrate, layout: layoutMig, up: migratetool.Up, down: migratetool.Down,
			open: opener(migratetool.Open), cold: []coldRun{coldProg(rowMigrate, "migrate")}},
		{row: rowGoose, layout: layoutGoose, up: goosetool.Up, down: goosetool.Down,
			open: opener(goosetool.Open), cold: []coldRun{coldProg(rowGoose, "goose")}},
		{row: rowTern, layout: layoutTern, up: terntool.Up, down: terntool.Down,
			open: opener(terntool.Open), cold: []coldRun{coldProg(rowTern, "tern")}},
		{row: rowWaymark, layout: layoutWM, up: waymarktool.Mode{}.Up, down: waymarktool.Mode{}.Down,
			open: opener(waymarktool.Mode{}.Open), cold: []coldRun{
				coldProg(rowWaymark, "waymark"),
				coldProg(rowEmbed, "waymarkembed"),
			}},
		{row: rowSingle, layout: layoutWM, up: single.Up, down: single.Down,
			open: opener(single.Open), cold: []coldRun{coldProg(rowSingle, "waymark")}},
		{row: rowFloor, layout: layoutFloor, up: floor.Up, down: floor.Down,
			open: opener(floor.Open), cold: []coldRun{{row: rowFloor, argv: func(bin, conn, _ string) []string {
				return []string{filepath.Join(bin, "floor"), "-conn", conn, "-latest", strconv.Itoa(latest)}
			}}}},
		{row: rowPsql, layout: layoutPsql,
			up:   func(ctx context.Context, conn, dir string) error { return psqltool.Up(ctx, psql, conn, dir) },
			down: func(ctx context.Context, conn, dir string) error { return psqltool.Down(ctx, psql, conn, dir) }},
	}
}

// writeLayouts writes W1's and W4's files in every layout under dir:
// dir/<layout>/w1 and dir/<layout>/w4.
func writeLayouts(dir string, w1, w4 []workload.Migration) error {
	for name, layout := range layouts {
		for sub, ms := range map[string][]workload.Migration{"w1": w1, "w4": w4} {
			if err := workload.Write(filepath.Join(dir, name, sub), layout(ms)); err != nil {
				return fmt.Errorf("write %s %s: %w", name, sub, err)
			}
		}
	}
	return nil
}
