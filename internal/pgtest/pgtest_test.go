package pgtest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/internal/pgcluster"
	"github.com/waymarkdb/waymark/internal/pgfetch"
)

// The databases themselves are tested with the public kit, in package
// waymarktest; these tests check the layer over it.

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func currentDatabase(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var name string
	if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := Conn(t), Conn(t)
	nameA, nameB := currentDatabase(t, a), currentDatabase(t, b)
	if nameA == nameB {
		t.Fatalf("two calls gave the same database %s", nameA)
	}
	if _, err := a.Exec(t.Context(), "CREATE TABLE only_in_a (id int)"); err != nil {
		t.Fatal(err)
	}
	var inA, inB bool
	const q = "SELECT to_regclass('only_in_a') IS NOT NULL"
	if err := a.QueryRow(t.Context(), q).Scan(&inA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(t.Context(), q).Scan(&inB); err != nil {
		t.Fatal(err)
	}
	if !inA || inB {
		t.Errorf("table only_in_a: in %s %v, in %s %v; want true, false", nameA, inA, nameB, inB)
	}
}

// TestServerVersion logs the server's version() (make test-matrix reads
// the line) and checks that a cluster started for the tests runs the
// version WAYMARK_PG_VERSION asks for, and that ServerVersion agrees with
// the server.
func TestServerVersion(t *testing.T) {
	t.Parallel()
	pool := Pool(t)
	var version string
	var num int
	if err := pool.QueryRow(t.Context(), "SELECT version(), current_setting('server_version_num')::int").Scan(&version, &num); err != nil {
		t.Fatal(err)
	}
	t.Logf("server version(): %s", version)
	if got := ServerVersion(t); got != num {
		t.Errorf("ServerVersion = %d; the server says %d", got, num)
	}
	spec := os.Getenv(pgcluster.EnvVersion)
	if spec == "" || os.Getenv(EnvURL) != "" || os.Getenv(pgcluster.EnvBinDir) != "" {
		return // the version was not chosen through the variable
	}
	r, err := pgfetch.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := r.Server()
	if got := fmt.Sprintf("%d.%d", num/10000, num%10000); got != want {
		t.Errorf("%s=%s: the server is PostgreSQL %s; want %s", pgcluster.EnvVersion, spec, got, want)
	}
}

func TestObjects(t *testing.T) {
	pool := Pool(t)
	if got := Objects(t, pool); len(got) != 0 {
		t.Errorf("Objects of a new database = %q, want none", got)
	}
	_, err := pool.Exec(context.Background(), `CREATE SCHEMA audit;
CREATE TABLE audit.log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, x int);
CREATE VIEW v AS SELECT 1 AS one`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"S audit.log_id_seq", "i audit.log_pkey", "r audit.log", "schema audit", "v public.v"}
	if diff := cmp.Diff(want, Objects(t, pool)); diff != "" {
		t.Errorf("Objects (-want +got):\n%s", diff)
	}
}
