package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// goAPI matches what reads as Go API rather than as a flag or command:
// a package's exported name (execute.Resolve, plan.DownTo), a field of an
// options struct (Options.IgnoreDrift), a composite literal (Options{).
var goAPI = regexp.MustCompile(`\b[a-z][a-z0-9]*\.[A-Z]\w*|\b[A-Z]\w*Options\b|\bOptions(?:\.[A-Z]\w*|\{)`)

// notForTheCommand are messages with Go API that the command can never
// print, each with the reason.
var notForTheCommand = map[string]string{
	"New needs a *pgxpool.Pool or a *pgx.Conn": "the command always passes a pool",
	"Options.Lock":       "the command has no lock option: it uses the default",
	"Options.LeaseTTL":   "the command has no lease option",
	"Options.SearchPath": "fleet -schemas sets it from schema names the server listed",
	"Options.OnError is %d; want Stop or Continue":                                               "fleet -continue sets it to a valid value",
	"apply is not enabled on this endpoint (admin.Config.AllowApply)":                            "the admin endpoint's, which the command does not serve",
	"the backend cannot run a waymark:batch statement (its Session is not a backend.RowCounter)": "the command's backend, pgxbackend, counts rows",
}

// testMachinery are the directories of code that the command never runs:
// the test kits' servers and the programs that make runs.
var testMachinery = map[string]bool{"pgtest": true, "pgcluster": true, "pgfetch": true, "testsets": true,
	"adopttest": true, "tools": true, "waymarktest": true, "backendtest": true, "hazardtest": true, "plantest": true}

// formatVerb matches the verbs of a format string, to fill them in.
var formatVerb = regexp.MustCompile(`%(?:\[\d+\])?[-+# 0]*\d*(?:\.\d+)?[dsvqx]`)

// TestHintsNameFlags lists every message in the module's code that names
// Go API, which the library's errors, hints and logs do for a program
// calling it, and checks that the command prints each in its own words:
// the flag or command that does the same. A new message that names Go API
// fails here until wordings (or notForTheCommand, with a reason) knows it.
func TestHintsNameFlags(t *testing.T) {
	root := filepath.Join("..")
	env := &Env{cfg: Config{Name: "waymark"}}
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "bench", ".git":
				return filepath.SkipDir
			}
			if testMachinery[d.Name()] {
				return filepath.SkipDir // never part of the command's output
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "test"+string(filepath.Separator)) {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !goAPI.MatchString(s) || isSQL(s) {
				return true
			}
			if _, ok := notForTheCommand[s]; ok {
				return true
			}
			found++
			filled := formatVerb.ReplaceAllStringFunc(s, func(v string) string {
				if strings.HasSuffix(v, "d") {
					return "7"
				}
				return "x"
			})
			// The message as the command prints it: in an error that
			// names the version, as the library's do.
			msg := "plan: version 7 (migrations/v7_x.up.sql): kind: " + filled
			if got := env.say(msg); goAPI.MatchString(got) {
				t.Errorf("%s: the command prints Go API %q:\n  %s\nwant a flag or command (add a wording), or a reason in notForTheCommand",
					fset.Position(lit.Pos()), goAPI.FindString(got), got)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The library names its API in at least the messages of the issue
	// (execute.Resolve, Options.IgnoreDrift, plan.DownTo): a scan that
	// finds none scans nothing.
	t.Logf("%d messages name Go API", found)
	if found < 10 {
		t.Fatalf("found %d messages naming Go API; the scan is broken", found)
	}
}

// isSQL reports whether a literal is SQL the code runs, not a message.
func isSQL(s string) bool {
	for _, kw := range []string{"SELECT ", "FROM ", "CREATE ", "ALTER ", "INSERT ", "UPDATE ", "DELETE ", "pg_catalog."} {
		if strings.Contains(s, kw) {
			return true
		}
	}
	return false
}

func TestSay(t *testing.T) {
	env := &Env{cfg: Config{Name: "myservice migrate"}}
	tests := []struct{ in, want string }{
		{"plan: target 1: needs steps in the other direction: the database has applied 2 and 3 above it; going down must be asked for with plan.DownTo(1)",
			"plan: target 1: needs steps in the other direction: the database has applied 2 and 3 above it; going down must be asked for with -down-to 1"},
		{"restore the file, or plan with Options.IgnoreDrift", "restore the file, or plan with -ignore-drift"},
		{"apply it with Options.AllowOutOfOrder, or renumber it above 4", "apply it with -allow-out-of-order, or renumber it above 4"},
		{"the database is at 2 and plan.DownTo only goes down; go up with plan.To(3)", "the database is at 2 and -down-to only goes down; go up with -to 3"},
		{"m/v2.up.sql:2:1: boom; statement 1 of 2 failed, so version 2 is left dirty: repair the database, then call execute.Resolve",
			"m/v2.up.sql:2:1: boom; statement 1 of 2 failed, so version 2 is left dirty: repair the database, then record what it holds with 'myservice migrate resolve 2 applied' or 'myservice migrate resolve 2 not-applied'"},
		{"plan: version 3 (m/v3.up.sql): dirty version: its no-transaction up script did not finish; if it failed (rather than still running elsewhere), repair the database by hand, then record the outcome with execute.Resolve",
			"plan: version 3 (m/v3.up.sql): dirty version: its no-transaction up script did not finish; if it failed (rather than still running elsewhere), repair the database by hand, then record the outcome with 'myservice migrate resolve 3 applied' or 'myservice migrate resolve 3 not-applied'"},
		{"no table: it does not exist: name the table the tool used (Options.Table and Schema)", "no table: it does not exist: name the table the tool used (-from-table and -from-schema)"},
		{`pgxbackend: Options.Table "a.b": bad`, `pgxbackend: -table "a.b": bad`},
		{"nothing to translate here", "nothing to translate here"},
	}
	for _, tt := range tests {
		if got := env.say(tt.in); got != tt.want {
			t.Errorf("say(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// TestIrreversibleOnOneLine: a plan down through many versions without a
// down script is refused in one line that lists them.
func TestIrreversibleOnOneLine(t *testing.T) {
	fsys := fstest.MapFS{}
	for v := 1; v <= 39; v++ {
		fsys["v"+strconv.Itoa(v)+"_t.up.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;\n")}
	}
	fsys["v40_t.up.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;\n")}
	fsys["v40_t.down.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;\n")}
	set, err := source.FromFS(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var st plan.State
	for _, m := range set.Migrations() {
		st.Records = append(st.Records, backend.Record{Version: m.Version, Name: m.Name, Checksum: m.Up.Checksum})
	}
	_, err = plan.Compute(set, st, plan.DownTo(0), nil)
	env := &Env{cfg: Config{Name: "waymark"}}
	got := env.message(err)
	want := "plan: versions 1-39: irreversible version: none has a down script, so the database cannot go below 39"
	if got != want {
		t.Errorf("message =\n%s\nwant\n%s", got, want)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 39 {
		t.Errorf("the library's error has %d lines, want one per version (39): the command's is the short one", n)
	}
	if got := versionList([]int64{1, 2, 4, 5, 6, 9}); got != "1, 2, 4-6, 9" {
		t.Errorf("versionList = %q", got)
	}
}
