package waymarktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	// leave out, or IgnoreColumnOrder. Default: nil.
	Schema *schema.Options
	// Seed, if set, is called after each version's up script is applied
	// and before its down script runs, to insert rows. A down script that
	// loses rows the tables had before it ran (by dropping and recreating
	// a table, say) then fails the check with ErrDataLost, and every later
	// script runs on a database with data, as in production. Seed's rows
	// in tables that exist before the version stay for the later
	// versions (rows in the tables the version creates go with its down
	// script). Default: nil, no rows.
	Seed func(ctx context.Context, db *pgxpool.Pool, version int64) error
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
)

// RoundTripError is the error of [CheckRoundTrip]: the version whose round
// trip failed, the step that failed and what went wrong.
type RoundTripError struct {
	Version int64
	// Up and Down are the paths of the version's scripts.
	Up, Down string
	// Step is what failed: "up", "seed", "down" or "up again"; for the
	// repeatable scripts (Version is then the set's latest, Up names the
	// first script), "repeatable" or "repeatable again".
	Step string
	// Diff shows, for ErrDownIncomplete and ErrUpNotRepeatable, the
	// difference of the snapshots as cmp.Diff prints it (-want +got); for
	// ErrDataLost, the tables that lost rows.
	Diff string
	// Err is ErrDownIncomplete, ErrUpNotRepeatable, ErrDataLost, or the
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
		return fmt.Sprintf("%s: down script does not undo %s: schema before the up (-) and after the down (+):\n%s",
			e.Down, e.Up, e.Diff)
	case ErrUpNotRepeatable:
		return fmt.Sprintf("%s: applied again after %s, the up script gives another schema: first (-) and second time (+):\n%s",
			e.Up, e.Down, e.Diff)
	case ErrDataLost:
		return fmt.Sprintf("%s: down script loses rows:\n%s", e.Down, e.Diff)
	}
	return fmt.Sprintf("waymarktest: round trip of version %d: %s: %v", e.Version, e.Step, e.Err)
}

// Unwrap returns Err.
func (e *RoundTripError) Unwrap() error { return e.Err }

// Report says what a round trip checked.
type Report struct {
	// Checked lists the versions whose down script was checked, in order.
	Checked []int64
	// Irreversible lists the versions without a down script: they were
	// applied, and not checked.
	Irreversible []int64
	// Repeatables lists the repeatable scripts applied at the end, twice,
	// in name order.
	Repeatables []string
}

// RoundTrip checks, on a new empty database, that each down script of set
// undoes its up script (see [CheckRoundTrip]), and fails the test with
// the first [RoundTripError] (which names the script and shows the
// difference). It logs each version without a down script, and returns
// what it checked.
func RoundTrip(t testing.TB, set *source.Set, opts *RoundTripOptions) *Report {
	t.Helper()
	pool := Pool(t, nil, nil)
	rep, err := CheckRoundTrip(t.Context(), pool, set, opts)
	for _, v := range rep.Irreversible {
		m, _ := set.Lookup(v)
		t.Logf("waymarktest: version %d has no down script: %s applied, not checked", v, m.Up.Path)
	}
	if err != nil {
		t.Errorf("%v", err)
	}
	return rep
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
// goes down and up.
//
// It stops at the first problem and returns it as a *[RoundTripError],
// with the report of the versions checked before it. It leaves the
// database at the set's latest version when it succeeds.
func CheckRoundTrip(ctx context.Context, pool *pgxpool.Pool, set *source.Set, opts *RoundTripOptions) (*Report, error) {
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
	// Snapshots are read on a connection of their own: the pool's
	// connections that ran migration SQL are closed, and a new connection
	// reads the catalogs several times slower than one that has read them
	// before.
	reader, err := pool.Acquire(ctx)
	if err != nil {
		return rep, fmt.Errorf("waymarktest: %w", err)
	}
	defer reader.Release()
	// Migrations run on one connection too (pgxbackend starts every step
	// from the same session state on it), rather than on a new connection
	// for each of the three steps of each version. It has run migration
	// SQL, so it is closed, not returned to the pool, afterwards.
	migrator, err := pool.Acquire(ctx)
	if err != nil {
		return rep, fmt.Errorf("waymarktest: %w", err)
	}
	defer func() {
		migrator.Conn().Close(context.WithoutCancel(ctx))
		migrator.Release()
	}()
	rt := &roundTrip{pool: pool, reader: reader, db: pgxbackend.New(migrator.Conn(), o.Backend), set: set.WithoutRepeatables(), schema: &so, seed: o.Seed}
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
	if reps := set.Repeatables(); len(reps) > 0 {
		rt.set = set
		if err := rt.repeatables(ctx, rep, reps); err != nil {
			return rep, err
		}
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
	pool   *pgxpool.Pool
	reader *pgxpool.Conn // reads the schema and counts rows
	db     *pgxbackend.Backend
	set    *source.Set
	schema *schema.Options
	seed   func(ctx context.Context, db *pgxpool.Pool, version int64) error
}

func (rt *roundTrip) run(ctx context.Context, rep *Report) error {
	before, err := schema.Read(ctx, rt.reader, rt.schema)
	if err != nil {
		return &RoundTripError{Step: "read the schema", Err: err}
	}
	var rowsBefore map[string]int64 // with Seed: rows of each table at before
	prev := int64(0)
	for _, m := range rt.set.Migrations() {
		e := &RoundTripError{Version: m.Version, Up: m.Up.Path}
		if m.Down != nil {
			e.Down = m.Down.Path
		}
		fail := func(step string, err error) error {
			e.Step, e.Err = step, err
			return e
		}
		first, err := rt.apply(ctx, plan.To(m.Version))
		if err != nil {
			return fail("up", err)
		}
		if m.Down == nil {
			rep.Irreversible = append(rep.Irreversible, m.Version)
			before, prev = first, m.Version
			if rowsBefore, err = rt.rows(ctx, first); err != nil {
				return fail("up", err)
			}
			continue
		}

		var seeded map[string]int64
		if rt.seed != nil {
			if seeded, err = rt.seedRows(ctx, m.Version, first); err != nil {
				return fail("seed", err)
			}
		}
		afterDown, err := rt.apply(ctx, plan.DownTo(prev))
		if err != nil {
			return fail("down", err)
		}
		if diff := cmp.Diff(before, afterDown); diff != "" {
			e.Diff = diff
			return fail("down", ErrDownIncomplete)
		}
		if rt.seed != nil {
			lost, err := rt.lostRows(ctx, m.Version, afterDown, rowsBefore, seeded)
			if err != nil {
				return fail("down", err)
			}
			if lost != "" {
				e.Diff = lost
				return fail("down", ErrDataLost)
			}
		}

		second, err := rt.apply(ctx, plan.To(m.Version))
		if err != nil {
			return fail("up again", err)
		}
		if diff := cmp.Diff(first, second); diff != "" {
			e.Diff = diff
			return fail("up again", ErrUpNotRepeatable)
		}
		rep.Checked = append(rep.Checked, m.Version)
		before, prev = second, m.Version
		if rowsBefore, err = rt.rows(ctx, second); err != nil {
			return fail("up again", err)
		}
	}
	return nil
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

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
