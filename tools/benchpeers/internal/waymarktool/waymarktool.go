// Package waymarktool drives waymark (execute.Migrate with the pgx
// backend) for the peers benchmark, in its default mode (one transaction
// per step) or with execute.Options.SingleTransaction.
package waymarktool

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/tools/benchpeers/internal/workload"
)

// Layout returns the files of ms: v<version>_<name>.up.sql and .down.sql.
func Layout(ms []workload.Migration) []workload.File {
	return workload.UpDown(ms, func(m workload.Migration) string { return fmt.Sprintf("v%06d_%s", m.Version, m.Name) })
}

// Mode chooses execute.Options.
type Mode struct {
	// Single runs the plan as one transaction.
	Single bool
}

func (m Mode) options() *execute.Options {
	return &execute.Options{SingleTransaction: m.Single}
}

// migrate takes db to target and checks that steps steps took effect
// (any number when steps < 0).
func (m Mode) migrate(ctx context.Context, db *pgxbackend.Backend, set *source.Set, target plan.Target, steps int) error {
	res, err := execute.Migrate(ctx, db, set, target, m.options())
	if err != nil {
		return err
	}
	if steps >= 0 && len(res.Steps) != steps {
		return fmt.Errorf("waymark: %d steps took effect, want %d", len(res.Steps), steps)
	}
	return nil
}

func (m Mode) withPool(ctx context.Context, connString, dir string, f func(*pgxbackend.Backend, *source.Set) error) error {
	set, err := source.FromDir(dir)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return err
	}
	defer pool.Close()
	return f(pgxbackend.New(pool, nil), set)
}

// Up applies every migration in dir, from a pool.
func (m Mode) Up(ctx context.Context, connString, dir string) error {
	return m.withPool(ctx, connString, dir, func(db *pgxbackend.Backend, set *source.Set) error {
		return m.migrate(ctx, db, set, plan.Latest(), -1)
	})
}

// Down reverts every migration, from a pool.
func (m Mode) Down(ctx context.Context, connString, dir string) error {
	return m.withPool(ctx, connString, dir, func(db *pgxbackend.Backend, set *source.Set) error {
		return m.migrate(ctx, db, set, plan.DownTo(0), -1)
	})
}

// Warm is an open pool and a loaded set.
type Warm struct {
	mode Mode
	pool *pgxpool.Pool
	db   *pgxbackend.Backend
	set  *source.Set
}

// Open loads the set in dir and opens a pool.
func (m Mode) Open(ctx context.Context, connString, dir string) (*Warm, error) {
	set, err := source.FromDir(dir)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return nil, err
	}
	return &Warm{mode: m, pool: pool, db: pgxbackend.New(pool, nil), set: set}, nil
}

// Check is the no-op up: it fails if a step ran.
func (w *Warm) Check(ctx context.Context) error {
	return w.mode.migrate(ctx, w.db, w.set, plan.Latest(), 0)
}

// Close closes the pool.
func (w *Warm) Close() { w.pool.Close() }

// Cold is a process's no-op up: load the set (source.FromDir or
// source.FromFS), connect (one connection, no pool), check, close.
func (m Mode) Cold(ctx context.Context, connString string, load func() (*source.Set, error)) error {
	set, err := load()
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return m.migrate(ctx, pgxbackend.New(conn, nil), set, plan.Latest(), 0)
}
