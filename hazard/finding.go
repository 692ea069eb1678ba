package hazard

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/waymarkdb/waymark/internal/errfmt"
	"github.com/waymarkdb/waymark/source"
)

// Sentinel errors. Use [errors.Is].
var (
	// ErrHazard is what every [*Finding] unwraps to: a hazard that is
	// neither fixed nor accepted.
	ErrHazard = errors.New("migration hazard")
	// ErrUnknownRule: a waymark:allow directive names a rule that does not
	// exist.
	ErrUnknownRule = errors.New("unknown hazard rule")
	// ErrServerVersion: [Options].ServerVersion is not one waymark
	// supports.
	ErrServerVersion = errors.New("unsupported server version")
)

// Name is a relation's name as a statement writes it, each part as the
// server reads it (unquoted names folded to lower case). Schema is empty
// when the statement does not qualify the name.
type Name struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
}

// String returns the name as SQL would write it, quoting the parts that
// need it.
func (n Name) String() string {
	if n.Schema == "" {
		return quoteIdent(n.Name)
	}
	return quoteIdent(n.Schema) + "." + quoteIdent(n.Name)
}

// key identifies the relation in the checker's model of the schema: the
// schema "public" counts as no schema, since that is where unqualified
// names usually resolve.
func (n Name) key() string {
	if n.Schema == "" || n.Schema == "public" {
		return n.Name
	}
	return n.Schema + "." + n.Name
}

// quoteIdent quotes an identifier unless it is a plain lower-case one.
func quoteIdent(s string) string {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c == '_' || 'a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '$')
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// EffectKind is the kind of an [Effect].
type EffectKind int8

// The kinds of effect.
const (
	// Lock: the statement holds a lock of Mode on the relation until its
	// transaction ends.
	Lock EffectKind = iota + 1
	// Rewrite: the statement writes the relation (a table, with its
	// indexes, or an index) anew: its files are replaced.
	Rewrite
	// Scan: the statement reads every row of the table.
	Scan
)

// String returns "lock", "rewrite" or "scan".
func (k EffectKind) String() string {
	switch k {
	case Lock:
		return "lock"
	case Rewrite:
		return "rewrite"
	case Scan:
		return "scan"
	}
	return fmt.Sprintf("EffectKind(%d)", int8(k))
}

// MarshalText encodes k as its String.
func (k EffectKind) MarshalText() ([]byte, error) {
	if k < Lock || k > Scan {
		return nil, fmt.Errorf("hazard: invalid effect kind %d", int8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes the form MarshalText writes.
func (k *EffectKind) UnmarshalText(b []byte) error {
	for v := Lock; v <= Scan; v++ {
		if v.String() == string(b) {
			*k = v
			return nil
		}
	}
	return fmt.Errorf("hazard: unknown effect kind %q", b)
}

// Effect is something a statement does to one relation that existed
// before its script: what a rule predicts, and what a measurement can
// confirm.
type Effect struct {
	Kind EffectKind `json:"kind"`
	// Mode is the lock's mode, for a Lock.
	Mode LockMode `json:"mode,omitempty"`
	// Relation is the table (or index) as the statement names it.
	Relation Name `json:"relation"`
}

// String describes the effect: "AccessExclusiveLock on orders",
// "rewrites orders", "scans orders".
func (e Effect) String() string {
	switch e.Kind {
	case Lock:
		return e.Mode.String() + " on " + e.Relation.String()
	case Rewrite:
		return "rewrites " + e.Relation.String()
	case Scan:
		return "scans " + e.Relation.String()
	}
	return e.Kind.String() + " " + e.Relation.String()
}

// Finding is one hazard found in one statement.
type Finding struct {
	// Rule is the ID of the rule that found it.
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Pos is where the hazard is: the clause that causes it, or the
	// statement. Pos.Statement is the statement's number in its script.
	Pos source.Position `json:"-"`
	// Reason says in a line what the statement does and why it hurts.
	Reason string `json:"reason"`
	// Safer is the pattern to use instead, for this statement.
	Safer string `json:"safer"`
	// Predicts lists what the rule expects a measurement to see; empty
	// when the hazard cannot be measured (a rename breaking the running
	// release).
	Predicts []Effect `json:"predicts,omitempty"`
	// Allowed is the waymark:allow directive that accepts the hazard, or
	// nil.
	Allowed *source.Allow `json:"-"`
}

// Accepted reports whether a waymark:allow directive accepts the finding.
func (f *Finding) Accepted() bool { return f.Allowed != nil }

// Error formats the finding as "path:line:col: rule: reason", the form a
// compiler uses, ending with "(accepted: why)" when it is accepted.
func (f *Finding) Error() string {
	s := f.Pos.String() + ": " + f.Rule + ": " + f.Reason
	if f.Allowed != nil {
		s += " (accepted: " + f.Allowed.Reason + ")"
	}
	return s
}

// Unwrap returns [ErrHazard].
func (f *Finding) Unwrap() error { return ErrHazard }

// FindingList is a list of findings, sorted by file and position. As an
// error it prints one finding per line.
type FindingList []*Finding

// Error returns the findings, one per line.
func (l FindingList) Error() string { return errfmt.Lines(l) }

// Unwrap returns the findings, for errors.Is and errors.As.
func (l FindingList) Unwrap() []error { return errfmt.Errors(l) }

// Sort orders the list by path, line and column.
func (l FindingList) Sort() {
	slices.SortStableFunc(l, func(a, b *Finding) int { return comparePos(a.Pos, b.Pos) })
}

// Err returns the list, sorted, as an error, or nil if it is empty.
func (l FindingList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// Error is a problem that stops a check: a waymark:allow directive naming
// an unknown rule, or bad [Options].
type Error struct {
	// Pos is the directive's place, or the zero Position for a problem
	// with the options.
	Pos source.Position
	// Err is ErrUnknownRule or ErrServerVersion.
	Err error
	// Detail says what exactly is wrong.
	Detail string
}

// Error formats the problem as "path:line:col: kind: detail", or
// "hazard: kind: detail" when it has no place in a file.
func (e *Error) Error() string {
	where := "hazard"
	if e.Pos.Path != "" {
		where = e.Pos.String()
	}
	return where + ": " + e.Err.Error() + errfmt.Tail(e.Detail, nil)
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is every problem that stopped a check, sorted by file and
// position.
type ErrorList []*Error

// Error returns the problems, one per line.
func (l ErrorList) Error() string { return errfmt.Lines(l) }

// Unwrap returns the problems, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error { return errfmt.Errors(l) }

// Err returns the sorted list as an error, or nil if it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	slices.SortStableFunc(l, func(a, b *Error) int { return comparePos(a.Pos, b.Pos) })
	return l
}

// comparePos orders positions by path, line and column.
func comparePos(a, b source.Position) int {
	return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
}
