//go:build popx

// Ory's popx pulls in hundreds of packages (ory/x): its test is left out of
// make test, whose CI budget it would take, and runs with make test-popx.

package adopttest

import (
	"context"
	"os"
	"testing"

	orypop "github.com/ory/pop/v6"
	"github.com/ory/x/logrusx"
	"github.com/ory/x/popx"
	"github.com/sirupsen/logrus"

	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/internal/pgtest"
)

// TestPopx: Ory's popx (the migrator of Kratos and Hydra) applies a set in
// their layout: 20-digit versions, files per dialect, .autocommit. files,
// empty steps.
func TestPopx(t *testing.T) {
	url := pgtest.ConnString(t)
	c, err := orypop.NewConnection(&orypop.ConnectionDetails{Dialect: "postgres", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fsys := os.DirFS(setDir("pop-ory"))
	mb, err := popx.NewMigrationBox(fsys, popx.NewMigrator(c, logrusx.New("adopttest", "0", logrusx.ForceLevel(logrus.ErrorLevel)), nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := mb.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	conv, set := converted(t, fsys, ".", convert.Pop, nil)
	if !conv.Renumbered {
		t.Error("20-digit versions were not renumbered")
	}
	takeOver(t, pool(t, url), convert.Pop, conv, set)
}
