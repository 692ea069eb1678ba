package waymarktest

import (
	"errors"
	"io/fs"
	"testing"

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
}

// ConnString returns a connection string for a new database that only
// this test uses, with set applied up to opts.Target and recorded in the
// history table as execute.Migrate records it; with a nil set the database
// is empty. The database is dropped when the test and its subtests have
// finished (t.Cleanup), even if connections to it are still open, unless
// the test failed: then it is kept and its name logged.
//
// The first call for a set (in any test process on the server) builds a
// template database; every call clones it, which takes tens of
// milliseconds however many migrations the set has. When the set cannot
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
		tp, err := s.template(t.Context(), set, p.To, o.Backend)
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
