// Package testsets gives tests the migration sets they share. The sets
// live in one place, the repository's testdata directory, one folder per
// set (see testdata/README.md); tests in any package load them by name
// with [Load], and build small ad-hoc sets with [Map].
package testsets

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/waymarkdb/waymark/source"
)

// Dir returns the repository's testdata directory, found by walking up from
// the working directory (a package's directory, under go test) to go.mod.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testsets: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testsets: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Load loads the set testdata/<name>, or fails the test. Its script paths
// are "<name>/<file>", the same from every package.
func Load(t testing.TB, name string) *source.Set {
	t.Helper()
	set, err := source.FromFS(os.DirFS(Dir(t)), name)
	if err != nil {
		t.Fatalf("testsets: load %s: %v", name, err)
	}
	return set
}

// Map builds a set from file name → SQL, in a directory named "m", or
// fails the test. Script paths are "m/<file>".
func Map(t testing.TB, files map[string]string) *source.Set {
	t.Helper()
	set, err := source.FromFS(MapFS("m", files), "m")
	if err != nil {
		t.Fatalf("testsets: %v", err)
	}
	return set
}

// MapFS puts file name → content into a MapFS under dir.
func MapFS(dir string, files map[string]string) fstest.MapFS {
	fsys := make(fstest.MapFS, len(files))
	for name, content := range files {
		fsys[dir+"/"+name] = &fstest.MapFile{Data: []byte(content)}
	}
	return fsys
}
