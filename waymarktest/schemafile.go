package waymarktest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/drift"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// SchemaFileOptions configure [SchemaFile]. A nil *SchemaFileOptions
// means the defaults.
type SchemaFileOptions struct {
	// Target is the version the file describes. Default: the zero
	// Target, plan.Latest().
	Target plan.Target
	// Backend configures the history table, as the service configures
	// it. Default nil: the defaults of pgxbackend.Options.
	Backend *pgxbackend.Options
	// Command is the command that writes the file, named in the failure
	// message. Default: "waymark schema -o PATH" (with -to for a Target
	// other than the latest), for the waymark command run in the test's
	// directory with the set in -dir migrations.
	Command string
}

// SchemaFile fails the test when the file at path (relative to the
// test's directory) does not hold the schema that set makes at
// opts.Target, as the command "waymark schema" writes it: the file a
// repository commits beside its migrations so that a pull request shows
// how the schema changes. The failure shows the difference and names the
// command that updates the file. A file written on another PostgreSQL
// major version than the test server's fails too, saying so, since the
// text differs between versions.
//
//	func TestSchemaFile(t *testing.T) {
//		waymarktest.SchemaFile(t, set, "migrations/schema.txt", nil)
//	}
//
// The database it reads is made as [ConnString] makes it.
func SchemaFile(t testing.TB, set *source.Set, path string, opts *SchemaFileOptions) {
	t.Helper()
	var o SchemaFileOptions
	if opts != nil {
		o = *opts
	}
	if o.Command == "" {
		o.Command = "waymark schema -o " + path
		if p, err := plan.Compute(set, plan.State{}, o.Target, nil); err == nil && p.To != set.Latest() {
			o.Command += fmt.Sprintf(" -to %d", p.To)
		}
	}
	pool := Pool(t, set, &Options{Target: o.Target, Backend: o.Backend})
	want, err := drift.ReadSchema(t.Context(), pool, o.Backend)
	if err != nil {
		t.Fatalf("waymarktest: %v", err)
	}
	got, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Errorf("waymarktest: %s does not exist; write it with: %s", path, o.Command)
		return
	}
	if err != nil {
		t.Fatalf("waymarktest: %v", err)
	}
	if string(got) == want {
		return
	}
	if fm, sm := drift.SchemaMajor(string(got)), drift.SchemaMajor(want); fm != 0 && fm != sm {
		t.Errorf("waymarktest: %s was written on PostgreSQL %d, and the tests run on PostgreSQL %d, whose text differs; "+
			"write it on %d with: %s -major %d", path, fm, sm, sm, o.Command, sm)
		return
	}
	t.Errorf("waymarktest: %s is out of date; update it with: %s\n(-file +migrations):\n%s", path, o.Command, lineDiff(string(got), want))
}

// lineDiff lists the lines of a that b lacks ("- "), then those of b that
// a lacks ("+ "), each in its text's order, counting repeated lines.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	count := func(lines []string) map[string]int {
		m := map[string]int{}
		for _, l := range lines {
			m[l]++
		}
		return m
	}
	ac, bc := count(al), count(bl)
	var out strings.Builder
	only := func(lines []string, other map[string]int, mark string) {
		seen := map[string]int{}
		for _, l := range lines {
			seen[l]++
			if seen[l] > other[l] {
				out.WriteString(mark + l + "\n")
			}
		}
	}
	only(al, bc, "- ")
	only(bl, ac, "+ ")
	return out.String()
}
