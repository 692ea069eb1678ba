package waymarktest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Options configure [ConnString] and [Pool]. A nil *Options means the
// defaults.
type Options struct {
	// Target is the version the database is at: any target that goes up
	// from an empty database. Default: the zero Target, plan.Latest().
	Target plan.Target
	// Backend configures the history table the migrations are recorded
	// in, and the lock, as the service configures them. Default: nil, the
	// defaults of pgxbackend.Options.
	Backend *pgxbackend.Options
	// Prerequisites is an SQL script that makes what the set expects to
	// find and does not make itself (an extension, a role's grants, a
	// table another tool owns), run on the new database before the
	// set's first version, as one simple-protocol query (several
	// statements, in one transaction unless they say otherwise). It is
	// part of the template's identity: another script builds another
	// template. Keep it outside the migrations folder (source takes
	// every .sql file there for a migration) or in a sub-folder of it.
	// A script that fails fails the test with an error that wraps
	// [ErrPrerequisites] and the server's error. Default: "", none.
	Prerequisites string
}

// ErrPrerequisites is wrapped by the error of a Prerequisites script that
// failed, with the server's error; use errors.Is.
var ErrPrerequisites = errors.New("prerequisites script failed")

// ConnString returns a connection string for a new database that only
// this test uses, with set applied up to opts.Target and recorded in the
// history table as execute.Migrate records it, after opts.Prerequisites;
// with a nil set the database is empty but for opts.Prerequisites. The database is dropped when the test and its subtests have
// finished (t.Cleanup), even if connections to it are still open, unless
// the test failed: then it is kept and its name logged.
//
// The first call for a set (in any test process on the server) builds a
// template database; every call takes a clone of it from the warm pool,
// or clones it while the test waits when the pool is empty (see "A
// database per test" and "The warm pool" in the package doc). When the set cannot
// be applied, the test fails with the migration's error (file, line and
// column), and so does every later test of the process that asks for the
// same set, without trying again.
func ConnString(t testing.TB, set *source.Set, opts *Options) string {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	s := getServer(t)
	if set == nil {
		name, err := s.newDatabase(t, "template0")
		if err == nil && o.Prerequisites != "" {
			err = runPrerequisites(t.Context(), s.connString(name), o.Prerequisites)
		}
		if err != nil {
			t.Fatalf("%v", err)
		}
		return s.connString(name)
	}
	p, err := plan.Compute(set, plan.State{}, o.Target, nil)
	if err != nil {
		t.Fatalf("waymarktest: target %v: %v", o.Target, err)
	}
	for attempt := 0; ; attempt++ {
		tp, err := s.template(t.Context(), set, p.To, o.Backend, o.Prerequisites)
		if err != nil {
			t.Fatalf("%v", err)
		}
		name, err := s.newDatabase(t, tp.name)
		if pgErr := (*pgconn.PgError)(nil); attempt == 0 && errors.As(err, &pgErr) && pgErr.Code == "3D000" {
			s.forget(tp) // another process dropped the template as too old: build it again
			continue
		}
		if err != nil {
			t.Fatalf("%v", err)
		}
		return s.connString(name)
	}
}

// Pool returns a connection pool for a new database at opts.Target of set
// (see [ConnString]). The pool is closed when the test ends, before the
// database is dropped.
func Pool(t testing.TB, set *source.Set, opts *Options) *pgxpool.Pool {
	t.Helper()
	connString := ConnString(t, set, opts)
	pool, err := pgxpool.New(t.Context(), connString)
	if err != nil {
		t.Fatalf("waymarktest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(t.Context()); err != nil {
		t.Fatalf("waymarktest: connect pool: %v", err)
	}
	return pool
}

// Load reads the migration set in directory dir of fsys, as
// source.FromFS does, or fails the test with every problem of the set.
func Load(t testing.TB, fsys fs.FS, dir string) *source.Set {
	t.Helper()
	set, err := source.FromFS(fsys, dir)
	if err != nil {
		t.Fatalf("waymarktest: %v", err)
	}
	return set
}

// runPrerequisites runs script on the database at connString.
func runPrerequisites(ctx context.Context, connString, script string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return fmt.Errorf("waymarktest: run Prerequisites: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.PgConn().Exec(ctx, script).ReadAll(); err != nil {
		return fmt.Errorf("waymarktest: Prerequisites: %w: %w", ErrPrerequisites, err)
	}
	return nil
}
