package source_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/waymarkdb/waymark/source"
)

// FuzzFromFS loads sets of three files with arbitrary names and contents:
// it must never panic, every problem must name one of the files or the
// directory, and a set it accepts must be sorted and hold the files'
// scripts.
func FuzzFromFS(f *testing.F) {
	f.Add("v1_a.up.sql", "CREATE TABLE a (id int);", "v1_a.down.sql", "DROP TABLE a;", "v2.up.sql", "-- waymark:no-transaction\nVACUUM;")
	f.Add("v1.up.sql", "SELECT 'x", "V2.up.sql", "", "v02.up.sql", "BEGIN;")
	f.Add("v9223372036854775807.up.sql", "SELECT $$;$$", "v0.up.sql", "\xff", "v3.down.sql", "-- waymark:allow x \"y\"\nSELECT 1;")
	f.Add("a/b.sql", "x", ".hidden.sql", "y", "v1.up.sql", "\uFEFFSELECT 1;")
	f.Fuzz(func(t *testing.T, n1, c1, n2, c2, n3, c3 string) {
		fsys := fstest.MapFS{}
		names := map[string]bool{}
		for _, file := range [][2]string{{n1, c1}, {n2, c2}, {n3, c3}} {
			name := "m/" + file[0]
			if strings.ContainsAny(file[0], "/\x00") || file[0] == "" || file[0] == "." || file[0] == ".." {
				continue // not a file of the directory
			}
			fsys[name] = &fstest.MapFile{Data: []byte(file[1])}
			names[name] = true
		}
		set, err := source.FromFS(fsys, "m")
		if err != nil {
			var list source.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if !names[e.Pos.Path] && e.Pos.Path != "m" {
					t.Fatalf("problem %q names %q, not one of the files %v", e, e.Pos.Path, names)
				}
				if !strings.HasPrefix(e.Error(), e.Pos.Path) {
					t.Fatalf("problem %q does not start with its path", e)
				}
			}
			return
		}
		ms := set.Migrations()
		if len(ms) == 0 {
			t.Fatal("an empty set without an error")
		}
		for i, m := range ms {
			if i > 0 && ms[i-1].Version >= m.Version {
				t.Fatalf("versions out of order: %d then %d", ms[i-1].Version, m.Version)
			}
			if !names[m.Up.Path] || m.Up.Checksum != source.ChecksumOf(m.Up.SQL) || len(m.Up.Statements) == 0 {
				t.Fatalf("version %d: up script %+v", m.Version, m.Up)
			}
		}
	})
}
