package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Querier is what *pgx.Conn and *pgxpool.Pool have in common that Objects
// needs.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Objects lists, sorted, the schemas (other than public) and the tables,
// indexes, sequences and views a database's users have made, one string
// each: "schema audit", "r public.users", "i public.users_pkey" (an invalid
// index gets " (invalid)" appended), "S public.users_id_seq", "v ...". Tests
// compare it before and after to see what changed.
func Objects(t testing.TB, db Querier) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `
SELECT c.relkind::text || ' ' || n.nspname || '.' || c.relname || CASE WHEN i.indisvalid = false THEN ' (invalid)' ELSE '' END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND c.relkind IN ('r', 'i', 'S', 'v')
UNION ALL
SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public')
ORDER BY 1`)
	if err != nil {
		t.Fatalf("pgtest: list objects: %v", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("pgtest: list objects: %v", err)
	}
	return got
}
