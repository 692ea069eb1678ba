package main

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/internal/pgfetch"
)

func TestLinking(t *testing.T) {
	const goList = `{"ImportPath": "m/a", "Deps": ["fmt", "m/internal/pgcluster"]}
{"ImportPath": "m/a.test", "Deps": ["fmt", "m/a", "m/internal/pgcluster"]}
{"ImportPath": "m/b.test", "Deps": ["fmt", "m/b"]}
{"ImportPath": "m/internal/pgcluster.test", "Deps": ["m/internal/pgcluster [m/internal/pgcluster.test]"]}
{"ImportPath": "m/internal/pgclusterx.test", "Deps": ["m/internal/pgclusterx"]}
{"ImportPath": "m/c [m/c.test]", "Deps": ["m/internal/pgcluster"]}
`
	got, err := linking([]byte(goList), "m/internal/pgcluster")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"m/a", "m/internal/pgcluster"}, got); diff != "" {
		t.Errorf("linking (-want +got):\n%s", diff)
	}
	if _, err := linking([]byte(`{"ImportPath": `), "x"); err == nil {
		t.Error("linking of broken JSON: no error")
	}
}

// TestClusterPackages checks the discovery on this module: the packages
// known to start clusters are among those found, and a package that
// cannot start one is not.
func TestClusterPackages(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go command to list the packages with: %v", err)
	}
	got, err := clusterPackages(t.Context(), "go")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"backend/pgxbackend", "execute", "internal/pgcluster", "internal/pgtest"} {
		if !slices.Contains(got, module+"/"+want) {
			t.Errorf("clusterPackages = %q; want it to hold %s", got, want)
		}
	}
	for _, not := range []string{"plan", "source", "internal/sqlsplit", "tools/demo", "tools/matrix"} {
		if slices.Contains(got, module+"/"+not) {
			t.Errorf("clusterPackages = %q; want it without %s", got, not)
		}
	}
}

func TestSummarize(t *testing.T) {
	const q = "m/q"
	events := []string{
		`{"Action":"start","Package":"m/p"}`,
		`{"Action":"run","Package":"m/p","Test":"TestServerVersion"}`,
		`{"Action":"output","Package":"m/p","Test":"TestServerVersion","Output":"=== RUN   TestServerVersion\n"}`,
		`{"Action":"output","Package":"m/p","Test":"TestServerVersion","Output":"    pgtest_test.go:1: server version(): PostgreSQL 16.14 on x86_64-pc-linux-gnu, 64-bit\n"}`,
		`{"Action":"pass","Package":"m/p","Test":"TestServerVersion"}`,
		`{"Action":"output","Package":"m/p","Test":"TestOld","Output":"=== RUN   TestOld\n"}`,
		`{"Action":"output","Package":"m/p","Test":"TestOld","Output":"    x_test.go:9: pg_stat_io is new in 16\n"}`,
		`{"Action":"output","Package":"m/p","Test":"TestOld","Output":"--- SKIP: TestOld (0.00s)\n"}`,
		`{"Action":"skip","Package":"m/p","Test":"TestOld"}`,
		`{"Action":"pass","Package":"m/p","Test":"TestT/sub"}`,
		`{"Action":"pass","Package":"m/p","Test":"TestT"}`,
		`{"Action":"pass","Package":"m/p"}`,
		`{"Action":"output","Package":"m/q","Test":"TestBad","Output":"    q_test.go:3: boom\n"}`,
		`{"Action":"fail","Package":"m/q","Test":"TestBad"}`,
		`{"Action":"output","Package":"m/q","Output":"FAIL\n"}`,
		`{"Action":"fail","Package":"m/q"}`,
		`{"Action":"output","Package":"m/r","Output":"panic: oops\n"}`,
		`{"Action":"fail","Package":"m/r"}`,
		`{"Action":"skip","Package":"m/s"}`,
		`{"ImportPath":"m/t.test","Action":"build-output","Output":"t_test.go:1:1: syntax error\n"}`,
		`{"ImportPath":"m/t.test","Action":"build-fail"}`,
		`not json`,
	}
	res := summarize(strings.NewReader(strings.Join(events, "\n") + "\n"))
	want := &result{
		version:  "PostgreSQL 16.14 on x86_64-pc-linux-gnu, 64-bit",
		tests:    4,
		skipped:  []string{"TestOld: x_test.go:9: pg_stat_io is new in 16"},
		failed:   []string{"--- FAIL " + q + " TestBad\n    q_test.go:3: boom\n", "--- FAIL m/r\npanic: oops\n"},
		output:   []string{"t_test.go:1:1: syntax error", "not json"},
		problems: []string{"build failed: m/t.test"},
	}
	if diff := cmp.Diff(want, res, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("summarize (-want +got):\n%s", diff)
	}

	var buf bytes.Buffer
	res.elapsed = 41*time.Second + 400*time.Millisecond
	res.print(&buf, pgfetch.Pinned()[2])
	got := buf.String()
	for _, line := range []string{
		"PostgreSQL 16: FAIL  (PostgreSQL 16.14 on x86_64-pc-linux-gnu, 64-bit)  41s, 4 tests, 1 skipped\n",
		"    skipped TestOld: x_test.go:9: pg_stat_io is new in 16\n",
		"    --- FAIL m/q TestBad\n        q_test.go:3: boom\n",
		"    build failed: m/t.test\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("print wrote\n%s\nwant it to contain\n%s", got, line)
		}
	}

	pass := &result{version: "PostgreSQL 18.4 on x", tests: 2, elapsed: 3 * time.Second}
	buf.Reset()
	pass.print(&buf, pgfetch.Pinned()[4])
	if want := "PostgreSQL 18: PASS  (PostgreSQL 18.4 on x)  3s, 2 tests\n"; buf.String() != want {
		t.Errorf("print wrote %q; want %q", buf.String(), want)
	}
}
