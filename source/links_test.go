package source_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/source"
)

const secret = "SELECT 'the host''s secret';\n"

// linkDir makes, in a temporary directory, a file secret.sql outside the
// migration directory m, and in m the regular files and symbolic links
// given (a link's value starts with "->"). It returns the directory that
// holds m and secret.sql.
func linkDir(t *testing.T, files map[string]string) string {
	t.Helper()
	top := t.TempDir()
	if err := os.WriteFile(filepath.Join(top, "secret.sql"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, v := range files {
		p := filepath.Join(top, "m", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(v, "->"); ok {
			err = os.Symlink(strings.ReplaceAll(target, "$TOP", top), p)
		} else {
			err = os.WriteFile(p, []byte(v), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return top
}

// outsideFiles lists the files of err reported as outside the directory.
func outsideFiles(t *testing.T, err error) []string {
	t.Helper()
	var list source.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %v is not a source.ErrorList", err)
	}
	var got []string
	for _, e := range list {
		if errors.Is(e, source.ErrOutside) {
			got = append(got, e.Pos.Path)
		}
	}
	slices.Sort(got)
	return got
}

// A link that resolves outside the migration directory is refused, naming
// the file, and never read; links inside are followed.
func TestFromDirRefusesLinksOutside(t *testing.T) {
	top := linkDir(t, map[string]string{
		"v1_a.up.sql":       "CREATE TABLE a (id int);\n",
		"shared/b.sql":      "CREATE TABLE b (id int);\n",
		"v2_b.up.sql":       "->$TOP/secret.sql",        // absolute, outside
		"v3_c.up.sql":       "->../secret.sql",          // relative, outside
		"v4_d.up.sql":       "->../m/shared/b.sql",      // out and back in: refused, as os.Root does
		"v5_e.up.sql":       "->away/secret.sql",        // through a directory link to outside
		"away":              "->..",                     //
		"v6_f.up.sql":       "->/etc/hostname",          // the case
		"v7_g.up.sql":       "->hop.txt",                // a chain whose last link leaves
		"hop.txt":           "->../secret.sql",          // not a migration file name: only followed
		"v8_h.up.sql":       "->shared/b.sql",           // inside: followed
		"v9_i.up.sql":       "->shared/../shared/b.sql", // ".." that stays inside: followed
		"v10_j.up.sql":      "->v1_a.up.sql",            // another migration file: followed
		"shared/deep/c.sql": "->../b.sql",               // not read: sub-directories are not searched
	})
	_, err := source.FromDir(filepath.Join(top, "m"))
	m := filepath.Join(top, "m") + string(filepath.Separator)
	want := []string{m + "v2_b.up.sql", m + "v3_c.up.sql", m + "v4_d.up.sql", m + "v5_e.up.sql", m + "v6_f.up.sql", m + "v7_g.up.sql"}
	slices.Sort(want)
	if diff := cmp.Diff(want, outsideFiles(t, err)); diff != "" {
		t.Errorf("files refused as outside (-want +got):\n%s\nerror: %v", diff, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "secret'") {
		t.Errorf("the message shows the outside file's content:\n%s", msg)
	}
	if !strings.Contains(msg, m+"v3_c.up.sql: file resolves outside the migration directory: a symbolic link to ../secret.sql, which resolves outside "+filepath.Join(top, "m")) {
		t.Errorf("message does not say which link and where:\n%s", msg)
	}
}

// The links inside are followed: the set loads, with the target's SQL.
func TestFromDirFollowsLinksInside(t *testing.T) {
	top := linkDir(t, map[string]string{
		"v1_a.up.sql":  "CREATE TABLE a (id int);\n",
		"shared/b.sql": "CREATE TABLE b (id int);\n",
		"v2_b.up.sql":  "->shared/b.sql",
		"v3_c.up.sql":  "->shared/../shared/b.sql",
		"v4_d.up.sql":  "->./v2_b.up.sql",
	})
	set, err := source.FromDir(filepath.Join(top, "m"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int64{2, 3, 4} {
		if m, ok := set.Lookup(v); !ok || m.Up.SQL != "CREATE TABLE b (id int);\n" {
			t.Errorf("version %d: %v", v, m)
		}
	}
}

// The migration directory given may itself be a link, or be named with
// ".."; the links in it are judged against the directory it resolves to.
func TestFromDirThroughALinkAndDotDot(t *testing.T) {
	top := linkDir(t, map[string]string{
		"v1_a.up.sql": "CREATE TABLE a (id int);\n",
		"v2_b.up.sql": "->../secret.sql",
	})
	if err := os.Symlink(filepath.Join(top, "m"), filepath.Join(top, "alias")); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(top, "alias"), filepath.Join(top, "m", "..", "m"), filepath.Join(top, "alias", "..", "m")} {
		_, err := source.FromDir(dir)
		if got := outsideFiles(t, err); len(got) != 1 || !strings.HasSuffix(got[0], "v2_b.up.sql") {
			t.Errorf("FromDir(%q): refused %v (%v); want v2_b.up.sql", dir, got, err)
		}
	}
}

// FromFS refuses, with any fsys that reads links, a link that leaves the
// directory given, even to another place in fsys; and a directory named
// with ".." is not a valid fs.FS path.
func TestFromFSRefusesLinksOutside(t *testing.T) {
	link := func(target string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink}
	}
	fsys := fstest.MapFS{
		"shared/x.sql":           {Data: []byte("CREATE TABLE x (id int);\n")},
		"migrations/v1_a.up.sql": {Data: []byte("CREATE TABLE a (id int);\n")},
		"migrations/v2_b.up.sql": link("../shared/x.sql"), // in fsys, outside the directory
		"migrations/v3_c.up.sql": link("/etc/hostname"),
		"migrations/v4_d.up.sql": link("v1_a.up.sql"),
		"migrations/sub/v5.sql":  {Data: []byte("CREATE TABLE e (id int);\n")},
		"migrations/v5_e.up.sql": link("sub/v5.sql"),
		"migrations/v6_f.up.sql": link("sub/../../migrations/v1_a.up.sql"),
		"migrations/v7_g.up.sql": link("sub/../v1_a.up.sql"),
	}
	_, err := source.FromFS(fsys, "migrations")
	want := []string{"migrations/v2_b.up.sql", "migrations/v3_c.up.sql", "migrations/v6_f.up.sql"}
	if diff := cmp.Diff(want, outsideFiles(t, err)); diff != "" {
		t.Errorf("files refused as outside (-want +got):\n%s\nerror: %v", diff, err)
	}
	var list source.ErrorList
	if errors.As(err, &list) && len(list) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(list), len(want), err)
	}

	// The same files on disk through os.DirFS.
	top := linkDir(t, map[string]string{"v1_a.up.sql": "CREATE TABLE a (id int);\n", "v2_b.up.sql": "->../secret.sql", "v3_c.up.sql": "->v1_a.up.sql"})
	_, err = source.FromFS(os.DirFS(top), "m")
	if diff := cmp.Diff([]string{"m/v2_b.up.sql"}, outsideFiles(t, err)); diff != "" {
		t.Errorf("os.DirFS: files refused as outside (-want +got):\n%s\nerror: %v", diff, err)
	}

	// A directory named with ".." cannot climb out of fsys.
	for _, dir := range []string{"..", "../m", "../secret.sql"} {
		_, err := source.FromFS(os.DirFS(filepath.Join(top, "m")), dir)
		if !errors.Is(err, source.ErrRead) || !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("FromFS(os.DirFS(m), %q) = %v; want ErrRead wrapping fs.ErrInvalid", dir, err)
		}
	}
}
