// Package review puts a plan's static hazard check and its measurement
// side by side, statement by statement: each prediction of the check
// ([hazard.Effect]) is confirmed or refuted by what the server was seen
// doing, and what the server did that no rule predicted is reported as
// such.
//
// [Build] joins a [hazard.Report] from [hazard.CheckPlan] with a
// [measure.Report] from [measure.Run] for the same plan; without a
// measurement it shows the static check alone. A [Review] prints as an
// annotated dry run ([Review.String], or [Step.String] under each step of
// another rendering of the plan), marshals to JSON, and fails a CI job
// through [Review.Err] on any hazard that no waymark:allow directive
// accepts.
//
// # Verdicts
//
// The comparison is made per table: a lock, rewrite or scan of an index,
// of a TOAST table or of a partition counts for the table it belongs to
// (an ACCESS EXCLUSIVE lock on an index stops every query that plans with
// the table), except a lock on an index that the statement dropped, which
// was out of use by then.
// A predicted lock is confirmed when the statement's backend held a lock
// on the table at least as strong (one that conflicts with everything the
// predicted mode conflicts with); a predicted rewrite or scan when the
// measurement saw one. A prediction about a relation that did not exist
// when the step began cannot be checked ([New]); nor can a scan by a
// statement that ran outside a transaction block ([Unmeasured]).
//
// Measured facts that no prediction covers are listed as unpredicted: a
// lock of ShareUpdateExclusive or stronger that the statement took on an
// existing table, stronger than any predicted for it; a rewrite of an
// existing table or index; a full scan of a table that the rules did not
// expect the statement to touch, held locked against writes; an index
// left invalid. Those among them that
// block writes (or reads), rewrite, or leave an invalid index are hazards:
// findings of the measured rules [hazard.RuleMeasuredLock],
// [hazard.RuleMeasuredRewrite] and [hazard.RuleMeasuredInvalidIdx], which
// a waymark:allow directive before the statement accepts like any other.
// A lock adds nothing, and is not listed, when its step already held one
// as strong on the same table since an earlier statement: the sequence a
// serial column owns, locked by DROP TABLE of its table or by ALTER
// SEQUENCE after the owning column's ALTER COLUMN TYPE, counts for the
// table. Predictions and measurements name a relation as it is called
// when the statement runs, after the renames of the statements before it
// in the step.
//
// A refuted prediction changes the verdict: a static finding whose
// scans and rewrites were all measured not to happen (or, for a finding
// about a lock alone, whose locks were) is moved to [Statement].Refuted
// and fails nothing. CREATE INDEX IF NOT EXISTS of an index made where the
// rules cannot see it locks the table and builds nothing: its finding is
// refuted.
//
// A measurement that stopped at a failing statement is reviewed with
// [BuildPartial]: the review covers what was measured, the failing
// statement's locks and the INVALID index it may have left included,
// marks that statement with the error and carries it ([Review].Error).
package review

import (
	"errors"
	"fmt"
	"time"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/hazard/measure"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Status is what the measurement says of a prediction.
type Status int8

// The statuses.
const (
	// Confirmed: the measurement saw it.
	Confirmed Status = iota + 1
	// Refuted: the measurement saw otherwise.
	Refuted
	// Unmeasured: there is no measurement to compare with (no scratch
	// database, a failed run, or scans outside a transaction block).
	Unmeasured
	// New: the relation did not exist when the step began.
	New
)

// String returns "confirmed", "refuted", "unmeasured" or "new".
func (s Status) String() string {
	switch s {
	case Confirmed:
		return "confirmed"
	case Refuted:
		return "refuted"
	case Unmeasured:
		return "unmeasured"
	case New:
		return "new"
	}
	return fmt.Sprintf("Status(%d)", int8(s))
}

// MarshalText encodes s as its String.
func (s Status) MarshalText() ([]byte, error) {
	if s < Confirmed || s > New {
		return nil, fmt.Errorf("review: invalid status %d", int8(s))
	}
	return []byte(s.String()), nil
}

// Review is a plan with, for each statement, the static check's
// predictions and findings, what the measurement saw, and how they agree.
type Review struct {
	From      int64            `json:"from"`
	To        int64            `json:"to"`
	Direction source.Direction `json:"direction"`
	// ServerVersion is the version the static check judged for.
	ServerVersion int `json:"server_version"`
	// Server is the measured server's version ("15.8"), or "" when the
	// plan was not measured.
	Server string `json:"server,omitempty"`
	Steps  []Step `json:"steps"`
	// Error is the failure that stopped the measurement part-way, when
	// it did (see [BuildPartial]): the review then covers the steps and
	// statements measured before it, the failing one included.
	Error string `json:"error,omitempty"`
}

// Measured reports whether the review has a measurement.
func (r *Review) Measured() bool { return r.Server != "" }

// Step is one step of the plan.
type Step struct {
	Version       int64            `json:"version"`
	Name          string           `json:"name,omitempty"`
	Path          string           `json:"path"`
	Direction     source.Direction `json:"direction"`
	NoTransaction bool             `json:"no_transaction,omitempty"`
	// Repeatable marks a repeatable script's step (Version 0).
	Repeatable bool `json:"repeatable,omitempty"`
	// Measured is set when the measurement reached the step; Duration is
	// then its time on the scratch database.
	Measured   bool          `json:"measured"`
	Duration   time.Duration `json:"-"`
	Statements []Statement   `json:"statements"`
}

// Statement is one statement of a step.
type Statement struct {
	Pos source.Position `json:"-"`
	SQL string          `json:"sql"`
	// Static is the static check of the statement.
	Static hazard.Statement `json:"static"`
	// Measured is what the measurement saw, or nil.
	Measured *measure.Statement `json:"measured,omitempty"`
	// Verdicts judges each effect the static check predicted.
	Verdicts []Verdict `json:"verdicts,omitempty"`
	// Unpredicted lists measured facts that no prediction covers.
	Unpredicted []Fact `json:"unpredicted,omitempty"`
	// Findings are the static findings that the measurement did not
	// refute and, for each hazardous unpredicted fact, a finding of a
	// measured rule.
	Findings []*hazard.Finding `json:"findings,omitempty"`
	// Refuted are the static findings whose hazard the measurement
	// refuted: every scan or rewrite they predict (or, for a finding
	// about a lock alone, every lock) was measured not to happen. They
	// fail nothing.
	Refuted []*hazard.Finding `json:"refuted,omitempty"`
	// Failed is the error of the statement that stopped the measurement,
	// for the statement it stopped at; what was measured up to the
	// failure is in Measured.
	Failed string `json:"failed,omitempty"`
}

// Agrees reports whether the measurement confirms every prediction that
// it can check and saw nothing unpredicted. It is false for a statement
// that was not measured.
func (s *Statement) Agrees() bool {
	if s.Measured == nil {
		return false
	}
	for _, v := range s.Verdicts {
		if v.Status == Refuted {
			return false
		}
	}
	return len(s.Unpredicted) == 0
}

// Verdict judges one predicted effect.
type Verdict struct {
	Effect hazard.Effect `json:"effect"`
	Status Status        `json:"status"`
	// Detail says what was measured instead, for a refuted prediction.
	Detail string `json:"detail,omitempty"`
	// Rules are the findings' rules that predict the effect; empty when
	// only the checker's model of the statement does.
	Rules []string `json:"rules,omitempty"`
}

// Fact is a measured effect that no prediction covers.
type Fact struct {
	// Effect names the table it concerns (an index's or partition's
	// table), as the server names it.
	Effect hazard.Effect `json:"effect"`
	// InvalidIndex is set for an index left invalid; Effect then names the
	// index.
	InvalidIndex bool `json:"invalid_index,omitempty"`
	// Hazard is set when the fact blocks writes or reads, rewrites, or
	// leaves an invalid index: it is then also a finding.
	Hazard bool `json:"hazard"`
	// Detail says more: what was predicted instead, or which relations.
	Detail string `json:"detail,omitempty"`
}

// String describes the fact.
func (f Fact) String() string {
	s := f.Effect.String()
	if f.InvalidIndex {
		s = "leaves index " + f.Effect.Relation.String() + " invalid"
	}
	if f.Detail != "" {
		s += " (" + f.Detail + ")"
	}
	return s
}

// Build joins the static check and the measurement of plan p. static must
// come from [hazard.CheckPlan] of p; measured, from [measure.Run] of p, or
// nil for a review of the static check alone. A measurement that stopped
// at a failure covers the steps it reached.
func Build(p *plan.Plan, static *hazard.Report, measured *measure.Report) (*Review, error) {
	if static == nil || len(static.Scripts) != len(p.Steps) {
		return nil, fmt.Errorf("review: the static report does not cover the plan's %d steps", len(p.Steps))
	}
	r := &Review{From: p.From, To: p.To, Direction: p.Direction, ServerVersion: static.ServerVersion}
	if measured != nil {
		r.Server = measured.Server
		if len(measured.Steps) > len(p.Steps) {
			return nil, fmt.Errorf("review: the measurement has %d steps, the plan %d", len(measured.Steps), len(p.Steps))
		}
	}
	for i, ps := range p.Steps {
		sc := static.Scripts[i]
		if sc.Version != ps.Version || sc.Path != ps.Path {
			return nil, fmt.Errorf("review: step %d: the static report has version %d (%s), the plan %d (%s)", i+1, sc.Version, sc.Path, ps.Version, ps.Path)
		}
		step := Step{Version: ps.Version, Name: ps.Name, Path: ps.Path, Direction: ps.Direction, NoTransaction: ps.NoTransaction, Repeatable: ps.Repeatable}
		var ms *measure.Step
		if measured != nil && i < len(measured.Steps) {
			ms = &measured.Steps[i]
			if ms.Version != ps.Version || ms.Path != ps.Path {
				return nil, fmt.Errorf("review: step %d: the measurement has version %d (%s), the plan %d (%s)", i+1, ms.Version, ms.Path, ps.Version, ps.Path)
			}
			step.Measured, step.Duration = true, ms.Duration
		}
		var names *resolver
		if ms != nil {
			names = newResolver(ms.Existing)
		}
		for j, st := range sc.Statements {
			s := Statement{Pos: st.Pos, SQL: st.SQL, Static: st, Findings: append([]*hazard.Finding(nil), st.Findings...)}
			if ms != nil && j < len(ms.Statements) {
				s.Measured = &ms.Statements[j]
				names.follow(s.Measured)
			}
			compare(&s, names)
			step.Statements = append(step.Statements, s)
		}
		r.Steps = append(r.Steps, step)
	}
	return r, nil
}

// BuildPartial is [Build] for a measurement that stopped at a failure:
// measured and failure are what [measure.Run] returned. The review keeps
// what was measured, the failing statement's locks and invalid indexes
// included, marks that statement with the error ([Statement].Failed),
// and carries the error ([Review].Error). With a nil failure it is
// Build.
func BuildPartial(p *plan.Plan, static *hazard.Report, measured *measure.Report, failure error) (*Review, error) {
	r, err := Build(p, static, measured)
	if err != nil || failure == nil {
		return r, err
	}
	r.Error = failure.Error()
	var me *measure.Error
	if !errors.As(failure, &me) || !errors.Is(failure, measure.ErrStatement) {
		return r, nil
	}
	for i := range r.Steps {
		st := &r.Steps[i]
		if st.Version != me.Version || st.Path != me.Pos.Path {
			continue
		}
		// The failing statement is the last one measured.
		for j := len(st.Statements) - 1; j >= 0; j-- {
			if st.Statements[j].Measured != nil {
				st.Statements[j].Failed = me.Cause.Error()
				break
			}
		}
	}
	return r, nil
}

// Findings returns every finding, accepted ones included: the static ones
// and those of measured rules, in plan order.
func (r *Review) Findings() hazard.FindingList {
	var out hazard.FindingList
	for _, st := range r.Steps {
		for _, s := range st.Statements {
			out = append(out, s.Findings...)
		}
	}
	return out
}

// Unaccepted returns the findings no waymark:allow directive accepts.
func (r *Review) Unaccepted() hazard.FindingList {
	var out hazard.FindingList
	for _, f := range r.Findings() {
		if !f.Accepted() {
			out = append(out, f)
		}
	}
	return out
}

// Err returns the unaccepted findings as a [hazard.FindingList], or nil:
// what fails a CI job.
func (r *Review) Err() error { return r.Unaccepted().Err() }

// Agreement counts the measured statements and those among them whose
// measurement agrees with the static check ([Statement.Agrees]).
func (r *Review) Agreement() (agree, measured int) {
	for _, st := range r.Steps {
		for _, s := range st.Statements {
			if s.Measured == nil || s.Measured.Control {
				continue
			}
			measured++
			if s.Agrees() {
				agree++
			}
		}
	}
	return agree, measured
}
