package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

// The JSON layouts of a plan, so that a plan stored by one release is
// refused, not misread, by a release that changed it. v2 is v1 with an
// optional signature (see [Save]); v3 adds to the steps the down script an
// up step records (down, down_sql), from_history, resume and repeatable,
// and to the plan the repeatable scripts' records (repeatables) and
// forget_repeatables. All three are read; a v1 or v2 plan with repeatable
// scripts is refused.
const (
	jsonFormatV1 = "waymark.plan/v1"
	jsonFormatV2 = "waymark.plan/v2"
	jsonFormat   = "waymark.plan/v3"
)

// ErrTrailingData means a plan file has more than the plan's JSON (and
// white space): bytes appended to it, which a signature does not cover.
// [Load] refuses such a file. Use [errors.Is].
var ErrTrailingData = errors.New("data after the plan's JSON")

type jsonPlan struct {
	Format    string           `json:"format"`
	From      int64            `json:"from"`
	To        int64            `json:"to"`
	Direction source.Direction `json:"direction"`
	Steps     []jsonStep       `json:"steps"`
	Applied   []jsonRecord     `json:"applied"`
	// Repeatables are the repeatable scripts' records (v3 only).
	Repeatables []jsonRepeatable `json:"repeatables,omitempty"`
	// Forget is Plan.ForgetRepeatables (v3 only).
	Forget bool `json:"forget_repeatables,omitempty"`
	// Signature is "hmac-sha256:" and the hex HMAC of the plan's canonical
	// encoding without it (v2 only).
	Signature string `json:"signature,omitempty"`
}

type jsonStep struct {
	Version       int64             `json:"version"`
	Name          string            `json:"name,omitempty"`
	Direction     source.Direction  `json:"direction"`
	Path          string            `json:"path"`
	Checksum      source.Checksum   `json:"checksum"`
	NoTransaction bool              `json:"no_transaction,omitempty"`
	SQL           string            `json:"sql"`
	Repeatable    bool              `json:"repeatable,omitempty"`
	Down          backend.DownState `json:"down,omitempty"`
	DownSQL       string            `json:"down_sql,omitempty"`
	FromHistory   bool              `json:"from_history,omitempty"`
	Resume        bool              `json:"resume,omitempty"`
}

type jsonRepeatable struct {
	Name      string          `json:"name"`
	Checksum  source.Checksum `json:"checksum"`
	AppliedAt time.Time       `json:"applied_at"`
	Duration  string          `json:"duration"`
}

type jsonRecord struct {
	Version   int64            `json:"version"`
	Name      string           `json:"name,omitempty"`
	Checksum  source.Checksum  `json:"checksum"`
	AppliedAt time.Time        `json:"applied_at"`
	Duration  string           `json:"duration"`
	Dirty     source.Direction `json:"dirty,omitempty"`
}

// MarshalJSON encodes the plan, SQL included, so that a plan reviewed in one
// CI step can be executed unchanged in the next. It does not escape < > &
// in the SQL, but json.Marshal escapes the result again: use [Save], or a
// json.Encoder with SetEscapeHTML(false), to keep the SQL readable.
func (p *Plan) MarshalJSON() ([]byte, error) {
	return encode(p.wire(), "")
}

// wire returns the plan in its JSON layout, unsigned.
func (p *Plan) wire() jsonPlan {
	w := jsonPlan{Format: jsonFormat, From: p.From, To: p.To, Direction: p.Direction,
		Steps: make([]jsonStep, len(p.Steps)), Applied: make([]jsonRecord, len(p.State.Records))}
	for i, s := range p.Steps {
		w.Steps[i] = jsonStep(s)
	}
	for i, r := range p.State.Records {
		w.Applied[i] = jsonRecord{Version: r.Version, Name: r.Name, Checksum: r.Checksum,
			AppliedAt: r.AppliedAt, Duration: r.Duration.String(), Dirty: r.Dirty}
	}
	for _, r := range p.State.Repeatables {
		w.Repeatables = append(w.Repeatables, jsonRepeatable{Name: r.Name, Checksum: r.Checksum, AppliedAt: r.AppliedAt, Duration: r.Duration.String()})
	}
	w.Forget = p.ForgetRepeatables
	return w
}

// hasRepeatables reports whether w has repeatable scripts, which only
// format v3 carries.
func (w jsonPlan) hasRepeatables() bool {
	if w.Forget || len(w.Repeatables) > 0 {
		return true
	}
	for _, s := range w.Steps {
		if s.Repeatable {
			return true
		}
	}
	return false
}

// encode writes w as JSON without HTML escaping, indented by indent (none
// if empty), without a final newline.
func encode(w jsonPlan, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("plan: encode JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON decodes a plan written by MarshalJSON or [Save], in any of
// its formats (v1, v2 or v3). It refuses unknown fields, another format,
// repeatable scripts in a format before v3, data after
// the plan ([ErrTrailingData]), steps out of order, a step whose SQL does
// not match its checksum (an edited plan), and steps that are not the
// path from the plan's From to its To as far as the plan itself tells
// ([Plan.CheckPath] without files; [ErrNotPath]). It does not check a
// signature: [Load] with a key does.
func (p *Plan) UnmarshalJSON(data []byte) error {
	w, err := decode(data)
	if err != nil {
		return err
	}
	q, err := w.plan()
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// decode parses data in a known format.
func decode(data []byte) (jsonPlan, error) {
	var w jsonPlan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return w, fmt.Errorf("plan: decode JSON: %w", err)
	}
	if end := int(dec.InputOffset()); len(bytes.TrimLeft(data[end:], " \t\r\n")) > 0 {
		rest := bytes.TrimLeft(data[end:], " \t\r\n")
		line := 1 + bytes.Count(data[:len(data)-len(rest)], []byte("\n"))
		return w, fmt.Errorf("plan: decode JSON: %w: %d bytes from line %d on, after the plan ends at byte %d", ErrTrailingData, len(rest), line, end)
	}
	switch {
	case w.Format == jsonFormatV1 && w.Signature != "":
		return w, fmt.Errorf("plan: decode JSON: format %q has no signature field", w.Format)
	case w.Format != jsonFormat && w.Format != jsonFormatV2 && w.Format != jsonFormatV1:
		return w, fmt.Errorf("plan: decode JSON: format %q, want %q, %q or %q", w.Format, jsonFormat, jsonFormatV2, jsonFormatV1)
	case w.Format != jsonFormat && w.hasRepeatables():
		return w, fmt.Errorf("plan: decode JSON: format %q has no repeatable scripts", w.Format)
	}
	return w, nil
}

// plan checks the decoded layout and returns its plan.
func (w jsonPlan) plan() (*Plan, error) {
	q := &Plan{From: w.From, To: w.To, Direction: w.Direction, ForgetRepeatables: w.Forget}
	for i, s := range w.Steps {
		st := Step(s)
		if err := checkStep(q.Direction, q.Steps, st); err != nil {
			return nil, fmt.Errorf("plan: decode JSON: step %d: %w", i+1, err)
		}
		q.Steps = append(q.Steps, st)
	}
	for _, r := range w.Applied {
		d, err := time.ParseDuration(r.Duration)
		if err != nil {
			return nil, fmt.Errorf("plan: decode JSON: applied version %d: %w", r.Version, err)
		}
		q.State.Records = append(q.State.Records, backend.Record{Version: r.Version, Name: r.Name,
			Checksum: r.Checksum, AppliedAt: r.AppliedAt, Duration: d, Dirty: r.Dirty})
	}
	for _, r := range w.Repeatables {
		d, err := time.ParseDuration(r.Duration)
		if err != nil {
			return nil, fmt.Errorf("plan: decode JSON: repeatable %s: %w", r.Name, err)
		}
		q.State.Repeatables = append(q.State.Repeatables, backend.RepeatableRecord{Name: r.Name,
			Checksum: r.Checksum, AppliedAt: r.AppliedAt, Duration: d})
	}
	if err := q.checkOwnPath(); err != nil {
		return nil, fmt.Errorf("plan: decode JSON: %w", err)
	}
	return q, nil
}

// checkStep checks that step s can follow steps in a plan going dir.
func checkStep(dir source.Direction, steps []Step, s Step) error {
	if s.Direction != dir {
		return fmt.Errorf("%s goes %s in a plan going %s", s.what(), s.Direction, dir)
	}
	var prev *Step
	if n := len(steps); n > 0 {
		prev = &steps[n-1]
	}
	switch {
	case s.Repeatable && (s.Version != 0 || s.Name == ""):
		return fmt.Errorf("repeatable script %q has version %d: want a name and no version", s.Name, s.Version)
	case s.Repeatable && prev != nil && prev.Repeatable && s.Name <= prev.Name:
		return fmt.Errorf("%s out of order after %s", s.what(), prev.what())
	case !s.Repeatable && prev != nil && prev.Repeatable:
		return fmt.Errorf("%s after %s: versions come first", s.what(), prev.what())
	case !s.Repeatable && prev != nil && (dir == source.Up && s.Version <= prev.Version || dir == source.Down && s.Version >= prev.Version):
		return fmt.Errorf("version %d out of order after %d", s.Version, prev.Version)
	}
	if source.ChecksumOf(s.SQL) != s.Checksum {
		return fmt.Errorf("%s (%s): SQL does not match its checksum; the plan was edited", s.what(), s.Path)
	}
	return nil
}

// what names the step in a message: "version 3" or "repeatable script
// active_users".
func (s Step) what() string {
	if s.Repeatable {
		return "repeatable script " + s.Name
	}
	return fmt.Sprintf("version %d", s.Version)
}
