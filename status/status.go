// Package status reports, version by version, how a database's migration
// history stands against a set of migration files: applied (when, how
// long), pending, dirty, drifted, out of order, or applied but missing from
// the files.
//
// [Compute] is a pure function of a [source.Set] and a [plan.State]; [Read]
// reads the state from a backend first, taking no lock and writing nothing
// (not even the history table), so it is safe against production at any
// time, even while another process migrates.
//
// # States
//
// A version's state says whether [plan.Compute] would refuse because of it,
// and the [Entry] carries those very refusals: the report is derived from
// the planner's own checks, so status and plan never disagree.
//
//	applied       in the history and the files, checksums equal, clean
//	              (imported: recorded by import-history or baseline, not
//	              run by waymark; see Entry.Imported)
//	pending       in the files, not applied; the next up plan applies it
//	dirty         its no-transaction script did not finish (plan.ErrDirty;
//	              a resumable script's version, all waymark:batch, is
//	              resumed by the next up plan instead)
//	drifted       applied, but its up file has changed since (plan.ErrDrift)
//	missing       applied, but not in the files (plan.ErrUnknownVersion,
//	              unless a newer release applied it and the options
//	              allow that)
//	out-of-order  not applied, below the highest applied version
//	              (plan.ErrOutOfOrder)
//	bad-file      its up file cannot be read as a migration (see
//	              Report.FileProblems): nothing is known of it but its
//	              history record, if any
//
// # Repeatable scripts
//
// The report lists the repeatable scripts (source.Repeatable) apart, by
// name, each in one of these states ([RepeatableState]):
//
//	applied   recorded with the file's checksum
//	changed   recorded with another checksum; the next up plan to the
//	          latest version applies it again
//	pending   in the files, not recorded; the next up plan applies it
//	removed   recorded, but no longer in the files; nothing is done about
//	          it (a versioned migration drops what it made)
package status

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// State is where one version stands.
type State int8

// The states of a version; see the package doc.
const (
	Applied State = iota + 1
	Pending
	Dirty
	Drifted
	Missing
	OutOfOrder
	// BadFile is a version whose up file is in Report.FileProblems: it
	// could not be compared. Compute never sets it; a caller that reports
	// despite bad files does.
	BadFile
)

var stateNames = [...]string{Applied: "applied", Pending: "pending", Dirty: "dirty", Drifted: "drifted", Missing: "missing", OutOfOrder: "out-of-order", BadFile: "bad-file"}

// String returns the state's name: "applied", "pending", "dirty",
// "drifted", "missing", "out-of-order" or "bad-file".
func (s State) String() string {
	if s > 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int8(s))
}

// MarshalText encodes s as its String.
func (s State) MarshalText() ([]byte, error) {
	if s <= 0 || int(s) >= len(stateNames) {
		return nil, fmt.Errorf("status: invalid state %d", int8(s))
	}
	return []byte(s.String()), nil
}

// Entry is one version of the report.
type Entry struct {
	Version int64
	// Name is the name part of its file name, or the name recorded in the
	// history for a Missing version.
	Name  string
	State State
	// Path is its up script's file, or "" for a Missing version.
	Path string
	// AppliedAt and Duration come from its history record, and are zero
	// when it is not applied.
	AppliedAt time.Time
	Duration  time.Duration
	// Imported is set when its record was imported rather than run by
	// waymark (backend.Record.Imported: import-history, baseline); then
	// AppliedAt is when the other tool applied it, if that tool kept the
	// time, and there is no Duration.
	Imported bool
	// Recorded is the checksum in its history record (zero when not
	// applied); File is its up script's checksum (zero when Missing).
	Recorded, File source.Checksum
	// Dirty is the direction of the no-transaction script that did not
	// finish, or zero.
	Dirty source.Direction
	// Problems are the reasons [plan.Compute] refuses a plan to the latest
	// version because of this version, or nil.
	Problems plan.ErrorList
}

// RepeatableState is where one repeatable script stands; see the package
// doc.
type RepeatableState int8

// The states of a repeatable script.
const (
	RepeatableApplied RepeatableState = iota + 1
	RepeatableChanged
	RepeatablePending
	RepeatableRemoved
)

var repeatableNames = [...]string{RepeatableApplied: "applied", RepeatableChanged: "changed", RepeatablePending: "pending", RepeatableRemoved: "removed"}

// String returns the state's name: "applied", "changed", "pending" or
// "removed".
func (s RepeatableState) String() string {
	if s > 0 && int(s) < len(repeatableNames) {
		return repeatableNames[s]
	}
	return fmt.Sprintf("RepeatableState(%d)", int8(s))
}

// MarshalText encodes s as its String.
func (s RepeatableState) MarshalText() ([]byte, error) {
	if s <= 0 || int(s) >= len(repeatableNames) {
		return nil, fmt.Errorf("status: invalid repeatable state %d", int8(s))
	}
	return []byte(s.String()), nil
}

// RepeatableEntry is one repeatable script of the report.
type RepeatableEntry struct {
	Name  string
	State RepeatableState
	// Path is its file, or "" when it was removed from the files.
	Path string
	// AppliedAt and Duration come from its record, zero when it has none.
	AppliedAt time.Time
	Duration  time.Duration
	// Recorded is the checksum of its record (zero when pending); File its
	// file's (zero when removed).
	Recorded, File source.Checksum
}

// Report is the state of every version, in ascending order.
type Report struct {
	// Current is the database's highest applied version (0 for none);
	// Latest is the highest version of the files.
	Current, Latest int64
	Entries         []Entry
	// Repeatables are the repeatable scripts, of the files and of the
	// history, in name order.
	Repeatables []RepeatableEntry
	// Err is the plan.ErrorList with which plan.Compute refuses to plan up
	// to the latest version, or nil when it would not refuse.
	Err error
	// FileProblems are the problems of migration files that could not be
	// read as migrations, and were left out of the set the report was
	// computed from; a caller that reports the database's state despite
	// bad files sets it (the waymark command's status does). Plans are
	// refused until they are fixed. Default nil.
	FileProblems source.ErrorList
}

// CountRepeatables returns how many repeatable scripts are in state s.
func (r *Report) CountRepeatables(s RepeatableState) int {
	n := 0
	for _, e := range r.Repeatables {
		if e.State == s {
			n++
		}
	}
	return n
}

// Count returns how many versions are in state s.
func (r *Report) Count(s State) int {
	n := 0
	for _, e := range r.Entries {
		if e.State == s {
			n++
		}
	}
	return n
}

// Read reads the state of db, without locking and without writing, and
// reports it against set. A nil opts means the defaults of plan.Options,
// as for [plan.Build]. The error is only about reading the state.
func Read(ctx context.Context, db backend.Backend, set *source.Set, opts *plan.Options) (*Report, error) {
	st, err := plan.ReadState(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return Compute(set, st, opts), nil
}

// Compute reports st against set. It does no I/O. A version's state and
// problems are those of plan.Compute(set, st, plan.Latest(), opts).
func Compute(set *source.Set, st plan.State, opts *plan.Options) *Report {
	r := &Report{Latest: set.Latest(), Current: st.Version()}
	_, err := plan.Compute(set, st, plan.Latest(), opts)
	r.Err = err
	problems := map[int64]plan.ErrorList{}
	var list plan.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			problems[e.Version] = append(problems[e.Version], e)
		}
	}
	has := func(v int64, kind error) bool {
		for _, e := range problems[v] {
			if errors.Is(e, kind) {
				return true
			}
		}
		return false
	}

	ms := set.Migrations()
	records := slices.Clone(st.Records)
	slices.SortFunc(records, func(a, b backend.Record) int { return cmp.Compare(a.Version, b.Version) })
	for len(ms) > 0 || len(records) > 0 {
		var e Entry
		switch {
		case len(records) == 0 || len(ms) > 0 && ms[0].Version < records[0].Version:
			m := ms[0]
			ms = ms[1:]
			e = Entry{Version: m.Version, Name: m.Name, Path: m.Up.Path, File: m.Up.Checksum, State: Pending}
			if has(m.Version, plan.ErrOutOfOrder) {
				e.State = OutOfOrder
			}
		default:
			rec := records[0]
			records = records[1:]
			e = Entry{Version: rec.Version, Name: rec.Name, AppliedAt: rec.AppliedAt, Duration: rec.Duration,
				Imported: rec.Imported, Recorded: rec.Checksum, Dirty: rec.Dirty, State: Missing}
			if len(ms) > 0 && ms[0].Version == rec.Version {
				m := ms[0]
				ms = ms[1:]
				e.Name, e.Path, e.File, e.State = m.Name, m.Up.Path, m.Up.Checksum, Applied
				if has(m.Version, plan.ErrDrift) {
					e.State = Drifted
				}
			}
			// Refused (plan.ErrDirty), or resumed by the next up plan.
			resumes := e.State == Applied && rec.Dirty == source.Up && rec.Checksum == e.File && resumable(set, rec.Version)
			if has(rec.Version, plan.ErrDirty) || resumes {
				e.State = Dirty
			}
		}
		e.Problems = problems[e.Version]
		r.Entries = append(r.Entries, e)
	}
	r.Repeatables = repeatables(set, st.Repeatables)
	return r
}

// repeatables reports the repeatable scripts of set against recs.
func repeatables(set *source.Set, recs []backend.RepeatableRecord) []RepeatableEntry {
	byName := map[string]*RepeatableEntry{}
	var names []string
	for _, rec := range recs {
		byName[rec.Name] = &RepeatableEntry{Name: rec.Name, State: RepeatableRemoved, AppliedAt: rec.AppliedAt, Duration: rec.Duration, Recorded: rec.Checksum}
		names = append(names, rec.Name)
	}
	for _, f := range set.Repeatables() {
		e, ok := byName[f.Name]
		switch {
		case !ok:
			e = &RepeatableEntry{Name: f.Name, State: RepeatablePending}
			byName[f.Name] = e
			names = append(names, f.Name)
		case e.Recorded == f.Script.Checksum:
			e.State = RepeatableApplied
		default:
			e.State = RepeatableChanged
		}
		e.Path, e.File = f.Script.Path, f.Script.Checksum
	}
	slices.Sort(names)
	out := make([]RepeatableEntry, len(names))
	for i, n := range names {
		out[i] = *byName[n]
	}
	return out
}

// resumable reports whether version v's up script is resumable.
func resumable(set *source.Set, v int64) bool {
	m, ok := set.Lookup(v)
	return ok && m.Up.Resumable()
}

// String prints the report: a summary line, a table of the versions (an
// imported version's TOOK says "imported"), the file problems, if any, and
// the problems, one per line:
//
//	status: database at version 2, files up to 4: 2 applied, 1 pending, 1 dirty; plans are refused
//	  VERSION  STATE    NAME          APPLIED               TOOK  FILE
//	  1        applied  create_users  2026-01-02T15:04:05Z  12ms  migrations/v1_create_users.up.sql
//	  ...
//	problems:
//	  plan: version 3 (migrations/v3_idx.up.sql): dirty version: ...
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "status: database at version %d, files up to %d: %s", r.Current, r.Latest, r.counts())
	switch {
	case r.Err != nil || len(r.FileProblems) > 0:
		b.WriteString("; plans are refused")
	case r.Count(Pending) == 0 && r.Count(Dirty) == 0 && r.CountRepeatables(RepeatablePending) == 0 && r.CountRepeatables(RepeatableChanged) == 0:
		b.WriteString("; up to date")
	}
	b.WriteString("\n")
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "  VERSION\tSTATE\tNAME\tAPPLIED\tTOOK\tFILE")
	for _, e := range r.Entries {
		name, applied, took, path := dash(e.Name), "-", "-", dash(e.Path)
		if !e.AppliedAt.IsZero() {
			applied = e.AppliedAt.UTC().Format(time.RFC3339)
			took = round(e.Duration).String()
			if e.Imported {
				took = "imported"
			}
		}
		fmt.Fprintf(w, "  %d\t%s\t%s\t%s\t%s\t%s\n", e.Version, e.State, name, applied, took, path)
	}
	w.Flush()
	if len(r.Repeatables) > 0 {
		w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "  REPEATABLE\tSTATE\tAPPLIED\tTOOK\tFILE")
		for _, e := range r.Repeatables {
			applied, took := "-", "-"
			if !e.AppliedAt.IsZero() {
				applied = e.AppliedAt.UTC().Format(time.RFC3339)
				took = round(e.Duration).String()
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", e.Name, e.State, applied, took, dash(e.Path))
		}
		w.Flush()
	}
	if len(r.FileProblems) > 0 {
		fmt.Fprintf(&b, "file problems (%s left out above; fix them first):\n", files(len(r.FileProblems)))
		for _, line := range strings.Split(r.FileProblems.Error(), "\n") {
			b.WriteString("  " + line + "\n")
		}
	}
	if r.Err != nil {
		b.WriteString("problems:\n")
		for _, line := range strings.Split(r.Err.Error(), "\n") {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.String()
}

// counts says how many versions are in each state: "2 applied, 1 pending".
func (r *Report) counts() string {
	var parts []string
	for s := Applied; int(s) < len(stateNames); s++ {
		if n := r.Count(s); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no versions")
	}
	var reps []string
	for s := RepeatableApplied; int(s) < len(repeatableNames); s++ {
		if n := r.CountRepeatables(s); n > 0 {
			reps = append(reps, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(reps) > 0 {
		parts = append(parts, "repeatable scripts "+strings.Join(reps, ", "))
	}
	return strings.Join(parts, ", ")
}

// files returns "1 file", "2 files".
func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// round shortens a duration for the table.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// jsonFormat names the JSON layout of a report.
const jsonFormat = "waymark.status/v1"

type jsonReport struct {
	Format   string      `json:"format"`
	Current  int64       `json:"current"`
	Latest   int64       `json:"latest"`
	Refused  bool        `json:"refused"`
	Entries  []jsonEntry `json:"versions"`
	Problems []string    `json:"problems"`
	// FileProblems is left out when there are none, so that the
	// documents of readable sets are unchanged.
	FileProblems []string `json:"file_problems,omitempty"`
	// Repeatables is there when the files or the history have any.
	Repeatables []jsonRepeatable `json:"repeatables,omitempty"`
}

type jsonRepeatable struct {
	Name      string          `json:"name"`
	State     RepeatableState `json:"state"`
	Path      string          `json:"path,omitempty"`
	AppliedAt *time.Time      `json:"applied_at,omitempty"`
	Duration  string          `json:"duration,omitempty"`
	Recorded  string          `json:"recorded_checksum,omitempty"`
	File      string          `json:"file_checksum,omitempty"`
}

type jsonEntry struct {
	Version   int64            `json:"version"`
	Name      string           `json:"name,omitempty"`
	State     State            `json:"state"`
	Path      string           `json:"path,omitempty"`
	AppliedAt *time.Time       `json:"applied_at,omitempty"`
	Duration  string           `json:"duration,omitempty"`
	Imported  bool             `json:"imported,omitempty"`
	Recorded  string           `json:"recorded_checksum,omitempty"`
	File      string           `json:"file_checksum,omitempty"`
	Dirty     source.Direction `json:"dirty,omitempty"`
	Problems  []string         `json:"problems,omitempty"`
}

// MarshalJSON encodes the report for scripts (format "waymark.status/v1"):
// the versions with their states, checksums and problems as messages. An
// imported version has "imported": true and no "duration"; "file_problems"
// lists FileProblems, and is left out when there are none.
func (r *Report) MarshalJSON() ([]byte, error) {
	w := jsonReport{Format: jsonFormat, Current: r.Current, Latest: r.Latest, Refused: r.Err != nil || len(r.FileProblems) > 0,
		Entries: make([]jsonEntry, len(r.Entries)), Problems: []string{}}
	for i, e := range r.Entries {
		j := jsonEntry{Version: e.Version, Name: e.Name, State: e.State, Path: e.Path, Dirty: e.Dirty}
		if !e.AppliedAt.IsZero() {
			at := e.AppliedAt
			j.AppliedAt, j.Duration = &at, e.Duration.String()
			if e.Imported {
				j.Duration, j.Imported = "", true
			}
		}
		if !e.Recorded.IsZero() {
			j.Recorded = e.Recorded.String()
		}
		if !e.File.IsZero() {
			j.File = e.File.String()
		}
		for _, p := range e.Problems {
			j.Problems = append(j.Problems, p.Error())
		}
		w.Entries[i] = j
	}
	for _, e := range r.Repeatables {
		j := jsonRepeatable{Name: e.Name, State: e.State, Path: e.Path}
		if !e.AppliedAt.IsZero() {
			at := e.AppliedAt
			j.AppliedAt, j.Duration = &at, e.Duration.String()
		}
		if !e.Recorded.IsZero() {
			j.Recorded = e.Recorded.String()
		}
		if !e.File.IsZero() {
			j.File = e.File.String()
		}
		w.Repeatables = append(w.Repeatables, j)
	}
	if r.Err != nil {
		w.Problems = strings.Split(r.Err.Error(), "\n")
	}
	for _, p := range r.FileProblems {
		w.FileProblems = append(w.FileProblems, p.Error())
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("status: encode JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
