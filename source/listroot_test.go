package source

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestListRootRefusesAnotherDirectory lists a directory by its path only
// while the path still names the directory the root was opened on: once
// another directory stands at that path, the listing is refused rather
// than names taken from one directory and contents from another.
func TestListRootRefusesAnotherDirectory(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "migrations")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "v1_a.up.sql"), []byte("SELECT 1;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if got, err := listRoot(root, dir); err != nil || len(got) != 1 || got[0].Name() != "v1_a.up.sql" {
		t.Fatalf("listRoot = %v, %v; want v1_a.up.sql", got, err)
	}
	// Another directory takes the path.
	if err := os.Rename(dir, filepath.Join(base, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := listRoot(root, dir); !errors.Is(err, errDirChanged) {
		t.Errorf("listRoot after the swap = %v, %v; want errDirChanged", got, err)
	}
}
