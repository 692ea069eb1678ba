// Package hazardtest fails a service's own test on any hazard of its
// migrations that no waymark:allow directive accepts: those the static
// check finds, and those that measuring the migrations on a scratch
// database shows and no rule predicted.
//
//	func TestMigrationsAreSafe(t *testing.T) {
//		hazardtest.Check(t, waymarktest.Load(t, migrations, "migrations"), nil)
//	}
//
// Check takes its scratch database from package
// [github.com/waymarkdb/waymark/waymarktest] (the server of the test run);
// [CheckConn] measures on a database you give it.
//
// The test's failures read like a compiler's: one line per hazard,
// "path:line:col: rule: reason", with the safer pattern, and the whole
// review (see package [github.com/waymarkdb/waymark/hazard/review]) in the
// test's log.
package hazardtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/hazard/measure"
	"github.com/waymarkdb/waymark/hazard/review"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/waymarktest"
)

// Options configure [Check]. A nil *Options means the defaults.
type Options struct {
	// Hazard configures the static check. Default nil: the rules for the
	// scratch server's version, with no lock timeout set by the runner.
	// Set ServerVersion to judge for production's version instead, and
	// LockTimeout when the service runs its migrations with one.
	Hazard *hazard.Options
	// Measure configures the measurement: a Seed hook that fills the
	// tables, for one. Default nil.
	Measure *measure.Options
	// Prerequisites is an SQL script that makes what the set expects and
	// does not make itself (an extension, a table another tool owns): it
	// runs on the scratch database before the first version, and the
	// rules read it first. It is the file that waymark check
	// -prerequisites and waymarktest's Prerequisites take. Default "":
	// none.
	Prerequisites string
}

// Check reviews every up script of set on a new, empty database of the
// test's own (from waymarktest, dropped when the test ends): see
// [CheckConn].
func Check(t testing.TB, set *source.Set, opts *Options) *review.Review {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), waymarktest.ConnString(t, nil, nil))
	if err != nil {
		t.Fatalf("hazardtest: connect to the scratch database: %v", err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	return CheckConn(t, conn, set, opts)
}

// CheckConn reviews every up script of set: it checks them statically,
// then applies them from version 0 on conn and measures each statement,
// and fails t (t.Errorf) for every finding that no waymark:allow directive
// accepts. It returns the review.
//
// conn must be a scratch database that is empty: CheckConn changes it (and
// writes no history to it). It stops the test (t.Fatalf) when the set
// cannot be checked, or a migration fails on the scratch database (after
// logging the review of what was measured up to the failure).
func CheckConn(t testing.TB, conn *pgx.Conn, set *source.Set, opts *Options) *review.Review {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	p, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		t.Fatalf("hazardtest: %v", err)
	}
	hopts := hazard.Options{}
	if opts.Hazard != nil {
		hopts = *opts.Hazard
	}
	hopts.Set = set
	if opts.Prerequisites != "" {
		sc, err := source.ParseScript("prerequisites", []byte(opts.Prerequisites), source.Up)
		if err != nil {
			t.Fatalf("hazardtest: %v", err)
		}
		hopts.Prerequisites = sc
		if _, err := conn.PgConn().Exec(t.Context(), opts.Prerequisites).ReadAll(); err != nil {
			t.Fatalf("hazardtest: the prerequisites script: %v", err)
		}
	}
	if hopts.ServerVersion == 0 {
		if err := conn.QueryRow(t.Context(), "SELECT pg_catalog.current_setting('server_version_num')::int").Scan(&hopts.ServerVersion); err != nil {
			t.Fatalf("hazardtest: read the server version: %v", err)
		}
	}
	static, err := hazard.CheckPlan(p, &hopts)
	if err != nil {
		t.Fatalf("hazardtest: %v", err)
	}
	measured, failure := measure.Run(t.Context(), conn, p, opts.Measure)
	if failure != nil && measured == nil {
		t.Fatalf("hazardtest: %v", failure)
	}
	r, err := review.BuildPartial(p, static, measured, failure)
	if err != nil {
		t.Fatalf("hazardtest: %v", err)
	}
	if failure != nil {
		// What was measured up to the failure, the failing statement's
		// locks and invalid indexes included.
		t.Logf("hazardtest: the review of the migrations, up to the failure:\n%s", r)
		t.Fatalf("hazardtest: %v", failure)
	}
	open := r.Unaccepted()
	if len(open) == 0 {
		return r
	}
	t.Logf("hazardtest: the review of the migrations:\n%s", r)
	for _, f := range open {
		t.Errorf("%v\n\tsafer: %s\n\tor accept it: -- waymark:allow %s \"<why it is safe here>\"", f, f.Safer, f.Rule)
	}
	return r
}
