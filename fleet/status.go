package fleet

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/status"
)

// TargetStatus is where one target stands.
type TargetStatus struct {
	// Target is the target's name.
	Target string
	// Report is the target's status report, or nil when its history
	// could not be read (Err).
	Report *status.Report
	// Err is why the history could not be read, or nil.
	Err error
}

// Conditions returns the target's conditions, in this order: "unreadable"
// (its history could not be read), "dirty", "drifted", "missing"
// (applied versions the files lack), "out-of-order", "behind" (pending
// versions, or repeatable scripts pending or changed: what the next run
// to the latest version applies); or "up to date" when it has none of
// them.
func (t TargetStatus) Conditions() []string {
	if t.Report == nil {
		return []string{"unreadable"}
	}
	var out []string
	for _, c := range []struct {
		name  string
		state status.State
	}{{"dirty", status.Dirty}, {"drifted", status.Drifted}, {"missing", status.Missing}, {"out-of-order", status.OutOfOrder}, {"behind", status.Pending}} {
		n := t.Report.Count(c.state)
		if c.state == status.Pending {
			n += t.Report.CountRepeatables(status.RepeatablePending) + t.Report.CountRepeatables(status.RepeatableChanged)
		}
		if n > 0 {
			out = append(out, c.name)
		}
	}
	if len(out) == 0 {
		return []string{"up to date"}
	}
	return out
}

// StatusReport is where every target of a fleet stands.
type StatusReport struct {
	// Latest is the highest version of the files.
	Latest int64
	// Targets has one entry per target, in the order they were given.
	Targets []TargetStatus
	// Duration is how long reading took.
	Duration time.Duration
}

// Status reads the history of every target, at most Options.Parallel at
// once, without locking and without writing, and reports each against set
// (with Options.Execute.Plan's checks). The error is an [ErrorList] of the
// targets whose history could not be read (ErrRead), or nil; a dirty or
// drifted target is not an error of Status. Invalid targets or options
// are refused before anything is read (ErrBadTarget), with a nil report.
func Status(ctx context.Context, targets []Target, set *source.Set, opts *Options) (*StatusReport, error) {
	start := time.Now()
	rep := &StatusReport{Latest: set.Latest(), Targets: make([]TargetStatus, len(targets))}
	err := readAll(ctx, targets, opts, func(ctx context.Context, i int, db backend.Backend, err error) bool {
		ts := &rep.Targets[i]
		ts.Target = targets[i].Name
		if err == nil {
			ts.Report, err = status.Read(ctx, db, set, planOptions(opts))
		}
		ts.Err = err
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	var errs ErrorList
	for i := range rep.Targets {
		ts := &rep.Targets[i]
		if ts.Target == "" { // not read: the context ended
			ts.Target, ts.Err = targets[i].Name, fmt.Errorf("not read: %w", context.Cause(ctx))
		}
		if ts.Err != nil {
			errs = append(errs, &Error{Target: ts.Target, Err: ErrRead, Cause: ts.Err})
		}
	}
	rep.Duration = time.Since(start)
	return rep, errs.err()
}

// readAll calls fn for every target, at most Options.Parallel at once, as
// Status and Plan do, after refusing invalid targets or options.
func readAll(ctx context.Context, targets []Target, opts *Options, fn work) error {
	o, err := withDefaults(opts)
	if err != nil {
		return err
	}
	cfgs, err := check(targets, nil)
	if err != nil {
		return err
	}
	all := make([]int, len(targets))
	for i := range all {
		all[i] = i
	}
	each(ctx, o.Parallel, targets, cfgs, all, new(atomic.Bool), fn)
	return nil
}

// Count returns how many targets have condition c (see
// [TargetStatus.Conditions]).
func (r *StatusReport) Count(c string) int {
	n := 0
	for _, t := range r.Targets {
		for _, tc := range t.Conditions() {
			if tc == c {
				n++
			}
		}
	}
	return n
}

// statusConditions are the conditions in the order the summary gives them.
var statusConditions = []string{"up to date", "behind", "dirty", "drifted", "missing", "out-of-order", "unreadable"}

// Summary returns one line: how many targets, and how many have each
// condition (a target may have several):
//
//	fleet status: 53 targets, files up to 19: 40 up to date, 12 behind, 1 dirty
func (r *StatusReport) Summary() string {
	var parts []string
	for _, c := range statusConditions {
		if n := r.Count(c); n > 0 || c == "up to date" {
			parts = append(parts, fmt.Sprintf("%d %s", n, c))
		}
	}
	return fmt.Sprintf("fleet status: %d targets, files up to %d: %s", len(r.Targets), r.Latest, strings.Join(parts, ", "))
}

// String prints a table of the targets, their version, pending versions
// and conditions, then the problems of each target that has some, then
// the summary line.
func (r *StatusReport) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TARGET\tVERSION\tPENDING\tSTATE")
	for _, t := range r.Targets {
		v, pending := "-", "-"
		if t.Report != nil {
			v = fmt.Sprint(t.Report.Current)
			pending = fmt.Sprint(t.Report.Count(status.Pending) + t.Report.Count(status.OutOfOrder))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Target, v, pending, strings.Join(t.Conditions(), ", "))
	}
	w.Flush()
	for _, t := range r.Targets {
		switch {
		case t.Err != nil:
			fmt.Fprintf(&b, "%s: %s\n", t.Target, indent(t.Err.Error()))
		case t.Report.Err != nil:
			fmt.Fprintf(&b, "%s: %s\n", t.Target, indent(t.Report.Err.Error()))
		}
	}
	b.WriteString(r.Summary())
	b.WriteString("\n")
	return b.String()
}

type jsonStatus struct {
	Format   string             `json:"format"`
	Latest   int64              `json:"latest"`
	Counts   map[string]int     `json:"counts"`
	Duration string             `json:"duration"`
	Targets  []jsonTargetStatus `json:"targets"`
}

type jsonTargetStatus struct {
	Target     string   `json:"target"`
	Version    *int64   `json:"version,omitempty"`
	Pending    []int64  `json:"pending"`
	Conditions []string `json:"conditions"`
	Problems   []string `json:"problems,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// MarshalJSON encodes the report for scripts (format
// "waymark.fleet.status/v1"): the count of targets per condition, and
// each target's version, pending versions, conditions and problems.
func (r *StatusReport) MarshalJSON() ([]byte, error) {
	j := jsonStatus{Format: "waymark.fleet.status/v1", Latest: r.Latest, Counts: map[string]int{}, Duration: r.Duration.String(),
		Targets: make([]jsonTargetStatus, len(r.Targets))}
	for _, c := range statusConditions {
		j.Counts[c] = r.Count(c)
	}
	for i, t := range r.Targets {
		jt := jsonTargetStatus{Target: t.Target, Pending: []int64{}, Conditions: t.Conditions()}
		if t.Err != nil {
			jt.Error = t.Err.Error()
		}
		if t.Report != nil {
			jt.Version = known(t.Report.Current)
			for _, e := range t.Report.Entries {
				if e.State == status.Pending || e.State == status.OutOfOrder {
					jt.Pending = append(jt.Pending, e.Version)
				}
			}
			if t.Report.Err != nil {
				jt.Problems = strings.Split(t.Report.Err.Error(), "\n")
			}
		}
		j.Targets[i] = jt
	}
	return marshal(j)
}
