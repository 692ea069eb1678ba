package adopttest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/adopt"
	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/plan"
)

// Flyway is a Java program that cannot run here. flywayMigrate does what
// its migrate command does on PostgreSQL, as its documentation describes
// it: it creates flyway_schema_history (the table, its primary key on
// installed_rank and its index on success), applies the versioned
// migrations V<version>__<description>.sql found anywhere under the
// location in version order (numbers compared one by one), each in a
// transaction with its row unless its script configuration says
// executeInTransaction=false, then the repeatable migrations
// R__<description>.sql in description order; each row holds the version
// as written (with "_" read as "."), the description (with "_" read as a
// space), type SQL, the script's path in the location, its checksum (the
// CRC-32 of its lines), the user, the time, the milliseconds it took and
// success true.
func flywayMigrate(t *testing.T, conn *pgx.Conn, fsys fs.FS) {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE "public"."flyway_schema_history" (
	"installed_rank" INT NOT NULL,
	"version" VARCHAR(50),
	"description" VARCHAR(200) NOT NULL,
	"type" VARCHAR(20) NOT NULL,
	"script" VARCHAR(1000) NOT NULL,
	"checksum" INTEGER,
	"installed_by" VARCHAR(100) NOT NULL,
	"installed_on" TIMESTAMP NOT NULL DEFAULT now(),
	"execution_time" INTEGER NOT NULL,
	"success" BOOLEAN NOT NULL
);
ALTER TABLE "public"."flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "public"."flyway_schema_history" ("success");`); err != nil {
		t.Fatal(err)
	}
	type script struct{ rel, version, canonical, desc string }
	var versioned, repeatable []script
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".sql") {
			return err
		}
		name := path.Base(p)
		switch {
		case strings.HasPrefix(name, "V"):
			v, desc, _ := strings.Cut(strings.TrimSuffix(name[1:], ".sql"), "__")
			v = strings.ReplaceAll(v, "_", ".")
			versioned = append(versioned, script{p, v, convert.FlywayVersion(v), strings.ReplaceAll(desc, "_", " ")})
		case strings.HasPrefix(name, "R__"):
			repeatable = append(repeatable, script{rel: p, desc: strings.ReplaceAll(strings.TrimSuffix(name[3:], ".sql"), "_", " ")})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(versioned, func(a, b script) int { return convert.CompareFlyway(a.canonical, b.canonical) })
	slices.SortFunc(repeatable, func(a, b script) int { return strings.Compare(a.desc, b.desc) })
	rank := 0
	run := func(s script, version any) {
		data, err := fs.ReadFile(fsys, s.rel)
		if err != nil {
			t.Fatal(err)
		}
		conf, _ := fs.ReadFile(fsys, s.rel+".conf")
		rank++
		row := `INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
VALUES ($1, $2, $3, 'SQL', $4, $5, current_user, 12, true)`
		args := []any{rank, version, s.desc, s.rel, convert.FlywayChecksum(string(data))}
		if strings.Contains(string(conf), "executeInTransaction=false") {
			if _, err := conn.Exec(ctx, string(data), pgx.QueryExecModeSimpleProtocol); err != nil {
				t.Fatalf("flyway: %s: %v", s.rel, err)
			}
			if _, err := conn.Exec(ctx, row, args...); err != nil {
				t.Fatal(err)
			}
			return
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, string(data), pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("flyway: %s: %v", s.rel, err)
		}
		if _, err := tx.Exec(ctx, row, args...); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range versioned {
		run(s, s.version)
	}
	for _, s := range repeatable {
		run(s, nil)
	}
}

func TestFlyway(t *testing.T) {
	ctx := context.Background()
	url := pgtest.ConnString(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	fsys := os.DirFS(setDir("flyway"))
	flywayMigrate(t, conn, fsys)
	conv, set := converted(t, fsys, ".", convert.Flyway, nil)
	if len(set.Repeatables()) != 2 {
		t.Fatalf("the converted set has %d repeatable scripts, want 2", len(set.Repeatables()))
	}
	p := pool(t, url)
	takeOver(t, p, convert.Flyway, conv, set)
	// The repeatable scripts were recorded as Flyway applied them, and are
	// there again after waymark went down to 0 and up.
	reps, err := pgxbackend.New(p, nil).ReadRepeatables(ctx)
	if err != nil || len(reps) != 2 {
		t.Errorf("repeatable scripts recorded: %+v, %v", reps, err)
	}
	var label string
	if _, err := p.Exec(ctx, "INSERT INTO users VALUES (1, 'ada', true, 'ada@example.com')"); err != nil {
		t.Fatal(err)
	}
	if err := p.QueryRow(ctx, "SELECT label FROM active_users").Scan(&label); err != nil || label != "ada <ada@example.com>" {
		t.Errorf("active_users: %q, %v", label, err)
	}
}

// A failed row is refused, naming it; a repeatable script changed since
// Flyway applied it is left to waymark's first plan; an undone version is
// not applied; a changed versioned file is refused.
func TestFlywayHistoryRows(t *testing.T) {
	ctx := context.Background()
	url := pgtest.ConnString(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	fsys := os.DirFS(setDir("flyway"))
	flywayMigrate(t, conn, fsys)
	conv, set := converted(t, fsys, ".", convert.Flyway, nil)
	p := pool(t, url)
	db := pgxbackend.New(p, nil)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}

	// The view's file as Flyway applied it differs from the file now.
	exec("UPDATE flyway_schema_history SET checksum = checksum + 1 WHERE description = 'active users'")
	// Version 3 was undone (Flyway Teams' undo) and its index dropped.
	exec("DROP INDEX orders_user_id")
	exec(`INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
VALUES (100, '3', 'orders user index', 'UNDO_SQL', 'sub/U3__orders_user_index.sql', 1, current_user, 3, true)`)
	res, err := adopt.Import(ctx, p, db, set, conv, &adopt.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var imported []string
	for _, m := range res.Versions {
		imported = append(imported, m.Source)
	}
	if strings.Join(imported, ",") != "1,1.1,2" || len(res.Repeatables) != 1 || res.Repeatables[0].Name != "A_user_label" ||
		len(res.RepeatablesPending) != 1 || res.RepeatablesPending[0] != "active users" {
		t.Errorf("import: versions %v, repeatable scripts %+v, pending %v", imported, res.Repeatables, res.RepeatablesPending)
	}
	// Flyway's installed_on of version 2 becomes its applied time.
	exec("UPDATE flyway_schema_history SET installed_on = '2021-03-04 05:06:07.123456' WHERE version = '2'")
	var installed time.Time
	if err := conn.QueryRow(ctx, "SELECT installed_on::timestamptz FROM flyway_schema_history WHERE version = '2'").Scan(&installed); err != nil {
		t.Fatal(err)
	}
	if _, err := adopt.Import(ctx, p, db, set, conv, nil); err != nil {
		t.Fatal(err)
	}
	state, err := db.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var two int64
	for _, m := range res.Versions {
		if m.Source == "2" {
			two = m.Version
		}
	}
	if i := slices.IndexFunc(state, func(r backend.Record) bool { return r.Version == two }); i < 0 {
		t.Errorf("version 2 (waymark's %d) not recorded", two)
	} else if !state[i].AppliedAt.Equal(installed) {
		t.Errorf("version 2 (waymark's %d) recorded as applied at %v; want Flyway's installed_on %v", two, state[i].AppliedAt, installed)
	}
	pl, err := plan.Build(ctx, db, set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(append([]string{pl.Steps[0].Path}, pl.Repeatables()...), ","); len(pl.Steps) != 2 || !strings.HasSuffix(got, "v0004_3_orders_user_index.up.sql,active_users") {
		t.Errorf("the first plan = %v; want version 3 again, then the changed view", pl)
	}
	if _, err := execute.Run(ctx, db, pl, nil); err != nil {
		t.Fatal(err)
	}

	// A failed row: refused, named.
	exec(`INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
VALUES (101, '4', 'broken', 'SQL', 'V4__broken.sql', 7, current_user, 3, false)`)
	_, err = adopt.ReadHistory(ctx, p, convert.Flyway, nil)
	var ae *adopt.Error
	if !errors.Is(err, adopt.ErrFailed) || !errors.As(err, &ae) || len(ae.Versions) != 1 || ae.Versions[0] != "4 (rank 101)" || !strings.Contains(err.Error(), "flyway repair") {
		t.Errorf("ReadHistory with a failed row = %v; want ErrFailed naming version 4", err)
	}

	// A versioned file changed since Flyway applied it: refused.
	exec("DELETE FROM flyway_schema_history WHERE NOT success")
	exec("UPDATE flyway_schema_history SET checksum = 42 WHERE version = '2'")
	fresh := pgxbackend.New(p, &pgxbackend.Options{AppKey: "again"})
	if _, err := adopt.Import(ctx, p, fresh, set, conv, nil); !errors.Is(err, adopt.ErrMismatch) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("Import with a changed file = %v; want ErrMismatch naming version 2", err)
	}
}
