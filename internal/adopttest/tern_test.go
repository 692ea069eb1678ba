package adopttest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"

	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/internal/pgtest"
)

func TestTern(t *testing.T) {
	ctx := context.Background()
	url := pgtest.ConnString(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	m, err := migrate.NewMigrator(ctx, conn, "public.schema_version")
	if err != nil {
		t.Fatal(err)
	}
	fsys := os.DirFS(setDir("tern"))
	if err := m.LoadMigrations(fsys); err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conv, set := converted(t, fsys, ".", convert.Tern, nil)
	takeOver(t, pool(t, url), convert.Tern, conv, set)
}
