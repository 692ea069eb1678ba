package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

// Compute works out the plan that takes a database in state to target,
// using the migrations of set. It does no I/O. A nil opts means the
// defaults of [Options]. When it refuses (see the package doc), the error
// is an [ErrorList] with an [*Error] per reason.
func Compute(set *source.Set, state State, target Target, opts *Options) (*Plan, error) {
	if opts == nil {
		opts = &Options{}
	}
	applied := slices.Clone(state.Records)
	slices.SortFunc(applied, func(a, b backend.Record) int { return cmp.Compare(a.Version, b.Version) })
	for i, r := range applied {
		if r.Version <= 0 || i > 0 && applied[i-1].Version == r.Version {
			return nil, ErrorList{{Err: ErrBadState, Version: r.Version, Detail: "listed twice, or not a positive version"}}
		}
	}
	c := computer{set: set, opts: opts, down: target.kind == downTo, target: target.version,
		steps: make([]Step, 0, max(set.Len()-len(applied), 0))}
	if target.kind == latest {
		c.target = set.Latest()
	}
	if c.target < 0 || c.target > 0 && !has(set, c.target) {
		return nil, ErrorList{{Err: ErrUnknownTarget, Version: c.target,
			Detail: fmt.Sprintf("the source has versions %d to %d", first(set), set.Latest())}}
	}
	if len(applied) > 0 {
		c.current = applied[len(applied)-1].Version
	}

	// Walk the set and the history together, both ascending.
	ms := set.Migrations()
	i := 0
	for _, r := range applied {
		for i < len(ms) && ms[i].Version < r.Version {
			c.unapplied(ms[i])
			i++
		}
		if i < len(ms) && ms[i].Version == r.Version {
			c.applied(r, ms[i])
			i++
		} else {
			c.unknown(r)
		}
	}
	for ; i < len(ms); i++ {
		c.unapplied(ms[i])
	}
	c.checkDirection()
	if err := c.errs.Err(); err != nil {
		return nil, err
	}
	p := &Plan{From: c.current, To: c.current, Steps: c.steps, State: State{Records: applied, Repeatables: slices.Clone(state.Repeatables)}}
	if c.down {
		slices.Reverse(p.Steps)
		p.To = c.below
		p.ForgetRepeatables = len(p.Steps) > 0 && len(state.Repeatables) > 0
	} else {
		if n := len(p.Steps); n > 0 {
			p.To = max(c.current, p.Steps[n-1].Version)
		}
		if c.target == set.Latest() && !c.newer {
			p.Steps = append(p.Steps, repeatables(set, state.Repeatables)...)
		}
	}
	if len(p.Steps) > 0 {
		p.Direction = p.Steps[0].Direction
	} else {
		p.Steps = nil
	}
	return p, nil
}

// computer holds the state of one Compute call.
type computer struct {
	set     *source.Set
	opts    *Options
	down    bool
	target  int64
	current int64 // highest applied version
	below   int64 // highest applied version not above target
	steps   []Step
	above   []int64 // applied versions above an up target
	newer   bool    // versions above the set's latest are tolerated
	errs    ErrorList
}

// unapplied visits a version of the set that the database has not applied.
func (c *computer) unapplied(m *source.Migration) {
	if c.down {
		return
	}
	if m.Version < c.current && !c.opts.AllowOutOfOrder {
		c.errs = append(c.errs, &Error{Err: ErrOutOfOrder, Version: m.Version, Path: m.Up.Path,
			Detail: fmt.Sprintf("the database is already at %d; apply it with Options.AllowOutOfOrder, or renumber it above %d", c.current, c.current)})
		return
	}
	if m.Version <= c.target {
		c.steps = append(c.steps, stepOf(m, m.Up))
	}
}

// applied visits a version that is both in the set and in the history.
func (c *computer) applied(r backend.Record, m *source.Migration) {
	if !c.opts.IgnoreDrift && r.Checksum != m.Up.Checksum {
		c.errs = append(c.errs, &Error{Err: ErrDrift, Version: r.Version, Path: m.Up.Path,
			Detail: fmt.Sprintf("applied with checksum %s, the file now has %s; restore the file, or plan with Options.IgnoreDrift", r.Checksum.Short(), m.Up.Checksum.Short())})
	}
	path := m.Up.Path
	if r.Dirty == source.Down && m.Down != nil {
		path = m.Down.Path
	}
	if r.Dirty == source.Up && !c.down && m.Up.Resumable() && r.Checksum == m.Up.Checksum {
		// Its batches carry on where the interrupted run stopped.
		c.place(r)
		if r.Version <= c.target {
			st := stepOf(m, m.Up)
			st.Resume = true
			c.steps = append(c.steps, st)
		} else {
			c.above = append(c.above, r.Version)
		}
		return
	}
	c.dirty(r, path)
	c.place(r)
	switch {
	case r.Version <= c.target:
	case !c.down:
		c.above = append(c.above, r.Version)
	case m.Down == nil:
		c.errs = append(c.errs, &Error{Err: ErrIrreversible, Version: r.Version, Path: m.Up.Path,
			Detail: fmt.Sprintf("it has no down script, so the database cannot go below %d", r.Version)})
	default:
		c.steps = append(c.steps, stepOf(m, m.Down))
	}
}

// unknown visits a version in the history that the set does not have.
func (c *computer) unknown(r backend.Record) {
	if !c.down && r.Version > c.set.Latest() && c.opts.AllowNewerDatabase {
		// A newer release applied it, or is applying it: leave it alone.
		c.place(r)
		c.newer = true
		return
	}
	c.dirty(r, "")
	c.place(r)
	switch {
	case c.down && r.Version > c.target && r.Down == backend.DownKept:
		c.fromHistory(r)
	case c.down && r.Version > c.target && r.Down == backend.DownNone:
		c.errs = append(c.errs, &Error{Err: ErrIrreversible, Version: r.Version, Path: historyPath(r),
			Detail: fmt.Sprintf("its file is not in this set, and its history record says it has no down script, so the database cannot go below %d", r.Version)})
	case c.down && r.Version > c.target:
		c.errs = append(c.errs, &Error{Err: ErrUnknownVersion, Version: r.Version,
			Detail: "its file is not in this set, and its history record keeps no down script (written by a waymark or history format that did not keep them), so the database cannot go below it"})
	case c.down:
		c.errs = append(c.errs, &Error{Err: ErrUnknownVersion, Version: r.Version,
			Detail: "its file is missing: deleted, renamed, or never merged into this branch"})
	case r.Version > c.set.Latest():
		c.errs = append(c.errs, &Error{Err: ErrUnknownVersion, Version: r.Version,
			Detail: fmt.Sprintf("the source ends at %d; if a newer release applied it, plan with Options.AllowNewerDatabase", c.set.Latest())})
	default:
		c.errs = append(c.errs, &Error{Err: ErrUnknownVersion, Version: r.Version,
			Detail: "its file is missing: deleted, renamed, or never merged into this branch"})
	}
}

// historyPrefix starts the Path of a step whose SQL comes from the
// history.
const historyPrefix = "history:"

// historyPath is the Path of the down step that r's kept script makes.
func historyPath(r backend.Record) string {
	name := fmt.Sprintf("v%d", r.Version)
	if r.Name != "" {
		name += "_" + r.Name
	}
	return historyPrefix + name + ".down.sql"
}

// fromHistory plans the down step of r, a version the set does not have,
// with the down script its record keeps.
func (c *computer) fromHistory(r backend.Record) {
	path := historyPath(r)
	sc, err := source.ParseScript(path, []byte(r.DownSQL), source.Down)
	if err != nil {
		c.errs = append(c.errs, &Error{Err: ErrBadState, Version: r.Version, Path: path,
			Detail: fmt.Sprintf("the down script kept in its history record is not a valid script: %v", err)})
		return
	}
	c.steps = append(c.steps, Step{Version: r.Version, Name: r.Name, Direction: source.Down, Path: path,
		SQL: sc.SQL, Checksum: sc.Checksum, NoTransaction: sc.NoTransaction, FromHistory: true})
}

// dirty reports a record left dirty by a failed no-transaction script.
func (c *computer) dirty(r backend.Record, path string) {
	if r.Dirty == 0 {
		return
	}
	c.errs = append(c.errs, &Error{Err: ErrDirty, Version: r.Version, Path: path,
		Detail: fmt.Sprintf("its no-transaction %s script did not finish; if it failed (rather than still running elsewhere), repair the database by hand, then record the outcome with execute.Resolve", r.Dirty)})
}

// place tracks the highest applied version not above the target.
func (c *computer) place(r backend.Record) {
	if r.Version <= c.target {
		c.below = r.Version
	}
}

// checkDirection refuses a target that lies the other way.
func (c *computer) checkDirection() {
	switch {
	case !c.down && len(c.above) > 0:
		c.errs = append(c.errs, &Error{Err: ErrDirection, Version: c.target,
			Detail: fmt.Sprintf("the database has applied %s above it; going down must be asked for with plan.DownTo(%d)", list(c.above), c.target)})
	case c.down && c.target > c.current:
		c.errs = append(c.errs, &Error{Err: ErrDirection, Version: c.target,
			Detail: fmt.Sprintf("the database is at %d and plan.DownTo only goes down; go up with plan.To(%d)", c.current, c.target)})
	}
}

// repeatables returns the steps of the set's repeatable scripts that recs,
// the database's records, do not have with the file's checksum.
func repeatables(set *source.Set, recs []backend.RepeatableRecord) []Step {
	recorded := make(map[string]source.Checksum, len(recs))
	for _, r := range recs {
		recorded[r.Name] = r.Checksum
	}
	var steps []Step
	for _, r := range set.Repeatables() {
		if c, ok := recorded[r.Name]; ok && c == r.Script.Checksum {
			continue
		}
		st := stepOf(&source.Migration{Name: r.Name}, r.Script)
		st.Repeatable, st.Down = true, backend.DownUnknown // no down script to keep
		steps = append(steps, st)
	}
	return steps
}

// has reports whether the set has version v.
func has(set *source.Set, v int64) bool {
	_, ok := set.Lookup(v)
	return ok
}

// first returns the lowest version of the set.
func first(set *source.Set) int64 {
	if ms := set.Migrations(); len(ms) > 0 {
		return ms[0].Version
	}
	return 0
}

// list formats versions for a message: "version 7" or "versions 5, 6, 7".
func list(vs []int64) string {
	const most = 10
	parts := make([]string, 0, min(len(vs), most))
	for i, v := range vs {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(vs)-most))
			break
		}
		parts = append(parts, fmt.Sprint(v))
	}
	if len(vs) == 1 {
		return "version " + parts[0]
	}
	return "versions " + strings.Join(parts, ", ")
}
