package plan

import (
	"errors"
	"fmt"

	"github.com/waymarkdb/waymark/source"
)

// ErrNotPath means a plan's steps are not exactly the path from its From
// to its To: a step was deleted, added, reordered or edited by hand in a
// saved plan, or the files give another path ([Plan.CheckPath]). Use
// [errors.Is].
var ErrNotPath = errors.New("steps are not the plan's path")

// CheckPath reports whether the steps of p are exactly the path from
// p.From to p.To for the state p was made from (p.State): the check to
// make, with [Plan.CheckFiles], before running a plan that was saved
// earlier.
//
// Without set (nil), it checks what the plan itself tells: p.From is the
// highest version of p.State; the steps all go p.Direction, in order; an
// up plan's steps are versions p.State has not applied, and p.To is the
// higher of p.From and its last step; a down plan's steps are every
// version of p.State above p.To, p.To being 0 or a version of p.State.
// The versions between them that an up plan leaves out cannot be known
// without the files. Repeatable scripts' steps come after the versions',
// in name order, only in an up plan, and only for a script the state has
// not recorded with the step's checksum; ForgetRepeatables only on a down
// plan with steps, from a state with repeatable scripts recorded, as
// Compute sets it.
//
// With set, it also computes the plan for p.State and p's target from set
// ([Compute], with opts, which should be the options p was made with) and
// refuses a plan whose versions, repeatable scripts or steps differ from
// it: a step deleted from a saved plan is found here. A state set refuses to plan from (a
// drift, for instance) is reported as such, in the [ErrorList] Compute
// returns.
//
// It returns nil, or an [ErrorList] with an [*Error] (wrapping
// [ErrNotPath]) per difference, naming the version (0 for a repeatable
// script, named in the message, with its file).
func (p *Plan) CheckPath(set *source.Set, opts *Options) error {
	if err := p.checkOwnPath(); err != nil {
		return err
	}
	if set == nil || p.Empty() {
		return nil
	}
	target := To(p.To)
	switch {
	case p.Direction == source.Down:
		target = DownTo(p.To)
	case p.To > set.Latest():
		// A database newer than set (Options.AllowNewerDatabase): the
		// plan can only apply versions below set's latest.
		target = To(set.Latest())
	}
	want, err := Compute(set, p.State, target, opts)
	if err != nil {
		return err
	}
	var errs ErrorList
	bad := func(v int64, path, format string, args ...any) {
		errs = append(errs, &Error{Err: ErrNotPath, Version: v, Path: path, Detail: fmt.Sprintf(format, args...)})
	}
	got := p.stepsByKey()
	for _, st := range want.Steps {
		mine, ok := got[st.key()]
		switch {
		case !ok && st.Repeatable:
			bad(0, st.Path, "the files say the path from %d to %d applies the %s, the plan does not: a step deleted from it? plan again", p.From, p.To, st.what())
		case !ok:
			bad(st.Version, st.Path, "the path from %d to %d %s it (the files say so), the plan does not: a step deleted from it? plan again", p.From, p.To, verb(st.Direction))
		case mine.Checksum != st.Checksum || mine.NoTransaction != st.NoTransaction:
			bad(st.Version, st.Path, "the plan's step of %s is not the files' %s script; plan again", st.what(), st.Direction)
		}
		delete(got, st.key())
	}
	for _, st := range p.Steps {
		if _, extra := got[st.key()]; extra {
			bad(st.Version, st.Path, "the plan %s the %s, but the path from %d to %d the files give does not: a step added to it? plan again", verb(st.Direction), st.what(), p.From, p.To)
		}
	}
	if want.From != p.From || want.To != p.To {
		bad(p.To, "", "the files give a path from %d to %d, the plan says from %d to %d; plan again", want.From, want.To, p.From, p.To)
	}
	if want.ForgetRepeatables != p.ForgetRepeatables {
		bad(p.To, "", "the files give a plan that %s the repeatable scripts' records, the plan %s; plan again", forgets(want.ForgetRepeatables), forgets(p.ForgetRepeatables))
	}
	return errs.Err()
}

// checkOwnPath checks the steps of p against its own From, To and State.
func (p *Plan) checkOwnPath() error {
	var errs ErrorList
	bad := func(v int64, path, format string, args ...any) {
		errs = append(errs, &Error{Err: ErrNotPath, Version: v, Path: path, Detail: fmt.Sprintf(format, args...)})
	}
	if p.Empty() {
		// Nothing to run. (Migrate's plan for a database with nothing to
		// do may carry no state.)
		if p.To != p.From || p.Direction != 0 {
			bad(p.To, "", "the plan has no steps, yet goes %s from %d to %d", p.Direction, p.From, p.To)
		}
		if p.ForgetRepeatables {
			bad(p.To, "", "the plan has no steps, yet forgets the repeatable scripts' records")
		}
		return errs.Err()
	}
	switch {
	case p.ForgetRepeatables && p.Direction != source.Down:
		bad(p.To, "", "the plan goes %s, yet forgets the repeatable scripts' records (only a down plan does)", p.Direction)
	case p.ForgetRepeatables && len(p.State.Repeatables) == 0:
		bad(p.To, "", "the plan forgets the repeatable scripts' records, but the state it was made from has none")
	case !p.ForgetRepeatables && p.Direction == source.Down && len(p.State.Repeatables) > 0:
		bad(p.To, "", "the plan goes down, but does not forget the repeatable scripts' records the state it was made from has; plan again")
	}
	recorded := make(map[string]source.Checksum, len(p.State.Repeatables))
	for _, r := range p.State.Repeatables {
		recorded[r.Name] = r.Checksum
	}
	if top := p.State.Version(); p.From != top {
		bad(p.From, "", "the plan starts at %d, but the state it was made from is at %d", p.From, top)
	}
	applied := make(map[int64]bool, len(p.State.Records))
	dirtyUp := make(map[int64]bool)
	for _, r := range p.State.Records {
		applied[r.Version] = true
		if r.Dirty == source.Up {
			dirtyUp[r.Version] = true
		}
	}
	for i, st := range p.Steps {
		if err := checkStep(p.Direction, p.Steps[:i], st); err != nil {
			bad(st.Version, st.Path, "%v", err)
		}
		switch {
		case st.Repeatable && st.Resume:
			bad(0, st.Path, "the plan resumes the %s, but only a version's step resumes", st.what())
		case st.Repeatable && p.Direction != source.Up:
			bad(0, st.Path, "the plan goes %s, yet has the %s (only an up plan applies them)", p.Direction, st.what())
		case st.Repeatable:
			if c, ok := recorded[st.Name]; ok && c == st.Checksum {
				bad(0, st.Path, "the plan applies the %s, but the state it was made from has it recorded with the same checksum", st.what())
			}
		case p.Direction == source.Up && st.Resume && !dirtyUp[st.Version]:
			bad(st.Version, st.Path, "the plan resumes it, but the state it was made from does not have it left part-way up")
		case p.Direction == source.Up && !st.Resume && applied[st.Version]:
			bad(st.Version, st.Path, "the plan applies it, but the state it was made from has it applied")
		case p.Direction == source.Down && !applied[st.Version]:
			bad(st.Version, st.Path, "the plan undoes it, but the state it was made from does not have it applied")
		case p.Direction == source.Down && st.Version <= p.To:
			bad(st.Version, st.Path, "the plan undoes it, but it is not above the plan's end, %d", p.To)
		}
	}
	switch p.Direction {
	case source.Up:
		var last int64 // the last version's step's (the repeatable scripts' come after)
		for _, st := range p.Steps {
			if !st.Repeatable {
				last = st.Version
			}
		}
		if p.To != max(p.From, last) {
			bad(p.To, "", "the plan ends at %d, but its last step applies %d from %d", p.To, last, p.From)
		}
	case source.Down:
		if p.To != 0 && !applied[p.To] {
			bad(p.To, "", "the plan goes down to %d, which the state it was made from does not have applied", p.To)
		}
		got := p.stepsByKey()
		for _, r := range p.State.Records {
			if _, ok := got[stepKey{version: r.Version}]; r.Version > p.To && !ok {
				bad(r.Version, "", "applied above the plan's end, %d, but the plan does not undo it: a step deleted from it? plan again", p.To)
			}
		}
	default:
		bad(p.To, "", "the plan has steps but no direction")
	}
	return errs.Err()
}

// stepKey identifies a step of a plan: its version, or a repeatable
// script's name.
type stepKey struct {
	version int64
	name    string // a repeatable script's, else ""
}

// key is the step's stepKey.
func (s Step) key() stepKey {
	if s.Repeatable {
		return stepKey{name: s.Name}
	}
	return stepKey{version: s.Version}
}

// stepsByKey returns the steps of p by key.
func (p *Plan) stepsByKey() map[stepKey]Step {
	m := make(map[stepKey]Step, len(p.Steps))
	for _, st := range p.Steps {
		m[st.key()] = st
	}
	return m
}

// forgets says whether a plan forgets the repeatable scripts' records.
func forgets(yes bool) string {
	if yes {
		return "forgets"
	}
	return "does not forget"
}

// verb says what a step of direction d does to its version.
func verb(d source.Direction) string {
	if d == source.Down {
		return "undoes"
	}
	return "applies"
}
