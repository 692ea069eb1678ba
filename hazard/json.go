package hazard

import (
	"encoding/json"

	"github.com/waymarkdb/waymark/source"
)

// jsonFormat names the JSON layout of a [Report].
const jsonFormat = "waymark.hazard/v1"

// Position is the JSON form of a [source.Position]: where a statement or
// a finding is.
type Position struct {
	Path      string `json:"path"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	Statement int    `json:"statement,omitempty"`
}

// PositionOf returns the JSON form of p.
func PositionOf(p source.Position) Position {
	return Position{Path: p.Path, Line: p.Line, Column: p.Column, Statement: p.Statement}
}

// MarshalJSON encodes the report with a "format" field naming its layout,
// "waymark.hazard/v1".
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		Format string `json:"format"`
		*plain
		LockTimeout string `json:"lock_timeout,omitempty"`
	}{jsonFormat, (*plain)(r), durationText(r.LockTimeout)})
}

// MarshalJSON encodes the statement with its position and allow
// directives.
func (s Statement) MarshalJSON() ([]byte, error) {
	type plain Statement
	return json.Marshal(struct {
		Pos Position `json:"pos"`
		plain
	}{PositionOf(s.Pos), plain(s)})
}

// MarshalJSON encodes the finding with its position and, when it is
// accepted, the reason given.
func (f *Finding) MarshalJSON() ([]byte, error) {
	type plain Finding
	accepted := ""
	if f.Allowed != nil {
		accepted = f.Allowed.Reason
	}
	return json.Marshal(struct {
		Pos Position `json:"pos"`
		*plain
		Accepted string `json:"accepted,omitempty"`
	}{PositionOf(f.Pos), (*plain)(f), accepted})
}

func durationText(d interface{ String() string }) string {
	if s := d.String(); s != "0s" {
		return s
	}
	return ""
}
