package convert_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/source"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestGolden")

// sets are the test sets in testdata, each in a tool's layout.
var sets = []struct {
	dir  string
	tool convert.Tool
	opts *convert.Options
}{
	{"golang-migrate", convert.GolangMigrate, nil},
	{"golang-migrate-multi", convert.GolangMigrate, &convert.Options{MultiStatement: true}},
	{"goose", convert.Goose, nil},
	{"tern", convert.Tern, nil},
	{"pop", convert.Pop, nil},
	{"pop-ory", convert.Pop, nil},
	{"flyway", convert.Flyway, nil},
}

// TestGolden converts every test set and compares the files and the report
// with testdata/golden/<set>: go test -update rewrites them.
func TestGolden(t *testing.T) {
	for _, s := range sets {
		t.Run(s.dir, func(t *testing.T) {
			res, err := convert.ConvertDir(filepath.Join("testdata", s.dir), s.tool, s.opts)
			if err != nil {
				t.Fatal(err)
			}
			var report strings.Builder
			res.Report(&report, true)
			got := map[string]string{"report.txt": report.String()}
			for _, f := range res.Files() {
				got[f.Name] = f.SQL
			}
			golden := filepath.Join("testdata", "golden", s.dir)
			if *update {
				os.RemoveAll(golden)
				if err := res.Write(golden); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(golden, "report.txt"), []byte(report.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]string{}
			entries, err := os.ReadDir(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			for _, e := range entries {
				data, err := os.ReadFile(filepath.Join(golden, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				want[e.Name()] = string(data)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("conversion differs from %s (-want +got), go test -update rewrites it:\n%s", golden, diff)
			}
			// What was written is a valid set.
			if _, err := source.FromDir(golden); err != nil {
				t.Errorf("the golden files do not load: %v", err)
			}
		})
	}
}

// TestByteForByte: every converted script is the tool's SQL as it was,
// after the directive lines the conversion adds; goose's and tern's up and
// down files together are the tool's file.
func TestByteForByte(t *testing.T) {
	for _, s := range sets {
		res, err := convert.ConvertDir(filepath.Join("testdata", s.dir), s.tool, s.opts)
		if err != nil {
			t.Fatal(err)
		}
		whole := map[string]string{} // tool file -> its converted text
		for _, f := range res.Files() {
			body := f.SQL
			for _, line := range []string{"-- waymark:no-transaction\n", `-- waymark:empty "an empty step in the ` + string(s.tool) + ` migrations this set was converted from"` + "\n"} {
				body = strings.TrimPrefix(body, line)
			}
			if f.NoTransaction != strings.HasPrefix(f.SQL, "-- waymark:no-transaction\n") || f.Empty != strings.Contains(f.SQL, "-- waymark:empty") {
				t.Errorf("%s: flags NoTransaction %v, Empty %v do not match its text:\n%s", f.Name, f.NoTransaction, f.Empty, f.SQL)
			}
			whole[f.From] += body
		}
		for from, text := range whole {
			data, err := os.ReadFile(from)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != text {
				t.Errorf("%s: the converted files hold\n%q\nwant the file's\n%q", from, text, data)
			}
		}
	}
}

func TestParseTool(t *testing.T) {
	for name, want := range map[string]convert.Tool{"golang-migrate": convert.GolangMigrate, "migrate": convert.GolangMigrate, "goose": convert.Goose, "tern": convert.Tern, "pop": convert.Pop, "flyway": convert.Flyway} {
		if got, err := convert.ParseTool(name); got != want || err != nil {
			t.Errorf("ParseTool(%q) = %q, %v", name, got, err)
		}
	}
	_, err := convert.ParseTool("liquibase")
	if !errors.Is(err, convert.ErrUnknownTool) || err.Error() != `convert: unknown migration tool "liquibase" (known: golang-migrate, goose, tern, pop, flyway)` {
		t.Errorf("ParseTool(liquibase) = %v", err)
	}
	if _, err := convert.ConvertDir(t.TempDir(), "liquibase", nil); !errors.Is(err, convert.ErrUnknownTool) {
		t.Errorf("ConvertDir with an unknown tool = %v", err)
	}
	if !slices.Contains(convert.Tools, convert.Flyway) || len(convert.Tools) != 5 {
		t.Errorf("Tools = %v", convert.Tools)
	}
}
