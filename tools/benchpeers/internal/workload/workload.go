// Package workload makes the migration sets of the peers benchmark and
// writes them out in each tool's file layout.
//
// A set is a list of [Migration]s numbered 1..n with no gaps (tern
// requires that). [Tables] is W1 (and, downwards, W2down): migration v
// creates table t<v>, its down script drops it. [Inserts] is W4: migration
// 1 creates table w4 and every migration inserts rows into it as one
// multi-row INSERT of literal values; the down scripts delete them again.
package workload

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Migration is one migration, independent of any tool's file format.
type Migration struct {
	Version  int
	Name     string
	Up, Down string // each ends with a newline
}

// Tables returns n migrations, the v-th creating table t<v> (W1).
func Tables(n int) []Migration {
	ms := make([]Migration, n)
	for i := range ms {
		v := i + 1
		ms[i] = Migration{
			Version: v,
			Name:    fmt.Sprintf("t%d", v),
			Up:      fmt.Sprintf("CREATE TABLE t%d (id int);\n", v),
			Down:    fmt.Sprintf("DROP TABLE t%d;\n", v),
		}
	}
	return ms
}

// W4Table is the table that the [Inserts] set fills.
const W4Table = "w4"

// Inserts returns n migrations inserting rows rows each into table w4 (W4).
// Migration 1 creates the table first.
func Inserts(n, rows int) []Migration {
	ms := make([]Migration, n)
	for i := range ms {
		v := i + 1
		var b strings.Builder
		if v == 1 {
			fmt.Fprintf(&b, "CREATE TABLE %s (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2) NOT NULL);\n", W4Table)
		}
		fmt.Fprintf(&b, "INSERT INTO %s (id, name, amount) VALUES\n", W4Table)
		first := i*rows + 1
		for id := first; id < first+rows; id++ {
			sep := ",\n"
			if id == first+rows-1 {
				sep = ";\n"
			}
			fmt.Fprintf(&b, "(%d, 'row %d', %d.%02d)%s", id, id, id%100000, id%100, sep)
		}
		down := fmt.Sprintf("DELETE FROM %s WHERE id BETWEEN %d AND %d;\n", W4Table, first, first+rows-1)
		if v == 1 {
			down = fmt.Sprintf("DROP TABLE %s;\n", W4Table)
		}
		ms[i] = Migration{Version: v, Name: fmt.Sprintf("insert%d", v), Up: b.String(), Down: down}
	}
	return ms
}

// File is a file to write: a name inside the layout's directory and its
// contents.
type File struct {
	Name, Data string
}

// UpDown returns the layout of tools that keep each script in a file of
// its own: <base>.up.sql and <base>.down.sql, base naming the migration.
func UpDown(ms []Migration, base func(Migration) string) []File {
	files := make([]File, 0, 2*len(ms))
	for _, m := range ms {
		b := base(m)
		files = append(files, File{Name: b + ".up.sql", Data: m.Up}, File{Name: b + ".down.sql", Data: m.Down})
	}
	return files
}

// Write creates dir and writes files into it.
func Write(dir string, files []File) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), []byte(f.Data), 0o644); err != nil {
			return err
		}
	}
	return nil
}
