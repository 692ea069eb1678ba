// Package terntool drives tern (its migrate package on one pgx
// connection) for the peers benchmark.
package terntool

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	"github.com/waymarkdb/waymark/tools/benchpeers/internal/workload"
)

// VersionTable is tern's version table in the benchmark.
const VersionTable = "public.schema_version"

// Layout returns the files of ms: one <version>_<name>.sql per migration,
// the down script below tern's separator line.
func Layout(ms []workload.Migration) []workload.File {
	var files []workload.File
	for _, m := range ms {
		files = append(files, workload.File{
			Name: fmt.Sprintf("%06d_%s.sql", m.Version, m.Name),
			Data: m.Up + "---- create above / drop below ----\n" + m.Down,
		})
	}
	return files
}

// Warm is an open connection and a migrator with its migrations loaded.
type Warm struct {
	conn    *pgx.Conn
	m       *migrate.Migrator
	applied int
}

// Open connects and loads the migrations in dir.
func Open(ctx context.Context, connString, dir string) (*Warm, error) {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return nil, err
	}
	m, err := migrate.NewMigrator(ctx, conn, VersionTable)
	if err == nil {
		err = m.LoadMigrations(os.DirFS(dir))
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	w := &Warm{conn: conn, m: m}
	m.OnStart = func(int32, string, string, string) { w.applied++ }
	return w, nil
}

// Close closes the connection.
func (w *Warm) Close() { w.conn.Close(context.Background()) }

// Check is the no-op up: it fails if a migration ran.
func (w *Warm) Check(ctx context.Context) error {
	w.applied = 0
	if err := w.m.Migrate(ctx); err != nil {
		return err
	}
	if w.applied != 0 {
		return fmt.Errorf("tern: applied %d migrations, want none", w.applied)
	}
	return nil
}

func with(ctx context.Context, connString, dir string, f func(*Warm) error) error {
	w, err := Open(ctx, connString, dir)
	if err != nil {
		return err
	}
	defer w.Close()
	return f(w)
}

// Up applies every migration in dir.
func Up(ctx context.Context, connString, dir string) error {
	return with(ctx, connString, dir, func(w *Warm) error { return w.m.Migrate(ctx) })
}

// Down reverts every migration.
func Down(ctx context.Context, connString, dir string) error {
	return with(ctx, connString, dir, func(w *Warm) error { return w.m.MigrateTo(ctx, 0) })
}

// Cold opens, checks and closes.
func Cold(ctx context.Context, connString, dir string) error {
	return with(ctx, connString, dir, func(w *Warm) error { return w.Check(ctx) })
}
