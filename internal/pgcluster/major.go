package pgcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/waymarkdb/waymark/internal/pgfetch"
)

// FindMajorBinDir returns a directory holding initdb and postgres of
// PostgreSQL major version major (14 for 14.x), for a cluster that must
// match another server, such as the scratch cluster of a drift check. It
// looks, in this order, at WAYMARK_PG_BINDIR, the system's binaries
// (initdb on PATH, then the system locations of [FindBinDir]) and the
// cache, taking the first whose postgres reports that major version, and
// fetches the pinned release of the version into the cache when none
// does. logf, if not nil, receives a line saying what was chosen, and the
// fetch's progress. When nothing is found the error wraps [ErrNotFound].
func FindMajorBinDir(ctx context.Context, major int, logf func(format string, args ...any)) (string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var candidates []string
	if dir := os.Getenv(EnvBinDir); dir != "" {
		candidates = append(candidates, dir)
	}
	if ignore, _ := strconv.ParseBool(os.Getenv(EnvIgnoreSystem)); !ignore {
		if p, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				candidates = append(candidates, filepath.Dir(real))
			}
			candidates = append(candidates, filepath.Dir(p))
		}
		for _, l := range systemLocations {
			candidates = append(candidates, filepath.Join(l.root, l.prefix+strconv.Itoa(major), "bin"))
		}
	}
	for _, dir := range candidates {
		if !hasServer(dir) {
			continue
		}
		if v, err := ServerMajor(ctx, dir); err == nil && v == major {
			logf("pgcluster: using %s (PostgreSQL %d)", dir, major)
			return dir, nil
		}
	}
	r, err := pgfetch.Parse(strconv.Itoa(major))
	if err != nil {
		return "", fmt.Errorf("%w: PostgreSQL %d: %w", ErrNotFound, major, err)
	}
	cache, err := pgfetch.CacheDir()
	if err != nil {
		return "", fmt.Errorf("%w: PostgreSQL %d: %w", ErrNotFound, major, err)
	}
	if dir, ok := pgfetch.Cached(cache, r); ok {
		logf("pgcluster: using %s (PostgreSQL %d from the cache)", dir, major)
		return dir, nil
	}
	dir, err := pgfetch.Fetch(ctx, cache, r, logf)
	if err != nil {
		return "", fmt.Errorf("%w: PostgreSQL %d is not installed (none in %s, on PATH or in %s), and fetching %v failed: %w",
			ErrNotFound, major, EnvBinDir, (&finder{system: systemLocations}).systemPatterns(), r, err)
	}
	logf("pgcluster: using %s (PostgreSQL %d, fetched)", dir, major)
	return dir, nil
}

var versionOutput = regexp.MustCompile(`\(PostgreSQL\) ([0-9]+)`)

// ServerMajor returns the major version of the postgres program in binDir,
// as its --version reports it.
func ServerMajor(ctx context.Context, binDir string) (int, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("pgcluster: %s --version: %w", filepath.Join(binDir, "postgres"), err)
	}
	m := versionOutput.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgcluster: %s --version: unexpected output %q", filepath.Join(binDir, "postgres"), strings.TrimSpace(string(out)))
	}
	return strconv.Atoi(string(m[1]))
}
