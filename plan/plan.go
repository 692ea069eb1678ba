// Package plan works out how to take a database from the versions it has
// applied to a target version, as a [Plan] value that can be printed as a
// dry run, stored as JSON, compared in tests and then executed.
//
// [Compute] is a pure function of a [source.Set], a [State] and a [Target];
// [Build] reads the state from a backend first and never writes.
//
// # Targets
//
// [Latest] and [To] only ever go up: a service that boots with an older
// binary must not drop a column by accident. Going down needs [DownTo],
// which only ever goes down ([DownTo](0) undoes everything). A target that
// is already reached gives an empty plan, which is not an error.
//
// # Up
//
// An up plan applies, in ascending order, every version of the set up to
// the target that the database has not applied.
//
// # Repeatable scripts
//
// An up plan whose target is the set's latest version ends with a step
// for every repeatable script (source.Repeatable) that the database has not
// recorded with the file's checksum, new or changed, in name order; the
// others are not touched. A changed repeatable script is not drift: that
// is how one is meant to change. A plan to a lower version, and a plan
// that finds versions above the set's latest (an older binary during a
// rolling deploy, with [Options].AllowNewerDatabase), leave them alone: the
// newer scripts belong to the newer schema.
//
// A record of a repeatable script the set no longer has is left alone
// (the object it made stays in the database until a versioned migration
// drops it). A down plan forgets every repeatable script's record first
// ([Plan].ForgetRepeatables): a down step may have dropped what one made,
// so the next up plan to the latest version applies them all again.
//
// # Down
//
// A down plan runs, in descending order, the down script of every applied
// version above the target. A version without a down script is
// irreversible and stops the plan ([ErrIrreversible]).
//
// An applied version that the set does not have (a newer release applied
// it, and this binary is the old one it was rolled back to) is undone with
// the down script its history record keeps (backend.Record.Down, stored
// by the binary that applied it): the step is marked [Step].FromHistory,
// and its Path is "history:" and the version's file name, as the dry run
// and the review show. When the record keeps no down script because the
// version had none, the plan is refused with [ErrIrreversible]; when it
// was written by a history format or binary that kept none, with
// [ErrUnknownVersion]. An up step carries the version's down script
// ([Step].Down, DownSQL) so that its record keeps it.
//
// # Refusals
//
// Compute refuses to plan, and reports every reason at once, when:
//
//   - the target is not a version of the set, nor 0 ([ErrUnknownTarget]);
//   - reaching the target needs steps in the other direction ([ErrDirection]);
//   - the database has applied a version the set does not have
//     ([ErrUnknownVersion]; [Options].AllowNewerDatabase tolerates versions
//     above the set's latest, so that an older binary can run during a
//     rolling deploy);
//   - an applied up script's checksum differs from the file
//     ([ErrDrift]; [Options].IgnoreDrift turns the check off);
//   - going up, a version below the database's current one was never
//     applied ([ErrOutOfOrder]; [Options].AllowOutOfOrder applies it);
//   - a no-transaction script failed part-way and left its version dirty
//     ([ErrDirty]), until it is resolved (see execute.Resolve); an up
//     plan resumes instead a version left dirty by its up script when that
//     script is resumable (every statement a waymark:batch) and unchanged
//     ([Step].Resume);
//   - the State given lists a version twice or a version below 1
//     ([ErrBadState]); a backend never reads such a state.
//
// # Saved plans
//
// [Save] and [Load] keep a plan between a CI job's plan and apply steps,
// signed if a key is given. Load refuses a file with anything after the
// plan ([ErrTrailingData]) and a plan whose steps are not the path from its
// From to its To as far as the plan itself tells ([ErrNotPath]). Before
// running it, [Plan.CheckFiles] and [Plan.CheckPath] compare it with the
// files as they are now: a changed file ([ErrFileChanged]), or a step
// deleted from or added to the path the files give ([ErrNotPath]).
// execute.Run makes these checks when given the files.
package plan

import (
	"slices"
	"strconv"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

// Target is where a plan should take the database, and in which direction
// it may go to get there. The zero Target is [Latest].
type Target struct {
	kind    targetKind
	version int64 // unused for latest
}

type targetKind int8

const (
	latest targetKind = iota
	upTo
	downTo
)

// Latest is the highest version of the set, reached by going up only.
func Latest() Target { return Target{} }

// To is version v (0 for the empty schema), reached by going up only.
func To(v int64) Target { return Target{kind: upTo, version: v} }

// DownTo is version v (0 for the empty schema), reached by going down only.
func DownTo(v int64) Target { return Target{kind: downTo, version: v} }

// Version returns the version the target denotes for set: its latest
// version for [Latest], else the version given.
func (t Target) Version(set *source.Set) int64 {
	if t.kind == latest {
		return set.Latest()
	}
	return t.version
}

// String describes the target: "latest", "up to 3" or "down to 0".
func (t Target) String() string {
	switch t.kind {
	case upTo:
		return "up to " + strconv.FormatInt(t.version, 10)
	case downTo:
		return "down to " + strconv.FormatInt(t.version, 10)
	}
	return "latest"
}

// Options loosen the checks of [Compute]. A nil *Options means all false.
type Options struct {
	// AllowNewerDatabase tolerates applied versions above the set's latest
	// version that the set does not have: an older binary during a rolling
	// deploy. Up plans leave them alone. Default false: they are an error.
	AllowNewerDatabase bool
	// AllowOutOfOrder makes an up plan apply versions below the database's
	// current version that were never applied (a branch merged late),
	// instead of refusing. Default false.
	AllowOutOfOrder bool
	// IgnoreDrift skips comparing the checksums of applied up scripts with
	// the files. Default false: a changed file is an error.
	IgnoreDrift bool
}

// State is what a database has applied: its history.
type State struct {
	// Records lists the history records in ascending version order, one
	// per applied version (dirty ones included).
	Records []backend.Record
	// Repeatables lists the records of repeatable scripts in name order
	// (empty for a backend that does not record them).
	Repeatables []backend.RepeatableRecord
}

// Version returns the highest applied version, or 0.
func (s State) Version() int64 {
	var v int64
	for _, r := range s.Records {
		v = max(v, r.Version)
	}
	return v
}

// Equal reports whether s and o have the same versions with the same
// checksums and dirty markers; when and how fast they were applied does not
// matter.
func (s State) Equal(o State) bool {
	return slices.EqualFunc(s.Records, o.Records, func(a, b backend.Record) bool {
		return a.Version == b.Version && a.Checksum == b.Checksum && a.Dirty == b.Dirty
	}) && slices.EqualFunc(s.Repeatables, o.Repeatables, func(a, b backend.RepeatableRecord) bool {
		return a.Name == b.Name && a.Checksum == b.Checksum
	})
}

// Plan is the path from the database's state to a target.
type Plan struct {
	// From is the highest applied version before the plan runs.
	From int64
	// To is the highest applied version after it has run.
	To int64
	// Direction is Up or Down, or zero for an empty plan.
	Direction source.Direction
	// Steps are run in order: the versions' steps, then, going up, the
	// repeatable scripts' steps.
	Steps []Step
	// ForgetRepeatables, set on a down plan when the database has
	// repeatable scripts recorded, removes their records before the first
	// down step, so that the next up plan applies every repeatable script
	// again (a down step may have dropped what one defines).
	ForgetRepeatables bool
	// State is the state the plan was computed from. Executing the plan
	// refuses to start if the database's state has changed since.
	State State
}

// Step is one script to run and record.
type Step struct {
	// Version is the step's version; 0 for a repeatable script.
	Version int64
	// Name is the words of the file name: a version's name, or a
	// repeatable script's name, which identifies it.
	Name      string
	Direction source.Direction
	// Path names the script's file.
	Path string
	// Checksum is the SHA-256 of SQL.
	Checksum source.Checksum
	// NoTransaction says the script runs outside a transaction, one
	// statement at a time.
	NoTransaction bool
	// SQL is the script's text.
	SQL string
	// Repeatable marks the step of a repeatable script (Version 0,
	// Direction Up): it runs after the versions' steps and its record
	// replaces the script's earlier one.
	Repeatable bool
	// Down and DownSQL, on an up step, are what the history keeps with the
	// version's record: its down script (backend.DownKept, DownSQL holding
	// it) or that it has none (backend.DownNone). Zero (DownUnknown) in a
	// plan decoded from a format without them: nothing is kept.
	Down    backend.DownState
	DownSQL string
	// FromHistory, on a down step, says that SQL is the down script kept
	// with the version's history record by the binary that applied it,
	// because the set does not have the version (a newer release applied
	// it). Path then names no file: "history:" and the version's file name.
	FromHistory bool
	// Resume is set on an up step whose version a run left dirty part-way
	// through its script, a resumable one (source.Script.Resumable: every
	// statement a waymark:batch). The step runs the script again from its
	// first statement (each batch finds only the rows not yet done) and
	// records the version clean.
	Resume bool
}

// Empty reports whether the plan has nothing to do.
func (p *Plan) Empty() bool { return len(p.Steps) == 0 }

// Versions returns the versions of the steps, in the order they run,
// without the repeatable scripts' steps.
func (p *Plan) Versions() []int64 {
	vs := make([]int64, 0, len(p.Steps))
	for _, s := range p.Steps {
		if !s.Repeatable {
			vs = append(vs, s.Version)
		}
	}
	return vs
}

// Repeatables returns the names of the repeatable scripts the plan
// applies, in the order they run.
func (p *Plan) Repeatables() []string {
	var names []string
	for _, s := range p.Steps {
		if s.Repeatable {
			names = append(names, s.Name)
		}
	}
	return names
}

// stepOf makes the step that runs script sc of migration m.
func stepOf(m *source.Migration, sc *source.Script) Step {
	st := Step{
		Version:       m.Version,
		Name:          m.Name,
		Direction:     sc.Direction,
		Path:          sc.Path,
		SQL:           sc.SQL,
		Checksum:      sc.Checksum,
		NoTransaction: sc.NoTransaction,
	}
	if sc.Direction == source.Up {
		st.Down = backend.DownNone
		if m.Down != nil {
			st.Down, st.DownSQL = backend.DownKept, m.Down.SQL
		}
	}
	return st
}
