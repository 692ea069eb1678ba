package cli_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/cli"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// run runs Main in-process and returns its exit code and output.
func run(t *testing.T, cfg *cli.Config, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := cli.Config{}
	if cfg != nil {
		c = *cfg
	}
	c.Stdout, c.Stderr = &out, &errOut
	if c.Getenv == nil {
		c.Getenv = func(string) string { return "" }
	}
	code = cli.Main(context.Background(), args, &c)
	return code, out.String(), errOut.String()
}

func TestOutcomeCodes(t *testing.T) {
	tests := []struct {
		out            cli.Outcome
		plain, details int
	}{
		{cli.Done, 0, 0},
		{cli.NothingToDo, 0, 0},
		{cli.Changed, 0, 4},
		{cli.Refused, 3, 3},
		{cli.Failed, 1, 1},
		{cli.Usage, 2, 2},
	}
	for _, tt := range tests {
		if got := tt.out.Code(false); got != tt.plain {
			t.Errorf("%v.Code(false) = %d, want %d", tt.out, got, tt.plain)
		}
		if got := tt.out.Code(true); got != tt.details {
			t.Errorf("%v.Code(true) = %d, want %d", tt.out, got, tt.details)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want cli.Outcome
	}{
		{plan.ErrorList{{Err: plan.ErrDrift, Version: 2}}, cli.Refused},
		{&execute.StaleError{}, cli.Refused},
		{&execute.Error{Err: execute.ErrBadPlan}, cli.Refused},
		{fmt.Errorf("x: %w", plan.ErrSignature), cli.Refused},
		{&execute.Error{Err: execute.ErrNotDirty}, cli.Refused},
		{&execute.StepError{Err: errors.New("boom")}, cli.Failed},
		{&execute.Error{Err: execute.ErrLock, Cause: context.DeadlineExceeded}, cli.Failed},
		{&cli.UsageError{Msg: "bad"}, cli.Usage},
		{errors.New("connect: refused"), cli.Failed},
	}
	for _, tt := range tests {
		if got := cli.Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestCustomCommand adds a command, as a later one (or a service's own)
// would: its own flags, arguments in any order, its own outcome.
func TestCustomCommand(t *testing.T) {
	var got []string
	var verbose bool
	echo := &cli.Command{
		Name:    "echo",
		Args:    "WORDS...",
		Summary: "print the words",
		Setup: func(fs *flag.FlagSet, env *cli.Env) func(context.Context, []string) (cli.Outcome, error) {
			env.AddFlags(fs, cli.JSONFlag|cli.DetailedFlag)
			fs.BoolVar(&verbose, "loud", false, "shout")
			return func(_ context.Context, args []string) (cli.Outcome, error) {
				got = args
				if len(args) == 0 {
					return 0, plan.ErrorList{{Err: plan.ErrDirty, Version: 7}}
				}
				fmt.Fprintln(env.Stdout, strings.Join(args, " "), env.JSON)
				return cli.Changed, nil
			}
		},
	}
	cfg := &cli.Config{Commands: []*cli.Command{echo}}
	code, stdout, _ := run(t, cfg, "echo", "a", "-loud", "b", "-detailed-exitcode", "--", "-c")
	if code != 4 || stdout != "a b -c false\n" || !verbose {
		t.Errorf("echo = %d %q (loud %v), want 4 and the words", code, stdout, verbose)
	}
	if diff := cmp.Diff([]string{"a", "b", "-c"}, got); diff != "" {
		t.Errorf("arguments (-want +got):\n%s", diff)
	}
	code, stdout, stderr := run(t, cfg, "echo", "-json")
	if code != 3 || !strings.Contains(stderr, "waymark echo: plan: version 7") || !strings.Contains(stderr, "'waymark resolve 7 applied'") {
		t.Errorf("echo with a refusal = %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, `"outcome": "refused"`) || !strings.Contains(stdout, `"exit_code": 3`) {
		t.Errorf("-json error document:\n%s", stdout)
	}
	_, stdout, _ = run(t, cfg, "help")
	if !strings.Contains(stdout, "  echo           print the words") {
		t.Errorf("help does not list the command:\n%s", stdout)
	}
	// A command of the same name replaces a built-in one.
	status := *echo
	status.Name = "status"
	code, stdout, _ = run(t, &cli.Config{Commands: []*cli.Command{&status}}, "status", "x")
	if code != 0 || stdout != "x false\n" {
		t.Errorf("replaced status = %d %q", code, stdout)
	}
}

// TestEmbeddedSet: with a set compiled in, commands offer no -dir, so the
// tool always carries exactly the binary's migrations.
func TestEmbeddedSet(t *testing.T) {
	set := testsets.Load(t, "sample")
	cfg := &cli.Config{Name: "svc migrate", Set: set}
	code, _, stderr := run(t, cfg, "status", "-dir", "elsewhere")
	if code != 2 || !strings.Contains(stderr, "-dir") {
		t.Errorf("status -dir with an embedded set = %d:\n%s", code, stderr)
	}
	url := pgtest.ConnString(t)
	cfg.Getenv = func(k string) string {
		if k == cli.EnvDatabaseURL {
			return url
		}
		return ""
	}
	code, stdout, stderr := run(t, cfg, "apply", "-to", "1")
	if code != 0 || !strings.Contains(stdout, "applied: up 1 create_users") {
		t.Errorf("apply = %d:\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, cfg, "status")
	if code != 0 || !strings.Contains(stdout, "sample/v002_add_email.up.sql") || !strings.Contains(stdout, "1 applied, 3 pending") {
		t.Errorf("status = %d:\n%s", code, stdout)
	}
	_, _, stderr = run(t, &cli.Config{Name: "svc migrate", Set: set, Getenv: func(string) string { return "" }}, "status")
	if !strings.Contains(stderr, "svc migrate status: no database") {
		t.Errorf("messages do not use the program's name:\n%s", stderr)
	}
}

func TestNewNumbering(t *testing.T) {
	tests := []struct {
		name     string
		existing []string
		want     string
	}{
		{"empty directory", nil, "v001_x"},
		{"padded", []string{"v001_a.up.sql", "v003_c.up.sql", "v003_c.down.sql", "README.md"}, "v004_x"},
		{"unpadded", []string{"v1_a.up.sql", "v9_b.up.sql"}, "v10_x"},
		{"sorted by number, not text", []string{"v10_a.up.sql", "v9_b.up.sql"}, "v11_x"},
		{"gaps", []string{"v1_a.up.sql", "v20230101120000_b.up.sql"}, ""}, // a timestamp: now
		{"bad names are left to the loader", []string{"v2_a.up.sql", "V7.up.sql", "v8.sql"}, "v3_x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tt.existing {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("SELECT 1;\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, stdout, stderr := run(t, nil, "new", "-dir", dir, "x")
			if code != 0 {
				t.Fatalf("new = %d: %s", code, stderr)
			}
			want := tt.want
			if want == "" {
				// yyyymmddhhmmss of now, and above the latest.
				line := strings.TrimPrefix(strings.SplitN(stdout, "\n", 2)[0], "created "+dir+"/")
				if len(line) != len("v20230101120000_x.up.sql") || line <= "v20230101120000_x.up.sql" {
					t.Errorf("timestamp version: %s", stdout)
				}
				return
			}
			wantOut := fmt.Sprintf("created %s\ncreated %s\n", filepath.Join(dir, want+".up.sql"), filepath.Join(dir, want+".down.sql"))
			if stdout != wantOut {
				t.Errorf("new printed %q, want %q", stdout, wantOut)
			}
		})
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "v001_x.down.sql"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// v001_x.down.sql without an up: the next number is 2, no clash.
	if code, _, stderr := run(t, nil, "new", "-dir", dir, "x"); code != 0 {
		t.Errorf("new = %d: %s", code, stderr)
	}
	if code, _, stderr := run(t, nil, "new", "-dir", dir, "bad.name"); code != 2 || !strings.Contains(stderr, `NAME "bad.name"`) {
		t.Errorf("new with a bad name = %d: %s", code, stderr)
	}
}
