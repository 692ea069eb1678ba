package fleet

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// TargetPlan is one target's plan, or why it has none.
type TargetPlan struct {
	// Target is the target's name.
	Target string
	// Plan is the target's plan, or nil when Err is set.
	Plan *plan.Plan
	// Err is why there is no plan: a plan.ErrorList when the plan was
	// refused (Refused), else the error reading the history.
	Err error
	// Refused says Err is waymark's refusal to plan, not a failure to
	// read.
	Refused bool
}

// PlanGroup is the targets that share one plan (the same steps from the
// same version), or one refusal or error.
type PlanGroup struct {
	// Targets names the targets, in the order they were given.
	Targets []string
	// Plan is the plan of the group's first target; the others' plans
	// have the same From, To, direction and steps. Nil for a group of
	// errors.
	Plan *plan.Plan
	// Err is the error shared by a group of targets without a plan
	// (Refused says whether it is a refusal), or nil.
	Err     error
	Refused bool
}

// PlanReport is every target's plan, and the targets grouped by plan.
type PlanReport struct {
	// Target is the target the plans lead to.
	Target plan.Target
	// Plans has one entry per target, in the order they were given.
	Plans []TargetPlan
	// Groups are the groups of targets with identical plans (the largest
	// first), then the groups of targets that have none (refused, then
	// unreadable).
	Groups []PlanGroup
	// Duration is how long planning took.
	Duration time.Duration
}

// Plan computes every target's plan to target, at most Options.Parallel
// at once, reading each history without locking or writing (as
// plan.Build, with Options.Execute.Plan's checks), and groups the targets
// with identical plans. The error is an [ErrorList] of the targets
// without a plan (ErrTargetRefused, ErrRead), or nil. Invalid targets or
// options are refused before anything is read (ErrBadTarget), with a nil
// report.
func Plan(ctx context.Context, targets []Target, set *source.Set, target plan.Target, opts *Options) (*PlanReport, error) {
	start := time.Now()
	rep := &PlanReport{Target: target, Plans: make([]TargetPlan, len(targets))}
	err := readAll(ctx, targets, opts, func(ctx context.Context, i int, db backend.Backend, err error) bool {
		tp := &rep.Plans[i]
		tp.Target = targets[i].Name
		if err != nil {
			tp.Err = fmt.Errorf("connect: %w", err)
			return false
		}
		st, err := plan.ReadState(ctx, db)
		if err != nil {
			tp.Err = err
			return false
		}
		tp.Plan, err = plan.Compute(set, st, target, planOptions(opts))
		tp.Err, tp.Refused = err, err != nil
		return true
	})
	if err != nil {
		return nil, err
	}
	var errs ErrorList
	for i := range rep.Plans {
		tp := &rep.Plans[i]
		if tp.Target == "" { // not read: the context ended
			tp.Target, tp.Err = targets[i].Name, fmt.Errorf("not read: %w", context.Cause(ctx))
		}
		switch {
		case tp.Refused:
			errs = append(errs, &Error{Target: tp.Target, Err: ErrTargetRefused, Cause: tp.Err})
		case tp.Err != nil:
			errs = append(errs, &Error{Target: tp.Target, Err: ErrRead, Cause: tp.Err})
		}
	}
	rep.Groups = group(rep.Plans)
	rep.Duration = time.Since(start)
	return rep, errs.err()
}

// group groups the targets with identical plans, or identical errors.
func group(plans []TargetPlan) []PlanGroup {
	var groups []PlanGroup
	byKey := map[string]int{}
	for _, tp := range plans {
		k := key(tp)
		i, ok := byKey[k]
		if !ok {
			i = len(groups)
			byKey[k] = i
			groups = append(groups, PlanGroup{Plan: tp.Plan, Err: tp.Err, Refused: tp.Refused})
		}
		groups[i].Targets = append(groups[i].Targets, tp.Target)
	}
	rank := func(g PlanGroup) int {
		switch {
		case g.Plan != nil:
			return 0
		case g.Refused:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(groups, func(a, b PlanGroup) int {
		c := cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(len(b.Targets), len(a.Targets)))
		if c == 0 && a.Plan != nil {
			c = cmp.Compare(a.Plan.From, b.Plan.From)
		}
		return c
	})
	return groups
}

// key identifies a plan by its versions and steps (their checksums), or
// an error by its message.
func key(tp TargetPlan) string {
	if tp.Plan == nil {
		return fmt.Sprintf("error %v %s", tp.Refused, tp.Err)
	}
	var b strings.Builder
	p := tp.Plan
	fmt.Fprintf(&b, "plan %d %d %d", p.From, p.To, p.Direction)
	for _, s := range p.Steps {
		fmt.Fprintf(&b, " %d:%s", s.Version, s.Checksum)
	}
	return b.String()
}

// Count returns how many targets have a plan with steps (pending), have
// nothing to do (done), were refused, or could not be read.
func (r *PlanReport) Count() (pending, done, refused, unreadable int) {
	for _, tp := range r.Plans {
		switch {
		case tp.Refused:
			refused++
		case tp.Err != nil:
			unreadable++
		case tp.Plan.Empty():
			done++
		default:
			pending++
		}
	}
	return pending, done, refused, unreadable
}

// Summary returns one line:
//
//	fleet plan: 53 targets, latest, in 3 groups: 50 with steps, 2 with nothing to do, 1 refused
func (r *PlanReport) Summary() string {
	pending, done, refused, unreadable := r.Count()
	s := fmt.Sprintf("fleet plan: %d targets, %s, in %d %s: %d with steps, %d with nothing to do",
		len(r.Plans), r.Target, len(r.Groups), plural(len(r.Groups), "group", "groups"), pending, done)
	if refused > 0 {
		s += fmt.Sprintf(", %d refused", refused)
	}
	if unreadable > 0 {
		s += fmt.Sprintf(", %d unreadable", unreadable)
	}
	return s
}

// shownNames is how many names of a group String lists.
const shownNames = 10

// String prints every group: how many targets, where they are and what
// their plan does, their names (the first ten), and the group's dry run
// or error; then the summary line.
//
//	412 targets at 17: up to 19, apply 18, 19
//	  tenant_a, tenant_b, tenant_c, ... and 402 more
//	  plan: up from 17 to 19 (2 steps)
//	    up  18  orders  m/v18_orders.up.sql  transaction  sha256:720dd23e
//	    ...
func (r *PlanReport) String() string {
	var b strings.Builder
	for _, g := range r.Groups {
		n := len(g.Targets)
		names := g.Targets
		more := ""
		if len(names) > shownNames {
			names, more = names[:shownNames], fmt.Sprintf(", ... and %d more", n-shownNames)
		}
		switch {
		case g.Plan != nil:
			fmt.Fprintf(&b, "%d %s at %d: %s\n", n, plural(n, "target", "targets"), g.Plan.From, describe(g.Plan))
		case g.Refused:
			fmt.Fprintf(&b, "%d %s refused\n", n, plural(n, "target", "targets"))
		default:
			fmt.Fprintf(&b, "%d %s unreadable\n", n, plural(n, "target", "targets"))
		}
		fmt.Fprintf(&b, "  %s%s\n", strings.Join(names, ", "), more)
		text := ""
		switch {
		case g.Plan != nil && !g.Plan.Empty():
			text = g.Plan.String()
		case g.Err != nil:
			text = g.Err.Error() + "\n"
		}
		for _, line := range strings.SplitAfter(text, "\n") {
			if line != "" {
				b.WriteString("  " + line)
			}
		}
	}
	b.WriteString(r.Summary())
	b.WriteString("\n")
	return b.String()
}

// describe says what a plan does: "nothing to do", "up to 19, apply 18,
// 19", "down to 3, revert 5, 4".
func describe(p *plan.Plan) string {
	if p.Empty() {
		return "nothing to do"
	}
	vs := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		vs[i] = fmt.Sprint(s.Version)
	}
	verb := "apply"
	if p.Direction == source.Down {
		verb = "revert"
	}
	return fmt.Sprintf("%s to %d, %s %s", p.Direction, p.To, verb, strings.Join(vs, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

type jsonPlanReport struct {
	Format     string          `json:"format"`
	Target     string          `json:"target"`
	Targets    int             `json:"targets"`
	Pending    int             `json:"pending"`
	Done       int             `json:"nothing_to_do"`
	Refused    int             `json:"refused"`
	Unreadable int             `json:"unreadable"`
	Duration   string          `json:"duration"`
	Groups     []jsonPlanGroup `json:"groups"`
}

type jsonPlanGroup struct {
	Targets   []string         `json:"targets"`
	From      *int64           `json:"from,omitempty"`
	To        *int64           `json:"to,omitempty"`
	Direction source.Direction `json:"direction,omitempty"`
	Versions  []int64          `json:"versions"`
	Refused   bool             `json:"refused,omitempty"`
	Error     string           `json:"error,omitempty"`
}

// MarshalJSON encodes the report for scripts (format
// "waymark.fleet.plan/v1"): the counts and the groups, each with its
// targets and its plan's versions, or its error.
func (r *PlanReport) MarshalJSON() ([]byte, error) {
	pending, done, refused, unreadable := r.Count()
	j := jsonPlanReport{Format: "waymark.fleet.plan/v1", Target: r.Target.String(), Targets: len(r.Plans),
		Pending: pending, Done: done, Refused: refused, Unreadable: unreadable, Duration: r.Duration.String(),
		Groups: make([]jsonPlanGroup, len(r.Groups))}
	for i, g := range r.Groups {
		jg := jsonPlanGroup{Targets: g.Targets, Versions: []int64{}, Refused: g.Refused}
		if g.Plan != nil {
			jg.From, jg.To, jg.Direction, jg.Versions = known(g.Plan.From), known(g.Plan.To), g.Plan.Direction, g.Plan.Versions()
		}
		if g.Err != nil {
			jg.Error = g.Err.Error()
		}
		j.Groups[i] = jg
	}
	return marshal(j)
}
