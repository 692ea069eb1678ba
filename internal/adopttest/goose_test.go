package adopttest

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/internal/pgtest"
)

func TestGoose(t *testing.T) {
	url := pgtest.ConnString(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsys := os.DirFS(setDir("goose"))
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	conv, set := converted(t, fsys, ".", convert.Goose, nil)
	takeOver(t, pool(t, url), convert.Goose, conv, set)
}
