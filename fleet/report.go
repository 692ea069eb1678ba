package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Outcome is how a target's run ended.
type Outcome int8

// The outcomes of a target's run.
const (
	// NoOp: the target was already there.
	NoOp Outcome = iota + 1
	// Applied: steps were applied and the target got there.
	Applied
	// Refused: waymark's checks refused the plan before changing anything
	// (Result.Err says why: a plan.ErrorList, invalid backend options).
	Refused
	// Failed: the run failed (Result.Err says how); the steps before the
	// failure stay applied (Result.Steps).
	Failed
	// Skipped: the target was not started (Report.Stopped says why).
	Skipped
)

var outcomeNames = [...]string{NoOp: "no-op", Applied: "applied", Refused: "refused", Failed: "failed", Skipped: "skipped"}

// String returns "no-op", "applied", "refused", "failed" or "skipped".
func (o Outcome) String() string {
	if o > 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int8(o))
}

// MarshalText encodes o as its String.
func (o Outcome) MarshalText() ([]byte, error) {
	if o <= 0 || int(o) >= len(outcomeNames) {
		return nil, fmt.Errorf("fleet: invalid outcome %d", int8(o))
	}
	return []byte(o.String()), nil
}

// Result is what became of one target.
type Result struct {
	// Target is the target's name; Canary says it ran as a canary.
	Target string
	Canary bool
	// Outcome is how its run ended.
	Outcome Outcome
	// From is the target's version before the run and To after it; both
	// are -1 when the run did not get as far as reading the history.
	From, To int64
	// Steps are the steps that took effect; To is the version they took
	// the target to.
	Steps []execute.StepResult
	// Unconfirmed are the steps after Steps that may or may not have
	// taken effect: the run lost its connection before they were known to
	// be on disk (see execute.Result.Unconfirmed). The target's history
	// tells; running again finishes the job.
	Unconfirmed []execute.StepResult
	// Duration is how long the target's run took, connecting included.
	Duration time.Duration
	// Err is the error of a Refused or Failed target: an
	// *execute.StepError for a failing step, a plan.ErrorList for a
	// refused plan.
	Err error
}

// Report is what a fleet run did, target by target.
type Report struct {
	// Target is the version every target was taken to.
	Target plan.Target
	// Results has one entry per target, in the order they were given.
	Results []Result
	// Duration is how long the whole run took.
	Duration time.Duration
	// Stopped says why some targets were not started ([ErrCanaryFailed],
	// [ErrStopped] or the context's error), or is nil when all were.
	Stopped error
}

// Count returns how many targets ended with o.
func (r *Report) Count(o Outcome) int {
	n := 0
	for _, res := range r.Results {
		if res.Outcome == o {
			n++
		}
	}
	return n
}

// Slowest returns the result of the target whose run took longest, or
// nil when no target ran.
func (r *Report) Slowest() *Result {
	var s *Result
	for i := range r.Results {
		res := &r.Results[i]
		if res.Outcome != Skipped && (s == nil || res.Duration > s.Duration) {
			s = res
		}
	}
	return s
}

// Err returns an [ErrorList] with an [*Error] per target that failed
// (ErrTargetFailed) or was refused (ErrTargetRefused), each wrapping the
// target's error, and one for the targets not started (ErrNotStarted,
// wrapping Stopped); or nil when every target got there.
func (r *Report) Err() error {
	var errs ErrorList
	for _, res := range r.Results {
		switch res.Outcome {
		case Failed:
			errs = append(errs, &Error{Target: res.Target, Err: ErrTargetFailed, Cause: res.Err})
		case Refused:
			errs = append(errs, &Error{Target: res.Target, Err: ErrTargetRefused, Cause: res.Err})
		}
	}
	if n := r.Count(Skipped); n > 0 {
		why := r.Stopped
		if why == nil {
			why = errors.New("unknown reason")
		}
		errs = append(errs, &Error{Err: ErrNotStarted, Detail: fmt.Sprintf("%d of %d targets", n, len(r.Results)), Cause: why})
	}
	return errs.err()
}

// Summary returns one line: how many targets, how each ended, the
// slowest, and the time taken:
//
//	fleet: 53 targets, latest: 50 applied, 2 no-op, 1 failed; slowest tenant_7 (1.2s); took 4.5s
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fleet: %d targets, %s: %d applied, %d no-op, %d failed", len(r.Results), r.Target, r.Count(Applied), r.Count(NoOp), r.Count(Failed))
	for _, o := range []Outcome{Refused, Skipped} {
		if n := r.Count(o); n > 0 {
			fmt.Fprintf(&b, ", %d %s", n, o)
		}
	}
	if s := r.Slowest(); s != nil {
		fmt.Fprintf(&b, "; slowest %s (%v)", s.Target, round(s.Duration))
	}
	fmt.Fprintf(&b, "; took %v", round(r.Duration))
	if r.Stopped != nil {
		fmt.Fprintf(&b, "; not started: %v", r.Stopped)
	}
	return b.String()
}

// String prints a table of the targets, then the errors of those that
// failed or were refused, then the summary line:
//
//	TARGET    OUTCOME  FROM  TO  STEPS  TOOK
//	tenant_a  applied  0     3   3      45ms
//	tenant_b  failed   1     1   0      12ms
//	tenant_b: m/v2_x.up.sql:1:8: ERROR: ...
//	fleet: 2 targets, latest: 1 applied, 0 no-op, 1 failed; slowest tenant_a (45ms); took 50ms
func (r *Report) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TARGET\tOUTCOME\tFROM\tTO\tSTEPS\tTOOK")
	for _, res := range r.Results {
		canary := ""
		if res.Canary {
			canary = " (canary)"
		}
		took := "-"
		if res.Outcome != Skipped {
			took = round(res.Duration).String()
		}
		fmt.Fprintf(w, "%s%s\t%s\t%s\t%s\t%d\t%s\n", res.Target, canary, res.Outcome, version(res.From), version(res.To), len(res.Steps), took)
	}
	w.Flush()
	for _, res := range r.Results {
		if res.Err != nil {
			fmt.Fprintf(&b, "%s: %s\n", res.Target, indent(res.Err.Error()))
		}
		if len(res.Unconfirmed) > 0 {
			vs := make([]string, len(res.Unconfirmed))
			for i, s := range res.Unconfirmed {
				vs[i] = fmt.Sprint(s.Version)
			}
			fmt.Fprintf(&b, "%s: %d step(s) unconfirmed (version %s): the connection was lost before they were known to be on disk; "+
				"a crash undoes such a step whole: the history tells, and running again finishes the job\n", res.Target, len(vs), strings.Join(vs, ", "))
		}
	}
	b.WriteString(r.Summary())
	b.WriteString("\n")
	return b.String()
}

// version prints a version, or "-" for an unknown one.
func version(v int64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprint(v)
}

// indent indents the lines after the first of a multi-line message.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

// round shortens a duration for a report: milliseconds, or microseconds
// below one.
func round(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// jsonFormat names the JSON layout of a run report.
const jsonFormat = "waymark.fleet/v1"

type jsonReport struct {
	Format   string       `json:"format"`
	Target   string       `json:"target"`
	Targets  int          `json:"targets"`
	Applied  int          `json:"applied"`
	NoOp     int          `json:"no_op"`
	Refused  int          `json:"refused"`
	Failed   int          `json:"failed"`
	Skipped  int          `json:"skipped"`
	Slowest  string       `json:"slowest,omitempty"`
	Duration string       `json:"duration"`
	Stopped  string       `json:"stopped,omitempty"`
	Results  []jsonResult `json:"results"`
}

type jsonResult struct {
	Target  string     `json:"target"`
	Canary  bool       `json:"canary,omitempty"`
	Outcome Outcome    `json:"outcome"`
	From    *int64     `json:"from,omitempty"`
	To      *int64     `json:"to,omitempty"`
	Steps   []jsonStep `json:"steps"`
	// Unconfirmed: see Result.Unconfirmed.
	Unconfirmed []jsonStep `json:"unconfirmed,omitempty"`
	Duration    string     `json:"duration,omitempty"`
	Error       string     `json:"error,omitempty"`
}

type jsonStep struct {
	Version   int64            `json:"version"`
	Name      string           `json:"name,omitempty"`
	Direction source.Direction `json:"direction"`
	Duration  string           `json:"duration"`
}

// known returns &v, or nil for an unknown version.
func known(v int64) *int64 {
	if v < 0 {
		return nil
	}
	return &v
}

// MarshalJSON encodes the report for scripts (format "waymark.fleet/v1"):
// the counts, and each target's outcome, versions, steps and error
// message.
func (r *Report) MarshalJSON() ([]byte, error) {
	j := jsonReport{Format: jsonFormat, Target: r.Target.String(), Targets: len(r.Results),
		Applied: r.Count(Applied), NoOp: r.Count(NoOp), Refused: r.Count(Refused), Failed: r.Count(Failed), Skipped: r.Count(Skipped),
		Duration: r.Duration.String(), Results: make([]jsonResult, len(r.Results))}
	if s := r.Slowest(); s != nil {
		j.Slowest = s.Target
	}
	if r.Stopped != nil {
		j.Stopped = r.Stopped.Error()
	}
	for i, res := range r.Results {
		jr := jsonResult{Target: res.Target, Canary: res.Canary, Outcome: res.Outcome, From: known(res.From), To: known(res.To), Steps: []jsonStep{}}
		if res.Outcome != Skipped {
			jr.Duration = res.Duration.String()
		}
		for _, s := range res.Steps {
			jr.Steps = append(jr.Steps, jsonStep{s.Version, s.Name, s.Direction, s.Duration.String()})
		}
		for _, s := range res.Unconfirmed {
			jr.Unconfirmed = append(jr.Unconfirmed, jsonStep{s.Version, s.Name, s.Direction, s.Duration.String()})
		}
		if res.Err != nil {
			jr.Error = res.Err.Error()
		}
		j.Results[i] = jr
	}
	return marshal(j)
}

// marshal encodes v without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("fleet: encode JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
