package execute_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
)

// docOf returns the doc comment of the declaration (function, method or
// interface method) named name in the Go file at path, or, for name "",
// the package doc of that file.
func docOf(t *testing.T, path, name string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if name == "" {
		return f.Doc.Text()
	}
	var doc string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Name.Name == name {
				doc = n.Doc.Text()
			}
		case *ast.Field:
			if len(n.Names) == 1 && n.Names[0].Name == name {
				doc = n.Doc.Text()
			}
		}
		return doc == ""
	})
	if doc == "" {
		t.Fatalf("%s: no doc comment for %s", path, name)
	}
	return doc
}

// A no-op Migrate's one read takes the migration lock's key in shared mode
// and gives it back in the same statement, to see a run under way, and
// holds nothing afterwards; the docs that describe that read say so,
// rather than "no lock".
func TestPostgresNoOpReadTakesTheKeySharedForAnInstant(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(pgtest.ConnString(t))
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracer{}
	cfg.ConnConfig.Tracer = tr
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	set := sampleSet(t)
	db := pgxbackend.New(pool, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil {
		t.Fatal(err)
	}
	tr.take()
	if res, err := execute.Migrate(ctx, db, set, plan.Latest(), nil); err != nil || !res.Plan.Empty() {
		t.Fatalf("second Migrate = %v, %v; want an empty plan", res.Plan, err)
	}
	queries := tr.take()
	if len(queries) != 1 {
		t.Fatalf("a no-op Migrate sent %d queries, want 1", len(queries))
	}
	q := queries[0]
	take, give := strings.Index(q, "pg_try_advisory_lock_shared("), strings.Index(q, "pg_advisory_unlock_shared(")
	if take < 0 || give < take || strings.Contains(q, ";") {
		t.Errorf("the no-op read does not take the key shared and give it back in one statement:\n%s", q)
	}
	var locks int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&locks); err != nil || locks != 0 {
		t.Errorf("advisory locks held after the no-op: %d, %v", locks, err)
	}

	for _, d := range []struct{ path, name string }{
		{"execute.go", ""},
		{"migrate.go", "Migrate"},
		{"../backend/backend.go", "ReadHead"},
		{"../backend/pgxbackend/head.go", "ReadHead"},
	} {
		doc := strings.Join(strings.Fields(docOf(t, d.path, d.name)), " ")
		for _, wrong := range []string{"takes no lock", "without locking", "no lock,", "without a lock"} {
			if strings.Contains(doc, wrong) {
				t.Errorf("the doc of %s in %s says %q of the no-op read", cmpOr(d.name, "the package"), d.path, wrong)
			}
		}
		if !strings.Contains(doc, "shared mode") {
			t.Errorf("the doc of %s in %s does not say that the read takes the lock's key in shared mode", cmpOr(d.name, "the package"), d.path)
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
