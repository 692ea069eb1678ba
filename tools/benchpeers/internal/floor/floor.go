// Package floor is the raw-pgx floor of the peers benchmark: the least a
// migration tool can do with pgx. Each migration is sent as one query,
// `BEGIN; <script>; INSERT INTO floor_history ...; COMMIT`, one round trip
// and one durable commit; there is no lock, no checksum and no check of
// the files beyond their names.
package floor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/tools/benchpeers/internal/workload"
)

// Table is the floor's history table: one row per applied version.
const Table = "floor_history"

// Layout returns the files of ms: <version>.up.sql and <version>.down.sql.
func Layout(ms []workload.Migration) []workload.File {
	return workload.UpDown(ms, func(m workload.Migration) string { return fmt.Sprintf("%06d", m.Version) })
}

// versions lists the versions in dir, ascending.
func versions(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var vs []int64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".up.sql")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("floor: %s: %w", e.Name(), err)
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs, nil
}

func script(dir string, v int64, which string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%06d.%s.sql", v, which)))
	return string(b), err
}

// current creates the history table if needed and returns the highest
// applied version: two round trips.
func current(ctx context.Context, conn *pgx.Conn) (int64, error) {
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+Table+" (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return 0, err
	}
	var v int64
	err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+Table).Scan(&v)
	return v, err
}

// Up applies the migrations in dir above the database's version.
func Up(ctx context.Context, connString, dir string) error {
	vs, err := versions(dir)
	if err != nil {
		return err
	}
	return run(ctx, connString, func(conn *pgx.Conn, cur int64) error {
		for _, v := range vs {
			if v > cur {
				if err := step(ctx, conn, dir, v, "up", "INSERT INTO %s (version) VALUES (%d)"); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// run connects, reads the database's version and calls f.
func run(ctx context.Context, connString string, f func(conn *pgx.Conn, cur int64) error) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	cur, err := current(ctx, conn)
	if err != nil {
		return err
	}
	return f(conn, cur)
}

// step runs the which script of version v with its history change (a
// format of the table and the version) as one query.
func step(ctx context.Context, conn *pgx.Conn, dir string, v int64, which, history string) error {
	sql, err := script(dir, v, which)
	if err != nil {
		return err
	}
	q := "BEGIN;\n" + sql + ";\n" + fmt.Sprintf(history, Table, v) + ";\nCOMMIT"
	if _, err := conn.PgConn().Exec(ctx, q).ReadAll(); err != nil {
		return fmt.Errorf("floor: version %d %s: %w", v, which, err)
	}
	return nil
}

// Down reverts every applied version, newest first.
func Down(ctx context.Context, connString, dir string) error {
	return run(ctx, connString, func(conn *pgx.Conn, cur int64) error {
		for v := cur; v > 0; v-- {
			if err := step(ctx, conn, dir, v, "down", "DELETE FROM %s WHERE version = %d"); err != nil {
				return err
			}
		}
		return nil
	})
}

// check is the floor's no-op: one SELECT of one small row.
func check(ctx context.Context, row pgx.Row, latest int64) error {
	var v int64
	if err := row.Scan(&v); err != nil {
		return err
	}
	if v != latest {
		return fmt.Errorf("floor: database at version %d, want %d", v, latest)
	}
	return nil
}

const checkQuery = "SELECT max(version) FROM " + Table

// Warm is an open pool and the listed versions.
type Warm struct {
	pool   *pgxpool.Pool
	latest int64
}

// Open opens a pool and lists dir.
func Open(ctx context.Context, connString, dir string) (*Warm, error) {
	vs, err := versions(dir)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("floor: no migrations in %s", dir)
	}
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return nil, err
	}
	return &Warm{pool: pool, latest: vs[len(vs)-1]}, nil
}

// Check is the no-op up: one SELECT on the open pool.
func (w *Warm) Check(ctx context.Context) error {
	return check(ctx, w.pool.QueryRow(ctx, checkQuery), w.latest)
}

// Close closes the pool.
func (w *Warm) Close() { w.pool.Close() }

// Cold is the floor's cold no-op: connect, one SELECT, close. It reads no
// file: the latest version is given.
func Cold(ctx context.Context, connString string, latest int64) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return check(ctx, conn.QueryRow(ctx, checkQuery), latest)
}
