package waymarktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/schema"
	"github.com/waymarkdb/waymark/source"
)

// RoundTripOptions configure [RoundTrip] and [CheckRoundTrip]. A nil
// *RoundTripOptions means the defaults.
type RoundTripOptions struct {
	// Backend configures the history table and the lock, as the service
	// configures them. The history table and the lease table are left out
	// of the snapshots. Default: nil, the defaults of pgxbackend.Options.
	Backend *pgxbackend.Options
	// Schema configures the snapshots that are compared: more tables to
	// leave out, or IgnoreColumnOrder. Default: nil, and column order is
	// compared: a down script that drops a column and adds it again
	// leaves it at the end of its table, which SELECT *, INSERT and COPY
	// without a column list and pgx.RowToStructByPos notice, so the
	// check says so (in one line when it is the only difference) rather
	// than hide it. Set IgnoreColumnOrder when the service names its
	// columns everywhere.
	Schema *schema.Options
	// Seed, if set, is called after each version's up script is applied
	// and before its down script runs, to insert rows. A down script that
	// loses rows the tables had before it ran (by dropping and recreating
	// a table, say) then fails the check with ErrDataLost; one that
	// changes the values, in any row, of a column its table had before
	// the version (by dropping and adding the column again, say) fails it
	// with ErrDataChanged. Every later script runs on a database with
	// data, as in production. Seed's rows
	// in tables that exist before the version stay for the later
	// versions (rows in the tables the version creates go with its down
	// script). Default: nil, no rows.
	Seed func(ctx context.Context, db *pgxpool.Pool, version int64) error
	// Prerequisites is an SQL script run on the database before the
	// first version, as Options.Prerequisites is run on a template: what
	// the set expects to find and does not make itself. What it makes is
	// in the schema before version 1. Default: "", none.
	Prerequisites string
	// StopAtFirst ends the check at the first failure. Default: false,
	// every version is checked and every failure reported.
	StopAtFirst bool
}

// Sentinels of [RoundTripError]; use errors.Is.
var (
	// ErrDownIncomplete: after a version's up and down scripts, the schema
	// is not what it was before the up script.
	ErrDownIncomplete = errors.New("down script does not undo its up script")
	// ErrUpNotRepeatable: applied again after its down script, an up
	// script gives another schema than the first time.
	ErrUpNotRepeatable = errors.New("up script gives another schema when applied again after its down script")
	// ErrDataLost: a table that exists before and after a down script has
	// fewer rows after it than before the version's up script plus the
	// rows Seed added.
	ErrDataLost = errors.New("down script loses rows")
	// ErrDataChanged: after a down script, a column the table had before
	// the version's up script holds other values than before the down
	// script (a column the down script dropped and added again is empty,
	// say). Values of a column whose type the up script changed are
	// compared as the type before it.
	ErrDataChanged = errors.New("down script changes the values of a column")
)

// RoundTripError is the error of [CheckRoundTrip]: the version whose round
// trip failed, the step that failed and what went wrong.
type RoundTripError struct {
	Version int64
	// Up and Down are the paths of the version's scripts.
	Up, Down string
	// Step is what failed: "up", "seed", "down" or "up again"; before
	// the first version (Version 0), "prerequisites" or "read the
	// schema"; "count rows", or "go on" when the check could not get a
	// database to go on with after a failure; for the repeatable scripts
	// (Version is then the set's latest, Up names the first script),
	// "repeatable" or "repeatable again".
	Step string
	// Diff shows, for ErrDownIncomplete and ErrUpNotRepeatable, the
	// difference of the snapshots as cmp.Diff prints it (-want +got); for
	// ErrDataLost, the tables that lost rows; for ErrDataChanged, each
	// column whose values changed, with an example row.
	Diff string
	// ColumnOrder is set, for ErrDownIncomplete, when the only
	// difference is the order of columns: it names the tables and their
	// columns before the up script and after the down script.
	ColumnOrder string
	// Err is ErrDownIncomplete, ErrUpNotRepeatable, ErrDataLost,
	// ErrDataChanged, or the
	// error of the step that failed (an *execute.StepError when a script
	// failed, which names the file, line and column).
	Err error
}

// Error names the file at fault and, for a schema or data difference,
// prints the difference.
func (e *RoundTripError) Error() string {
	switch {
	case e.Err == ErrUpNotRepeatable && e.Step == "repeatable again":
		return fmt.Sprintf("%s: the repeatable scripts (from this one, in name order), applied again, give another schema: first (-) and second time (+):\n%s",
			e.Up, e.Diff)
	case e.Step == "repeatable" || e.Step == "repeatable again":
		return fmt.Sprintf("waymarktest: repeatable scripts on version %d: %s: %v", e.Version, e.Step, e.Err)
	}
	switch e.Err {
	case ErrDownIncomplete:
		if e.ColumnOrder != "" {
			return fmt.Sprintf("%s: down script leaves columns in another order, the only difference: %s; PostgreSQL adds a column at the end of its table; set RoundTripOptions.Schema.IgnoreColumnOrder to accept this",
				e.Down, e.ColumnOrder)
		}
		return fmt.Sprintf("%s: down script does not undo %s: schema before the up (-) and after the down (+):\n%s",
			e.Down, e.Up, e.Diff)
	case ErrUpNotRepeatable:
		return fmt.Sprintf("%s: applied again after %s, the up script gives another schema: first (-) and second time (+):\n%s",
			e.Up, e.Down, e.Diff)
	case ErrDataLost:
		return fmt.Sprintf("%s: down script loses rows:\n%s", e.Down, e.Diff)
	case ErrDataChanged:
		return fmt.Sprintf("%s: down script changes the values of columns that were there before %s:\n%s", e.Down, e.Up, e.Diff)
	}
	if e.Version == 0 && e.Up == "" {
		return fmt.Sprintf("waymarktest: round trip: %s: %v", e.Step, e.Err)
	}
	return fmt.Sprintf("waymarktest: round trip of version %d: %s: %v", e.Version, e.Step, e.Err)
}

// Unwrap returns Err.
func (e *RoundTripError) Unwrap() error { return e.Err }

// Report says what a round trip checked.
type Report struct {
	// Checked lists the versions whose down script was checked and
	// passed, in order.
	Checked []int64
	// Irreversible lists the versions without a down script: they were
	// applied, and not checked.
	Irreversible []int64
	// Repeatables lists the repeatable scripts applied at the end, twice,
	// in name order.
	Repeatables []string
	// Failed lists the versions whose round trip failed, in order.
	Failed []int64
	// Unchecked lists the versions the check did not reach: those after
	// an up script that failed, or after a failure the check could not
	// go on from (see CheckRoundTrip), or after the first failure with
	// StopAtFirst.
	Unchecked []int64
}

// RoundTrip checks, on a new empty database, that each down script of set
// undoes its up script (see [CheckRoundTrip]), and fails the test with
// one message for each [RoundTripError] (each names the script and shows
// the difference). When a failure leaves the database in a state the
// next versions cannot build on, it goes on with a new database at that
// version (a clone of a template, see [ConnString]), so that one run
// reports every version that fails. It logs each version without a down
// script, and returns what it checked.
func RoundTrip(t testing.TB, set *source.Set, opts *RoundTripOptions) *Report {
	t.Helper()
	var o RoundTripOptions
	if opts != nil {
		o = *opts
	}
	pool := Pool(t, nil, nil)
	fresh := func(ctx context.Context, version int64) (*pgxpool.Pool, error) {
		// Without the repeatable scripts, as the versions are checked.
		return Pool(t, set.WithoutRepeatables(), &Options{Target: plan.To(version), Backend: o.Backend, Prerequisites: o.Prerequisites}), nil
	}
	rep, err := checkRoundTrip(t.Context(), pool, set, &o, fresh)
	for _, v := range rep.Irreversible {
		m, _ := set.Lookup(v)
		t.Logf("waymarktest: version %d has no down script: %s applied, not checked", v, m.Up.Path)
	}
	var list RoundTripErrors
	if errors.As(err, &list) {
		for _, e := range list {
			t.Errorf("%v", e)
		}
	} else if err != nil {
		t.Errorf("%v", err)
	}
	return rep
}

// RoundTripErrors is the error of [CheckRoundTrip]: the failures of every
// version checked, in order of version. errors.Is and errors.As look at
// each.
type RoundTripErrors []*RoundTripError

// Error prints each failure, on lines of its own when there are several.
func (l RoundTripErrors) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "waymarktest: %d round trip failures:", len(l))
	for _, e := range l {
		b.WriteString("\n")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the failures.
func (l RoundTripErrors) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// CheckRoundTrip checks each version of set, in order, on the empty
// database pool is connected to: it reads the schema at the version
// before (the previous version of the set, whatever the gap, or the empty
// database), applies the version's up script, runs Seed, applies its down
// script and requires the schema read before; it then applies the up
// script again and requires the schema the first up gave. A version
// without a down script is applied and listed as irreversible. Scripts
// run through execute.Migrate, as in production, and waymark's own tables
// (history and lease) are left out of the comparison.
//
// The versions are checked without the repeatable scripts of set. Those
// are applied at the end, on the latest version, in name order; then their
// records are forgotten and they are applied again, which must give the
// same schema (ErrUpNotRepeatable otherwise): a repeatable script must be
// safe to run again, as it will be whenever it changes or the database
// goes down and up. They are checked when the versions' check reached the
// latest version, failures or not.
//
// It checks every version and returns every failure, as
// [RoundTripErrors] (each a *[RoundTripError]; errors.As finds the
// first), unless opts.StopAtFirst is set. After a failure it goes on from
// the database as the failure left it, once it has brought it to the
// failed version with the schema its up script gave: an up script that
// fails, or a database that cannot be brought back (a down script that
// left part of its work, which the up script then trips on), ends the
// check there, and the versions not reached are listed in
// Report.Unchecked ([RoundTrip] goes on with a new database instead). It
// leaves the database at the set's latest version when it succeeds.
func CheckRoundTrip(ctx context.Context, pool *pgxpool.Pool, set *source.Set, opts *RoundTripOptions) (*Report, error) {
	return checkRoundTrip(ctx, pool, set, opts, nil)
}

// checkRoundTrip is CheckRoundTrip; fresh, when not nil, returns a new
// database at a version, to go on with when a failure leaves the
// database unusable.
func checkRoundTrip(ctx context.Context, pool *pgxpool.Pool, set *source.Set, opts *RoundTripOptions, fresh func(context.Context, int64) (*pgxpool.Pool, error)) (*Report, error) {
	var o RoundTripOptions
	if opts != nil {
		o = *opts
	}
	var so schema.Options
	if o.Schema != nil {
		so = *o.Schema
	}
	so.ExcludeTables = append(waymarkTables(o.Backend), so.ExcludeTables...)
	rep := &Report{}
	rt := &roundTrip{set: set.WithoutRepeatables(), schema: &so, seed: o.Seed, backend: o.Backend, fresh: fresh, stopAtFirst: o.StopAtFirst}
	defer rt.release(ctx)
	if err := rt.use(ctx, pool); err != nil {
		return rep, err
	}
	if o.Prerequisites != "" {
		if err := prerequisitesOn(ctx, pool, o.Prerequisites); err != nil {
			return rep, &RoundTripError{Step: "prerequisites", Err: err}
		}
	}
	if o.Backend != nil && o.Backend.Schema != "" {
		// waymark creates the history table's schema with the first
		// version; made now, it is in every snapshot, as in a database
		// whose history table exists.
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{o.Backend.Schema}.Sanitize()); err != nil {
			return rep, fmt.Errorf("waymarktest: create the history table's schema: %w", err)
		}
	}
	if err := rt.run(ctx, rep); err != nil {
		return rep, err
	}
	if reps := set.Repeatables(); len(reps) > 0 && !rt.stopped {
		rt.set = set
		if err := rt.repeatables(ctx, rep, reps); err != nil {
			var rtErr *RoundTripError
			if !errors.As(err, &rtErr) {
				return rep, err
			}
			rt.errs = append(rt.errs, rtErr)
		}
	}
	if len(rt.errs) > 0 {
		return rep, rt.errs
	}
	return rep, nil
}

// repeatables applies the repeatable scripts on the latest version, then
// again after forgetting them, and compares the schemas.
func (rt *roundTrip) repeatables(ctx context.Context, rep *Report, reps []*source.Repeatable) error {
	e := &RoundTripError{Version: rt.set.Latest(), Up: reps[0].Script.Path}
	first, err := rt.apply(ctx, plan.Latest())
	if err != nil {
		e.Step, e.Err = "repeatable", err
		return e
	}
	sess, err := rt.db.TryLock(ctx)
	if err == nil {
		err = sess.Apply(ctx, backend.Step{Change: backend.Change{Op: backend.Forget}})
		err = errors.Join(err, sess.Unlock(context.WithoutCancel(ctx)))
	}
	if err != nil {
		e.Step, e.Err = "repeatable again", err
		return e
	}
	second, err := rt.apply(ctx, plan.Latest())
	if err != nil {
		e.Step, e.Err = "repeatable again", err
		return e
	}
	if diff := cmp.Diff(first, second); diff != "" {
		e.Step, e.Diff, e.Err = "repeatable again", diff, ErrUpNotRepeatable
		return e
	}
	for _, r := range reps {
		rep.Repeatables = append(rep.Repeatables, r.Name)
	}
	return nil
}

// waymarkTables names waymark's own tables, the history table and the
// lease table, for schema.Options.ExcludeTables.
func waymarkTables(opts *pgxbackend.Options) []string {
	var o pgxbackend.Options
	if opts != nil {
		o = *opts
	}
	if o.Table == "" {
		o.Table = pgxbackend.DefaultTable
	}
	tables := []string{o.Table, pgxbackend.LeaseTable}
	if o.Schema != "" {
		for i, t := range tables {
			tables[i] = o.Schema + "." + t
		}
	}
	return tables
}

type roundTrip struct {
	pool        *pgxpool.Pool
	reader      *pgxpool.Conn // reads the schema and counts rows
	migrator    *pgxpool.Conn // runs the migrations
	db          *pgxbackend.Backend
	backend     *pgxbackend.Options
	set         *source.Set
	schema      *schema.Options
	seed        func(ctx context.Context, db *pgxpool.Pool, version int64) error
	fresh       func(context.Context, int64) (*pgxpool.Pool, error)
	stopAtFirst bool
	errs        RoundTripErrors
	stopped     bool // the check of the versions ended before the latest
}

// use makes the round trip go on in the database of pool.
func (rt *roundTrip) use(ctx context.Context, pool *pgxpool.Pool) error {
	rt.release(ctx)
	// Snapshots are read on a connection of their own: the pool's
	// connections that ran migration SQL are closed, and a new connection
	// reads the catalogs several times slower than one that has read them
	// before.
	reader, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("waymarktest: %w", err)
	}
	// Migrations run on one connection too (pgxbackend starts every step
	// from the same session state on it), rather than on a new connection
	// for each of the three steps of each version. It has run migration
	// SQL, so it is closed, not returned to the pool, afterwards.
	migrator, err := pool.Acquire(ctx)
	if err != nil {
		reader.Release()
		return fmt.Errorf("waymarktest: %w", err)
	}
	rt.pool, rt.reader, rt.migrator = pool, reader, migrator
	rt.db = pgxbackend.New(migrator.Conn(), rt.backend)
	return nil
}

// release returns the connections of the round trip's database.
func (rt *roundTrip) release(ctx context.Context) {
	if rt.reader != nil {
		rt.reader.Release()
	}
	if rt.migrator != nil {
		rt.migrator.Conn().Close(context.WithoutCancel(ctx))
		rt.migrator.Release()
	}
	rt.reader, rt.migrator = nil, nil
}

// errStop ends the loop of run once the failure that ends it is recorded.
var errStop = errors.New("stop")

func (rt *roundTrip) run(ctx context.Context, rep *Report) error {
	before, err := schema.Read(ctx, rt.reader, rt.schema)
	if err != nil {
		return &RoundTripError{Step: "read the schema", Err: err}
	}
	migrations := rt.set.Migrations()
	prev := int64(0)
	for i, m := range migrations {
		after, err := rt.version(ctx, m, prev, before, rep)
		if err != nil {
			rt.stopped = true
			// The failures so far stay in the list, with what ended it.
			var rtErr *RoundTripError
			switch {
			case errors.Is(err, errStop):
			case errors.As(err, &rtErr):
				rt.errs = append(rt.errs, rtErr)
			default:
				rt.errs = append(rt.errs, &RoundTripError{Version: m.Version, Up: m.Up.Path, Step: "go on", Err: err})
			}
			for _, n := range migrations[i+1:] {
				rep.Unchecked = append(rep.Unchecked, n.Version)
			}
			return nil
		}
		before, prev = after, m.Version
	}
	return nil
}

// version checks the round trip of version m, from the database at
// version prev with schema before, records its failures and returns the
// schema the database has at version m, from which the next version
// goes on. errStop means the check cannot go on (an up script failed, or
// the database cannot be brought to version m, or StopAtFirst).
func (rt *roundTrip) version(ctx context.Context, m *source.Migration, prev int64, before *schema.Snapshot, rep *Report) (*schema.Snapshot, error) {
	failed := false
	fail := func(step string, err error, diff string) error {
		e := &RoundTripError{Version: m.Version, Up: m.Up.Path, Step: step, Diff: diff, Err: err}
		if m.Down != nil {
			e.Down = m.Down.Path
		}
		rt.errs = append(rt.errs, e)
		if !failed {
			rep.Failed = append(rep.Failed, m.Version)
			failed = true
		}
		if rt.stopAtFirst {
			return errStop
		}
		return nil
	}
	// resume brings the database back to version m with schema first,
	// after a failure, or ends the check.
	resume := func(first *schema.Snapshot) (*schema.Snapshot, error) {
		if rt.stopAtFirst {
			return nil, errStop
		}
		if got, err := rt.apply(ctx, plan.To(m.Version)); err == nil && cmp.Equal(first, got) {
			return got, nil
		}
		if rt.fresh == nil {
			return nil, errStop
		}
		pool, err := rt.fresh(ctx, m.Version)
		if err == nil {
			err = rt.use(ctx, pool)
		}
		if err != nil {
			return nil, fmt.Errorf("waymarktest: a new database at version %d, to go on after its failure: %w", m.Version, err)
		}
		return schema.Read(ctx, rt.reader, rt.schema)
	}

	rowsBefore, err := rt.rows(ctx, before)
	if err != nil {
		return nil, &RoundTripError{Version: m.Version, Up: m.Up.Path, Step: "count rows", Err: err}
	}
	first, err := rt.apply(ctx, plan.To(m.Version))
	if err != nil {
		fail("up", err, "")
		return nil, errStop
	}
	if m.Down == nil {
		rep.Irreversible = append(rep.Irreversible, m.Version)
		return first, nil
	}

	var seeded map[string]int64
	var saved []*tableRows
	if rt.seed != nil {
		if seeded, err = rt.seedRows(ctx, m.Version, first); err == nil {
			saved, err = savedRows(ctx, rt.reader, before, first)
		}
		if err != nil {
			if err := fail("seed", err, ""); err != nil {
				return nil, err
			}
			return resume(first)
		}
	}
	afterDown, err := rt.apply(ctx, plan.DownTo(prev))
	if err != nil {
		if err := fail("down", err, ""); err != nil {
			return nil, err
		}
		return resume(first)
	}
	orderMoved := false
	if diff := cmp.Diff(before, afterDown); diff != "" {
		if err := fail("down", ErrDownIncomplete, diff); err != nil {
			return nil, err
		}
		moved := columnOrder(before, afterDown)
		if moved == "" {
			return resume(first)
		}
		// Only columns moved: say so in one line, and go on with this
		// database.
		rt.errs[len(rt.errs)-1].ColumnOrder = moved
		orderMoved = true
	}
	if rt.seed != nil {
		lost, err := rt.lostRows(ctx, m.Version, afterDown, rowsBefore, seeded)
		if err == nil && lost == "" {
			var changed string
			if changed, err = changedValues(ctx, rt.reader, saved, afterDown); err == nil && changed != "" {
				err = fail("down", ErrDataChanged, changed)
			}
		} else if err == nil {
			err = fail("down", ErrDataLost, lost)
		} else {
			err = fail("down", err, "")
		}
		if err != nil {
			return nil, err
		}
	}

	second, err := rt.apply(ctx, plan.To(m.Version))
	if err != nil {
		if err := fail("up again", err, ""); err != nil {
			return nil, err
		}
		return resume(first)
	}
	var opts []cmp.Option
	if orderMoved {
		opts = append(opts, byName) // reported already
	}
	if diff := cmp.Diff(first, second, opts...); diff != "" {
		if err := fail("up again", ErrUpNotRepeatable, diff); err != nil {
			return nil, err
		}
	}
	if !failed {
		rep.Checked = append(rep.Checked, m.Version)
	}
	return second, nil
}

// apply migrates the database to target and reads its schema.
func (rt *roundTrip) apply(ctx context.Context, target plan.Target) (*schema.Snapshot, error) {
	if _, err := execute.Migrate(ctx, rt.db, rt.set, target, nil); err != nil {
		return nil, err
	}
	return schema.Read(ctx, rt.reader, rt.schema)
}

// seedRows runs Seed for version and returns how many rows it added to
// each table of snap.
func (rt *roundTrip) seedRows(ctx context.Context, version int64, snap *schema.Snapshot) (map[string]int64, error) {
	before, err := rt.rows(ctx, snap)
	if err != nil {
		return nil, err
	}
	if err := rt.seed(ctx, rt.pool, version); err != nil {
		return nil, err
	}
	after, err := rt.rows(ctx, snap)
	if err != nil {
		return nil, err
	}
	added := map[string]int64{}
	for table, n := range after {
		if d := n - before[table]; d > 0 {
			added[table] = d
		}
	}
	return added, nil
}

// lostRows returns, one line each, the tables of snap (the schema after
// the down script of version) that have fewer rows than they had before
// the up script plus the rows Seed added; "" when there are none.
func (rt *roundTrip) lostRows(ctx context.Context, version int64, snap *schema.Snapshot, before, seeded map[string]int64) (string, error) {
	after, err := rt.rows(ctx, snap)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, table := range sortedKeys(after) {
		want := before[table] + seeded[table]
		if after[table] < want {
			fmt.Fprintf(&b, "  %s: %d rows after the down script; want %d (%d before version %d, %d added by Seed)\n",
				table, after[table], want, before[table], version, seeded[table])
		}
	}
	return b.String(), nil
}

// rows counts the rows of every table of snap, when a Seed is set.
func (rt *roundTrip) rows(ctx context.Context, snap *schema.Snapshot) (map[string]int64, error) {
	if rt.seed == nil {
		return nil, nil
	}
	var parts []string
	for _, r := range snap.Relations {
		if r.Kind == "table" {
			lit := literal(r.Schema + "." + r.Name)
			parts = append(parts, "SELECT "+lit+", count(*) FROM "+pgx.Identifier{r.Schema, r.Name}.Sanitize())
		}
	}
	counts := map[string]int64{}
	if len(parts) == 0 {
		return counts, nil
	}
	rows, err := rt.reader.Query(ctx, strings.Join(parts, " UNION ALL "))
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	var table string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&table, &n}, func() error {
		counts[table] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	return counts, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// byName compares columns by name, not by position.
var byName = cmpopts.SortSlices(func(a, b schema.Column) bool { return a.Name < b.Name })

// columnOrder returns, when the only difference between snapshots want
// and got is the order of columns, the tables and composite types whose
// columns moved, with their columns in both orders:
// "public.users (id, email, score -> id, score, email)"; else "".
func columnOrder(want, got *schema.Snapshot) string {
	if !cmp.Equal(want, got, byName) {
		return ""
	}
	var moved []string
	names := func(cols []schema.Column) string {
		n := make([]string, len(cols))
		for i, c := range cols {
			n[i] = c.Name
		}
		return strings.Join(n, ", ")
	}
	for _, key := range sortedKeys(want.Relations) {
		a, b := names(want.Relations[key].Columns), names(got.Relations[key].Columns)
		if a != b {
			moved = append(moved, fmt.Sprintf("%s (%s -> %s)", key, a, b))
		}
	}
	for _, key := range sortedKeys(want.Types) {
		a, b := names(want.Types[key].Attributes), names(got.Types[key].Attributes)
		if a != b {
			moved = append(moved, fmt.Sprintf("type %s (%s -> %s)", key, a, b))
		}
	}
	return strings.Join(moved, ", ")
}

// prerequisitesOn runs script on a connection of pool, which it closes
// afterwards (the script may have changed its settings).
func prerequisitesOn(ctx context.Context, pool *pgxpool.Pool, script string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		conn.Conn().Close(context.WithoutCancel(ctx))
		conn.Release()
	}()
	if _, err := conn.Conn().PgConn().Exec(ctx, script).ReadAll(); err != nil {
		return fmt.Errorf("%w: %w", ErrPrerequisites, err)
	}
	return nil
}
