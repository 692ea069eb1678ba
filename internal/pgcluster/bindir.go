package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNotFound is returned, wrapped, by [FindBinDir] and [Start] when no
// PostgreSQL server binaries are installed. Use errors.Is to test for it.
var ErrNotFound = errors.New("pgcluster: PostgreSQL server binaries (initdb, postgres) not found")

// debianRoot is where Debian and Ubuntu install each major version of the
// server, as <debianRoot>/<version>/bin, without putting it on PATH.
const debianRoot = "/usr/lib/postgresql"

// FindBinDir returns the directory holding the PostgreSQL server programs
// initdb and postgres: the directory of initdb found on PATH when postgres
// is beside it, else the newest version's bin directory under
// /usr/lib/postgresql (versions compare as numbers: 9.6 < 10 < 15 < 18).
// When neither has them the error wraps [ErrNotFound].
func FindBinDir() (string, error) {
	return findBinDir(exec.LookPath, debianRoot)
}

func findBinDir(lookPath func(string) (string, error), root string) (string, error) {
	if p, err := lookPath("initdb"); err == nil {
		// Prefer the real directory over a symlink farm such as
		// /usr/local/bin, but accept either.
		var dirs []string
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		for _, dir := range append(dirs, filepath.Dir(p)) {
			if hasServer(dir) {
				return dir, nil
			}
		}
	}
	if dir := newestBinDir(root); dir != "" {
		return dir, nil
	}
	return "", fmt.Errorf("%w on PATH or in %s/*/bin; install them with apt-get install -y postgresql "+
		"(Debian, Ubuntu), or set WAYMARK_TEST_DATABASE_URL to use a running server", ErrNotFound, root)
}

// newestBinDir returns the bin directory of the highest version under root
// that holds both programs, or "" if there is none.
func newestBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	type candidate struct {
		version []int
		dir     string
	}
	var found []candidate
	for _, e := range entries {
		v, ok := parseVersion(e.Name())
		dir := filepath.Join(root, e.Name(), "bin")
		if ok && hasServer(dir) {
			found = append(found, candidate{v, dir})
		}
	}
	if len(found) == 0 {
		return ""
	}
	best := slices.MaxFunc(found, func(a, b candidate) int { return slices.Compare(a.version, b.version) })
	return best.dir
}

// parseVersion parses a directory name such as "15" or "9.6".
func parseVersion(name string) ([]int, bool) {
	var v []int
	for part := range strings.SplitSeq(name, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// hasServer reports whether dir holds executable initdb and postgres.
func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}
