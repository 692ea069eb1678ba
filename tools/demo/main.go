// Command demo shows waymark at work on a throwaway PostgreSQL: it prints
// the dry-run plan for testdata/sample, applies it with logging, shows the
// history table, runs again (nothing to do), migrates down to 0 and stops
// the server. Run it with `make demo` from the repository's root.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

func main() {
	dir := flag.String("dir", "testdata/sample", "directory of migration files")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	set, err := source.FromDir(dir)
	if err != nil {
		return err
	}
	section("Starting a throwaway PostgreSQL")
	cluster, err := pgcluster.Start(ctx, &pgcluster.Options{Logf: func(format string, args ...any) {
		fmt.Printf("  "+format+"\n", args...)
	}})
	if err != nil {
		return err
	}
	defer func() {
		section("Stopping PostgreSQL")
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stop:", err)
		}
	}()
	pool, err := pgxpool.New(ctx, cluster.ConnString("postgres"))
	if err != nil {
		return err
	}
	defer pool.Close()

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output short
			}
			return a
		},
	}))
	db := pgxbackend.New(pool, nil)
	opts := &execute.Options{Logger: logger}

	section(fmt.Sprintf("Dry run: %d migrations in %s, against an empty database", set.Len(), dir))
	p, err := plan.Build(ctx, db, set, plan.Latest(), nil)
	if err != nil {
		return err
	}
	fmt.Print(p)

	section("Applying the plan")
	res, err := execute.Run(ctx, db, p, opts)
	if err != nil {
		return err
	}
	summary(res)
	if err := show(ctx, pool); err != nil {
		return err
	}

	section("Migrating again: nothing to do, one read, no wait for the lock")
	res, err = execute.Migrate(ctx, db, set, plan.Latest(), opts)
	if err != nil {
		return err
	}
	fmt.Print(res.Plan)

	section("Going down must be asked for")
	if _, err := plan.Build(ctx, db, set, plan.To(0), nil); err != nil {
		fmt.Println(err)
	}
	p, err = plan.Build(ctx, db, set, plan.DownTo(0), nil)
	if err != nil {
		return err
	}
	fmt.Print(p)

	section("Migrating down to 0")
	res, err = execute.Run(ctx, db, p, opts)
	if err != nil {
		return err
	}
	summary(res)
	return show(ctx, pool)
}

func section(title string) {
	fmt.Printf("\n== %s\n", title)
}

func summary(res *execute.Result) {
	for _, s := range res.Steps {
		fmt.Printf("  %-4s %d %-20s %v\n", s.Direction, s.Version, s.Name, s.Duration.Round(10*time.Microsecond))
	}
}

// show prints the history table and the user tables.
func show(ctx context.Context, pool *pgxpool.Pool) error {
	fmt.Println("\nwaymark_history:")
	rows, _ := pool.Query(ctx, `SELECT version, name, left(checksum, 12), coalesce(dirty, '-'), execution_time::text FROM waymark_history ORDER BY version`)
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var (
			v                   int64
			name, sum, dirty, d string
		)
		err := r.Scan(&v, &name, &sum, &dirty, &d)
		return fmt.Sprintf("  %-3d %-20s %s...  dirty=%s  took %s", v, name, sum, dirty, d), err
	})
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		lines = []string{"  (empty)"}
	}
	fmt.Println(strings.Join(lines, "\n"))

	rows, _ = pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	fmt.Printf("tables: %s\n", strings.Join(tables, ", "))
	return nil
}
