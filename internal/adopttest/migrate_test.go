package adopttest

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/waymarkdb/waymark/adopt"
	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/internal/pgtest"
)

// golangMigrate applies the set in fsys with golang-migrate's pgx/v5
// driver, as a service would; multi is x-multi-statement=true.
func golangMigrate(t *testing.T, url string, fsys fs.FS, multi bool) error {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	src, err := iofs.New(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{MultiStatementEnabled: multi})
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	return m.Up()
}

func TestGolangMigrate(t *testing.T) {
	for _, tt := range []struct {
		set   string
		multi bool
	}{
		{"golang-migrate", false},
		{"golang-migrate-multi", true},
	} {
		t.Run(tt.set, func(t *testing.T) {
			url := pgtest.ConnString(t)
			fsys := os.DirFS(setDir(tt.set))
			if err := golangMigrate(t, url, fsys, tt.multi); err != nil {
				t.Fatal(err)
			}
			conv, set := converted(t, fsys, ".", convert.GolangMigrate, &convert.Options{MultiStatement: tt.multi})
			takeOver(t, pool(t, url), convert.GolangMigrate, conv, set)
		})
	}
}

// TestGolangMigrateDirty: a migration that fails part-way leaves
// golang-migrate dirty, and the import refuses it, naming the version.
func TestGolangMigrateDirty(t *testing.T) {
	url := pgtest.ConnString(t)
	fsys := fstest.MapFS{
		"1_a.up.sql":   {Data: []byte("CREATE TABLE a (id int);\n")},
		"1_a.down.sql": {Data: []byte("DROP TABLE a;\n")},
		"2_b.up.sql":   {Data: []byte("CREATE TABLE b (id int);\nSELECT 1/0;\n")},
		"2_b.down.sql": {Data: []byte("DROP TABLE b;\n")},
	}
	if err := golangMigrate(t, url, fsys, false); err == nil {
		t.Fatal("golang-migrate applied a failing migration")
	}
	conv, set := converted(t, fsys, ".", convert.GolangMigrate, nil)
	p := pool(t, url)
	_, err := adopt.Import(context.Background(), p, pgxbackend.New(p, nil), set, conv, nil)
	if !errors.Is(err, adopt.ErrDirty) || !strings.Contains(err.Error(), "dirty state: version 2:") {
		t.Fatalf("Import of a dirty golang-migrate state = %v, want ErrDirty naming 2", err)
	}
	records, err := pgxbackend.New(p, nil).ReadState(context.Background())
	if err != nil || len(records) != 0 {
		t.Errorf("a refused import recorded %v (%v)", records, err)
	}
}
