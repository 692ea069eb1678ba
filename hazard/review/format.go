package review

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/hazard/measure"
)

// String prints the review as an annotated dry run: a header, then each
// step as the plan's dry run prints it followed by its statements (see
// [Step.String]), then a summary line.
//
//	review: up from 1 to 2 (1 step); rules for PostgreSQL 15; measured on PostgreSQL 15.8
//	  up  2  add_rank  m/v2_add_rank.up.sql  transaction  12.1ms
//	    1:1  ALTER TABLE players ADD COLUMN rank float8 DEFAULT random();  11.9ms
//	         confirmed    AccessExclusiveLock on players
//	         confirmed    rewrites players  (players, players_pkey)
//	         confirmed    scans players
//	         error        add-column-volatile-default at 1:45: DEFAULT calls random(), ...
//	                      safer: add the column without a default, ...
//	  1 finding, 1 to fix; the measurement agrees with the rules on 1 of 1 statement
func (r *Review) String() string {
	var b strings.Builder
	steps := "steps"
	if len(r.Steps) == 1 {
		steps = "step"
	}
	measured := "not measured"
	if r.Measured() {
		measured = "measured on PostgreSQL " + r.Server
	}
	if len(r.Steps) == 0 {
		fmt.Fprintf(&b, "review: nothing to do, the database is at version %d\n", r.From)
		return b.String()
	}
	fmt.Fprintf(&b, "review: %s from %d to %d (%d %s); rules for PostgreSQL %d; %s\n",
		r.Direction, r.From, r.To, len(r.Steps), steps, r.ServerVersion/10000, measured)
	for i := range r.Steps {
		st := &r.Steps[i]
		tx := "transaction"
		if st.NoTransaction {
			tx = "no-transaction"
		}
		name := st.Name
		if name == "" {
			name = "-"
		}
		version := strconv.FormatInt(st.Version, 10)
		if st.Repeatable {
			version = "R"
		}
		fmt.Fprintf(&b, "  %s  %s  %s  %s  %s", st.Direction, version, name, st.Path, tx)
		if st.Measured {
			fmt.Fprintf(&b, "  %s", formatDuration(st.Duration))
		}
		b.WriteString("\n")
		b.WriteString(st.String())
	}
	all, open := len(r.Findings()), len(r.Unaccepted())
	fmt.Fprintf(&b, "  %s, %d to fix", plural(all, "finding"), open)
	if r.Measured() {
		agree, n := r.Agreement()
		fmt.Fprintf(&b, "; the measurement agrees with the rules on %d of %s", agree, plural(n, "statement"))
	}
	b.WriteString("\n")
	if r.Error != "" {
		fmt.Fprintf(&b, "  the measurement stopped: %s\n", r.Error)
	}
	return b.String()
}

// String prints the step's statements, each with its predictions and
// their verdicts, its findings and what the measurement saw that no rule
// predicted, indented to stand under the step's line of a dry run.
func (s *Step) String() string {
	var b strings.Builder
	const indent = "         "
	width := 0
	for _, st := range s.Statements {
		width = max(width, len(fmt.Sprintf("%d:%d", st.Pos.Line, st.Pos.Column)))
	}
	for i := range s.Statements {
		st := &s.Statements[i]
		fmt.Fprintf(&b, "    %-*s  %s", width, fmt.Sprintf("%d:%d", st.Pos.Line, st.Pos.Column), measure.Abbrev(st.SQL, 72))
		if m := st.Measured; m != nil {
			fmt.Fprintf(&b, "  %s", formatDuration(m.Duration))
			if m.Observed {
				b.WriteString("  (locks seen while it ran)")
			}
		}
		b.WriteString("\n")
		if !st.Static.Known {
			fmt.Fprintf(&b, "%s%-12s %s\n", indent, "unknown", "waymark's rules do not model this statement")
		}
		for _, v := range st.Verdicts {
			line := v.Effect.String()
			if v.Detail != "" {
				line += "  (" + v.Detail + ")"
			}
			fmt.Fprintf(&b, "%s%-12s %s\n", indent, v.Status, line)
		}
		for _, f := range st.Unpredicted {
			fmt.Fprintf(&b, "%s%-12s %s\n", indent, "unpredicted", f)
		}
		if st.Failed != "" {
			fmt.Fprintf(&b, "%s%-12s %s\n", indent, "failed", st.Failed)
		}
		for _, f := range st.Refuted {
			fmt.Fprintf(&b, "%s%-12s %s: %s\n", indent, "refuted", f.Rule, "the measurement refutes it: "+f.Reason)
		}
		for _, f := range st.Findings {
			at := ""
			if f.Pos.Line != st.Pos.Line || f.Pos.Column != st.Pos.Column {
				at = fmt.Sprintf(" at %d:%d", f.Pos.Line, f.Pos.Column)
			}
			fmt.Fprintf(&b, "%s%-12s %s%s: %s\n", indent, f.Severity, f.Rule, at, f.Reason)
			if f.Allowed != nil {
				fmt.Fprintf(&b, "%s%-12s accepted: %s\n", indent, "", f.Allowed.Reason)
			} else {
				fmt.Fprintf(&b, "%s%-12s safer: %s\n", indent, "", f.Safer)
			}
		}
	}
	return b.String()
}

// formatDuration prints d in milliseconds with one decimal, or in seconds
// from 10 s.
func formatDuration(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

const jsonFormat = "waymark.review/v1"

// MarshalJSON encodes the review with a "format" field naming its layout,
// "waymark.review/v1".
func (r *Review) MarshalJSON() ([]byte, error) {
	type plain Review
	return json.Marshal(struct {
		Format string `json:"format"`
		*plain
	}{jsonFormat, (*plain)(r)})
}

// MarshalJSON encodes the step with its duration as text.
func (s Step) MarshalJSON() ([]byte, error) {
	type plain Step
	d := ""
	if s.Measured {
		d = s.Duration.String()
	}
	return json.Marshal(struct {
		plain
		Duration string `json:"duration,omitempty"`
	}{plain(s), d})
}

// MarshalJSON encodes the statement with its position.
func (s Statement) MarshalJSON() ([]byte, error) {
	type plain Statement
	return json.Marshal(struct {
		Pos hazard.Position `json:"pos"`
		plain
		Agrees bool `json:"agrees"`
	}{hazard.PositionOf(s.Pos), plain(s), s.Agrees()})
}

// MarshalJSON encodes the fact; for an index left invalid, which has no
// effect kind, the effect is only its relation.
func (f Fact) MarshalJSON() ([]byte, error) {
	type plain Fact
	if f.Effect.Kind != 0 {
		return json.Marshal(plain(f))
	}
	return json.Marshal(struct {
		Effect struct {
			Relation hazard.Name `json:"relation"`
		} `json:"effect"`
		InvalidIndex bool   `json:"invalid_index,omitempty"`
		Hazard       bool   `json:"hazard"`
		Detail       string `json:"detail,omitempty"`
	}{Effect: struct {
		Relation hazard.Name `json:"relation"`
	}{f.Effect.Relation}, InvalidIndex: f.InvalidIndex, Hazard: f.Hazard, Detail: f.Detail})
}
