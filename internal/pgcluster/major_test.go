package pgcluster

import (
	"errors"
	"testing"
)

// TestFindMajorBinDir asks for the major version of the binaries
// FindBinDir chooses, and requires binaries that report it.
func TestFindMajorBinDir(t *testing.T) {
	dir, err := FindBinDir(t.Context(), t.Logf)
	if err != nil {
		t.Skipf("no PostgreSQL binaries to ask for the version of: %v", err)
	}
	major, err := ServerMajor(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if major < 14 {
		t.Fatalf("ServerMajor(%s) = %d, want 14 or newer", dir, major)
	}
	got, err := FindMajorBinDir(t.Context(), major, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := ServerMajor(t.Context(), got); err != nil || m != major {
		t.Errorf("FindMajorBinDir(%d) = %s, which is PostgreSQL %d (%v)", major, got, m, err)
	}
}

func TestFindMajorBinDirUnknownMajor(t *testing.T) {
	t.Setenv(EnvBinDir, "")
	t.Setenv(EnvIgnoreSystem, "1")
	_, err := FindMajorBinDir(t.Context(), 9, nil)
	if err == nil {
		t.Fatal("FindMajorBinDir(9) found binaries; want ErrNotFound")
	}
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("err = %v, want it to wrap ErrNotFound", err)
	}
}
