package measure

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/source"
)

// Report is what running a plan on a scratch database showed, step by
// step and statement by statement.
type Report struct {
	// ServerVersion is the scratch server's server_version_num, and
	// Server its version string ("15.8").
	ServerVersion int    `json:"server_version"`
	Server        string `json:"server"`
	Steps         []Step `json:"steps"`
}

// Step is the measurement of one step of the plan.
type Step struct {
	Version       int64            `json:"version"`
	Name          string           `json:"name,omitempty"`
	Path          string           `json:"path"`
	Direction     source.Direction `json:"direction"`
	NoTransaction bool             `json:"no_transaction,omitempty"`
	// Duration is the step's time on the scratch database, measurements
	// left out: the statements' durations, and BEGIN and COMMIT.
	Duration   time.Duration `json:"-"`
	Statements []Statement   `json:"statements"`
	// Existing lists the relations that existed when the step began (in
	// schemas other than the system's): what its statements find.
	Existing []Relation `json:"-"`
}

// Statement is the measurement of one statement.
type Statement struct {
	// Pos is where the statement starts in its script.
	Pos source.Position `json:"-"`
	SQL string          `json:"sql"`
	// Duration is how long the server took to run it.
	Duration time.Duration `json:"-"`
	// Locks are the table-level locks its backend held on relations
	// outside the system schemas when it finished, strongest first: those
	// its transaction took before it too (see Lock.Since). For a statement
	// that cannot run in a transaction block, the locks seen while it ran
	// (Observed).
	Locks []Lock `json:"locks,omitempty"`
	// Rewritten lists the relations whose files it replaced: a table
	// rewritten, an index rebuilt (also when it was dropped and made again
	// under the same name).
	Rewritten []Relation `json:"rewritten,omitempty"`
	// Scanned lists the tables it read with a sequential scan, when
	// ScansMeasured: counts are read from pg_stat_xact_user_tables, which
	// only a transaction can read before and after a statement.
	Scanned       []Relation `json:"scanned,omitempty"`
	ScansMeasured bool       `json:"scans_measured"`
	// InvalidIndexes lists the indexes it left invalid (indisvalid false).
	InvalidIndexes []Relation `json:"invalid_indexes,omitempty"`
	// Dropped lists the relations it removed.
	Dropped []Relation `json:"dropped,omitempty"`
	// Observed is set for a statement that refused to run in a
	// transaction block (CREATE INDEX CONCURRENTLY, VACUUM): its locks
	// were read by other sessions while it ran, at each of its waits (see
	// the package doc).
	Observed bool `json:"observed,omitempty"`
	// Control is set for a no-transaction script's own BEGIN, COMMIT or
	// ROLLBACK, which is run but not measured.
	Control bool `json:"control,omitempty"`
}

// Relation is a relation of the scratch database.
type Relation struct {
	// OID identifies the relation in the scratch database.
	OID uint32 `json:"-"`
	// Schema and Name are its schema and name as the statement called it
	// when it ran: after what the statements before it renamed (in
	// Step.Existing, as the step began).
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Kind is "table", "partitioned table", "index", "partitioned index",
	// "toast table", "sequence", "view", "materialized view" or "foreign
	// table".
	Kind string `json:"kind"`
	// Visible is set when the search_path finds the relation by its name
	// alone.
	Visible bool `json:"-"`
	// Table is the table the relation belongs to: an index's table, a
	// TOAST table's table, a partition's root, the table whose column
	// owns a sequence (serial and identity columns). 0 for a table of its
	// own.
	Table uint32 `json:"-"`
	// TableName names that table, as String does.
	TableName string `json:"table,omitempty"`
	// New is set when the step created the relation.
	New bool `json:"new,omitempty"`
	// Dropped is set, in a statement's Locks, for a relation that the
	// statement removed (or replaced by a new one of the same name, as
	// REINDEX CONCURRENTLY does).
	Dropped bool `json:"dropped,omitempty"`
}

// String names the relation as the server's regclass output does:
// schema-qualified when the search_path does not find it.
func (r Relation) String() string {
	n := hazard.Name{Name: r.Name}
	if !r.Visible {
		n.Schema = r.Schema
	}
	return n.String()
}

// Root returns the OID of the table the relation stands for: Table, or
// the relation itself.
func (r Relation) Root() uint32 {
	if r.Table != 0 {
		return r.Table
	}
	return r.OID
}

// Lock is a table-level lock held on a relation.
type Lock struct {
	Mode     hazard.LockMode `json:"mode"`
	Relation Relation        `json:"relation"`
	// Since is the number of the statement of the step that first held
	// the lock: this statement's own number when it took the lock.
	Since int `json:"since"`
}

// String describes the lock: "AccessExclusiveLock on orders".
func (l Lock) String() string { return l.Mode.String() + " on " + l.Relation.String() }

const jsonFormat = "waymark.measure/v1"

// MarshalJSON encodes the report with a "format" field naming its layout,
// "waymark.measure/v1".
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		Format string `json:"format"`
		*plain
	}{jsonFormat, (*plain)(r)})
}

// MarshalJSON encodes the step with its duration as text ("1.5ms").
func (s Step) MarshalJSON() ([]byte, error) {
	type plain Step
	return json.Marshal(struct {
		plain
		Duration string `json:"duration"`
	}{plain(s), s.Duration.String()})
}

// MarshalJSON encodes the statement with its position and its duration as
// text.
func (s Statement) MarshalJSON() ([]byte, error) {
	type plain Statement
	return json.Marshal(struct {
		Pos hazard.Position `json:"pos"`
		plain
		Duration string `json:"duration"`
	}{hazard.PositionOf(s.Pos), plain(s), s.Duration.String()})
}

// String lists what each statement was measured doing, step by step.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "measured on PostgreSQL %s\n", r.Server)
	for _, st := range r.Steps {
		tx := "transaction"
		if st.NoTransaction {
			tx = "no-transaction"
		}
		fmt.Fprintf(&b, "%s %d %s %s  %s\n", st.Direction, st.Version, orDash(st.Name), st.Path, tx)
		for _, s := range st.Statements {
			fmt.Fprintf(&b, "  %s  %s\n", s.Pos, Abbrev(s.SQL, 60))
			for _, line := range s.Facts() {
				fmt.Fprintf(&b, "      %s\n", line)
			}
		}
	}
	return b.String()
}

// Facts returns the statement's measurements as lines of text, without
// the duration: "locks: ...", "rewrites: ...", "scans: ...".
func (s *Statement) Facts() []string {
	var lines []string
	if s.Control {
		return nil
	}
	switch taken, held := locksText(s.Locks, s.Pos.Statement); {
	case taken != "" && s.Observed:
		lines = append(lines, "locks (seen while it ran): "+taken)
	case taken != "":
		lines = append(lines, "locks: "+taken)
	case held != "":
		lines = append(lines, "locks: none new; holds "+held)
	}
	if len(s.Rewritten) > 0 {
		lines = append(lines, "rewrites: "+relationsText(s.Rewritten))
	}
	switch {
	case len(s.Scanned) > 0:
		lines = append(lines, "scans: "+relationsText(s.Scanned))
	case !s.ScansMeasured:
		lines = append(lines, "scans: not measured outside a transaction")
	}
	if len(s.InvalidIndexes) > 0 {
		lines = append(lines, "invalid indexes: "+relationsText(s.InvalidIndexes))
	}
	if len(s.Dropped) > 0 {
		lines = append(lines, "drops: "+relationsText(s.Dropped))
	}
	return lines
}

// locksText lists the locks of ShareUpdateExclusive and stronger on
// relations that existed before the step: taken, those statement n took;
// held, when it took none, the strongest that earlier statements took.
// Locks on relations the step created are left out.
func locksText(locks []Lock, n int) (taken, held string) {
	var parts []string
	var strongest *Lock
	for i, l := range locks {
		if l.Relation.New || l.Mode < hazard.ShareUpdateExclusive {
			continue
		}
		if l.Since != n && n != 0 {
			if strongest == nil {
				strongest = &locks[i]
			}
			continue
		}
		s := l.String()
		if r := l.Relation; r.TableName != "" {
			kind := r.Kind
			if kind == "table" || kind == "partitioned table" {
				kind = "partition"
			}
			s += " (" + kind + " of " + r.TableName + ")"
		}
		parts = append(parts, s)
	}
	if strongest != nil {
		held = fmt.Sprintf("%s since statement %d", strongest, strongest.Since)
	}
	return strings.Join(parts, ", "), held
}

func relationsText(rels []Relation) string {
	parts := make([]string, len(rels))
	for i, r := range rels {
		parts[i] = r.String()
		if r.New {
			parts[i] += " (new)"
		}
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Abbrev returns the statement's first line, cut to at most n characters
// with "..." when it was longer or had more lines.
func Abbrev(sql string, n int) string {
	line, _, more := strings.Cut(strings.TrimSpace(sql), "\n")
	line = strings.TrimSpace(line)
	r := []rune(line)
	if len(r) > n {
		return string(r[:n-3]) + "..."
	}
	if more {
		return line + " ..."
	}
	return line
}
