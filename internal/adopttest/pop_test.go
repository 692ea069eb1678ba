package adopttest

import (
	"os"
	"testing"

	"github.com/gobuffalo/pop/v6"
	"github.com/gobuffalo/pop/v6/logging"

	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/internal/pgtest"
)

// TestPop: pop applies a set with dialect files, a generic fallback, an
// empty step and a sub-directory.
func TestPop(t *testing.T) {
	url := pgtest.ConnString(t)
	pop.SetLogger(func(level logging.Level, s string, args ...any) {
		if level >= logging.Warn {
			t.Logf("pop: "+s, args...)
		}
	})
	c, err := pop.NewConnection(&pop.ConnectionDetails{Dialect: "postgres", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fsys := os.DirFS(setDir("pop"))
	mb, err := pop.NewMigrationBox(fsys, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := mb.Up(); err != nil {
		t.Fatal(err)
	}
	conv, set := converted(t, fsys, ".", convert.Pop, nil)
	takeOver(t, pool(t, url), convert.Pop, conv, set)
}
