// Package migratetool drives golang-migrate (the pgx/v5 database driver
// over database/sql, migrations read with the iofs source) for the peers
// benchmark.
package migratetool

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/waymarkdb/waymark/tools/benchpeers/internal/workload"
)

// Layout returns the files of ms: <version>_<name>.up.sql and .down.sql.
func Layout(ms []workload.Migration) []workload.File {
	return workload.UpDown(ms, func(m workload.Migration) string { return fmt.Sprintf("%06d_%s", m.Version, m.Name) })
}

// Warm is an open migrate.Migrate: its database handle and its source.
type Warm struct {
	m *migrate.Migrate
}

// Open opens a database handle, the driver and the source on dir.
func Open(_ context.Context, connString, dir string) (*Warm, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	drv, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{})
	if err != nil {
		db.Close()
		return nil, err
	}
	src, err := iofs.New(os.DirFS(dir), ".")
	if err != nil {
		drv.Close()
		return nil, err
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		src.Close()
		drv.Close()
		return nil, err
	}
	return &Warm{m: m}, nil
}

// Close closes the source and the database handle.
func (w *Warm) Close() { w.m.Close() }

// Check is the no-op up: it fails unless golang-migrate finds no change.
func (w *Warm) Check(context.Context) error {
	err := w.m.Up()
	if err == nil {
		return errors.New("golang-migrate: applied migrations, want none")
	}
	if errors.Is(err, migrate.ErrNoChange) {
		return nil
	}
	return err
}

func with(ctx context.Context, connString, dir string, f func(*migrate.Migrate) error) error {
	w, err := Open(ctx, connString, dir)
	if err != nil {
		return err
	}
	defer w.Close()
	return f(w.m)
}

// Up applies every migration in dir.
func Up(ctx context.Context, connString, dir string) error {
	return with(ctx, connString, dir, func(m *migrate.Migrate) error { return m.Up() })
}

// Down reverts every migration.
func Down(ctx context.Context, connString, dir string) error {
	return with(ctx, connString, dir, func(m *migrate.Migrate) error { return m.Down() })
}

// Cold opens, checks and closes.
func Cold(ctx context.Context, connString, dir string) error {
	return with(ctx, connString, dir, func(m *migrate.Migrate) error { return (&Warm{m: m}).Check(ctx) })
}
