// Package goosetool drives goose (a Provider with the PostgreSQL session
// locker, over database/sql with pgx's stdlib driver) for the peers
// benchmark.
package goosetool

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/waymarkdb/waymark/tools/benchpeers/internal/workload"
)

// Layout returns the files of ms: one <version>_<name>.sql per migration,
// with its -- +goose Up and -- +goose Down sections.
func Layout(ms []workload.Migration) []workload.File {
	var files []workload.File
	for _, m := range ms {
		files = append(files, workload.File{
			Name: fmt.Sprintf("%05d_%s.sql", m.Version, m.Name),
			Data: "-- +goose Up\n" + m.Up + "\n-- +goose Down\n" + m.Down,
		})
	}
	return files
}

// Warm is an open provider: its database handle and its loaded files.
type Warm struct {
	p *goose.Provider
}

// Open opens a database handle and a provider on the files in dir.
func Open(ctx context.Context, connString, dir string) (*Warm, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS(dir), goose.WithSessionLocker(locker))
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Warm{p: p}, nil
}

// Close closes the provider and its database handle.
func (w *Warm) Close() { w.p.Close() }

// Check is the no-op up: it fails if a migration was applied.
func (w *Warm) Check(ctx context.Context) error {
	res, err := w.p.Up(ctx)
	if err == nil && len(res) != 0 {
		err = fmt.Errorf("goose: applied %d migrations, want none", len(res))
	}
	return err
}

func with(ctx context.Context, connString, dir string, f func(*goose.Provider) error) error {
	w, err := Open(ctx, connString, dir)
	if err != nil {
		return err
	}
	defer w.Close()
	return f(w.p)
}

// Up applies every migration in dir.
func Up(ctx context.Context, connString, dir string) error {
	return with(ctx, connString, dir, func(p *goose.Provider) error {
		_, err := p.Up(ctx)
		return err
	})
}

// Down reverts every migration.
func Down(ctx context.Context, connString, dir string) error {
	return with(ctx, connString, dir, func(p *goose.Provider) error {
		_, err := p.DownTo(ctx, 0)
		return err
	})
}

// Cold opens, checks and closes.
func Cold(ctx context.Context, connString, dir string) error {
	return with(ctx, connString, dir, func(p *goose.Provider) error { return (&Warm{p: p}).Check(ctx) })
}
