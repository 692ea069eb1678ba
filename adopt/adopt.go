// Package adopt moves a database that another migration tool has migrated
// over to waymark. Its files are converted by package
// [github.com/waymarkdb/waymark/adopt/convert]; [Import] then reads the
// tool's history table, maps the versions it applied through the
// conversion, and records them as applied in waymark's history, without
// running anything, so that waymark's next plan starts where the tool left
// off.
//
// # The tools' tables
//
//	golang-migrate  schema_migrations   one row: the version the database is at, and whether it is dirty
//	goose           goose_db_version    a row per version applied (or, from old goose, rolled back)
//	tern            schema_version      one row: the number of migrations applied
//	pop             schema_migration    a row per version applied
//	flyway          flyway_schema_history  a row per run of a migration, repeatable scripts' too
//
// golang-migrate and tern apply their versions in order, so every version
// up to the one in the table is applied; goose and pop record each
// version, and may have skipped one (a version added later on another
// branch). As Ory's popx does, a pop version longer than 14 digits is
// also applied when the table has its first 14 digits (pop's own column
// held no more). Import refuses, changing nothing and naming the versions, a
// dirty golang-migrate version ([ErrDirty]), a Flyway row of a failed
// migration ([ErrFailed]), a Flyway version whose file changed since Flyway
// applied it (Flyway's checksum differs; [ErrMismatch]), a version of the table that
// the files do not have or that the waymark set lacks ([ErrMismatch]), and
// one whose file could not be converted and was not written by hand
// ([ErrUnconverted]).
//
// Flyway's history is read as Flyway reads it: a version is applied when
// its last row applied it (not undone or deleted since), a BASELINE row
// stands for every version up to its own, and versions compare number by
// number (1.2 and 1.02 are one version). Its repeatable scripts (rows
// without a version) that are unchanged since Flyway last applied them are
// recorded as applied too; a changed one is left for waymark's next plan
// ([Result].RepeatablesPending).
//
// The records are written by [execute.Baseline]: in one transaction, under
// waymark's lock, only into an empty history, each with the checksum of
// the waymark file as it is now, marked as imported
// (backend.Record.Imported), and with the time the tool applied it where
// the tool kept one (goose); otherwise the time of the import. The tool's
// table is read, never changed: drop it when you are sure you will not go
// back. Stop the other tool's
// migrations while importing, since its table is read before waymark's
// lock is taken.
package adopt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/adopt/convert"
	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/internal/errfmt"
	"github.com/waymarkdb/waymark/source"
)

// Sentinel errors; use [errors.Is]. Each comes as an [*Error].
var (
	// ErrNoTable: the tool's history table does not exist.
	ErrNoTable = errors.New("no history table")
	// ErrReadHistory: the tool's history table could not be read.
	ErrReadHistory = errors.New("cannot read the history table")
	// ErrDirty: golang-migrate recorded its version as dirty: a migration
	// failed part-way, and the database must be repaired first.
	ErrDirty = errors.New("dirty state")
	// ErrMismatch: the tool's history does not match the files: a version
	// it applied is not among them, or not in the waymark set.
	ErrMismatch = errors.New("history does not match the files")
	// ErrUnconverted: a version the tool applied has a file that could not
	// be converted, and the waymark set has no file written for it by
	// hand.
	ErrUnconverted = errors.New("applied version not converted")
)

// Error is a refusal or failure of [Import] or [ReadHistory].
type Error struct {
	// Err is one of the Err* sentinels.
	Err error
	// Tool is the other tool.
	Tool convert.Tool
	// Table is its history table, as read.
	Table string
	// Versions are the tool's versions concerned, in its form, or none.
	Versions []string
	// Detail says what exactly is wrong, or is empty.
	Detail string
	// Cause is the underlying error, or nil.
	Cause error
}

// Error formats the problem as "adopt: tool table: kind: versions ...:
// detail: cause".
func (e *Error) Error() string {
	s := "adopt: " + string(e.Tool)
	if e.Table != "" {
		s += " " + e.Table
	}
	s += ": " + e.Err.Error()
	switch len(e.Versions) {
	case 0:
	case 1:
		s += ": version " + e.Versions[0]
	default:
		s += ": versions " + strings.Join(e.Versions, ", ")
	}
	return s + errfmt.Tail(e.Detail, e.Cause)
}

// Unwrap returns Err and, if set, Cause.
func (e *Error) Unwrap() []error { return errfmt.Unwrap(e.Err, e.Cause) }

// Querier runs a query; *pgx.Conn and *pgxpool.Pool are Queriers.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Options configure [Import] and [ReadHistory]. A nil *Options means the
// defaults.
type Options struct {
	// Schema is the schema of the tool's history table. Default "": the
	// table is found through search_path.
	Schema string
	// Table is the tool's history table. Default: the tool's own default
	// ([DefaultTable]).
	Table string
	// DryRun reads both histories and reports what Import would record,
	// writing nothing. Default false.
	DryRun bool
	// Logger receives execute.Baseline's records. Default: nothing is
	// logged.
	Logger *slog.Logger
}

// DefaultTable returns the table tool keeps its history in unless told
// otherwise.
func DefaultTable(tool convert.Tool) string { return convert.HistoryTable(tool) }

// History is what a tool's history table says.
type History struct {
	Tool convert.Tool
	// Table is the table read, quoted as an identifier.
	Table string
	// Versions are the tool's applied versions as its table holds them
	// (decimal; pop's as written): for golang-migrate and tern, which keep
	// only the version the database is at, that one, or none when nothing
	// was applied; for goose and pop, every applied version, in the
	// tool's order.
	Versions []string
	// Dirty is set when golang-migrate marked its version dirty.
	Dirty bool
	// Baseline is, for Flyway, the version of its BASELINE row (canonical,
	// convert.FlywayVersion), or "".
	Baseline string
	// Checksums are, for Flyway, the checksums it recorded for the applied
	// versions, by version.
	Checksums map[string]int32
	// Repeatables are, for Flyway, the repeatable scripts it applied, by
	// description.
	Repeatables []RepeatableRun
	// AppliedAt holds, by version as in Versions, when the tool applied
	// it, for the tools that keep that time: goose's tstamp and Flyway's
	// installed_on (of the row that last applied the version), both
	// timestamps without time zone, read in the session's time zone, in
	// which the tool wrote them. Nil for the others.
	AppliedAt map[string]time.Time
}

// ReadHistory reads tool's history table through q.
func ReadHistory(ctx context.Context, q Querier, tool convert.Tool, opts *Options) (*History, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if DefaultTable(tool) == "" {
		_, err := convert.ParseTool(string(tool))
		return nil, err
	}
	table := pgx.Identifier{cmp.Or(o.Table, DefaultTable(tool))}
	if o.Schema != "" {
		table = pgx.Identifier{o.Schema, table[0]}
	}
	h := &History{Tool: tool, Table: table.Sanitize()}
	fail := func(err error, detail string, cause error) error {
		return &Error{Err: err, Tool: tool, Table: h.Table, Detail: detail, Cause: cause}
	}
	if tool == convert.Flyway {
		if err := readFlyway(ctx, q, h, fail); err != nil {
			return nil, err
		}
		return h, nil
	}
	var query string
	switch tool {
	case convert.GolangMigrate:
		query = "SELECT version::text, dirty, NULL::timestamptz FROM " + h.Table
	case convert.Tern:
		query = "SELECT version::text, false, NULL::timestamptz FROM " + h.Table
	case convert.Goose:
		query = "SELECT version_id::text, is_applied, tstamp::timestamptz FROM " + h.Table + " ORDER BY id"
	case convert.Pop:
		query = "SELECT version::text, true, NULL::timestamptz FROM " + h.Table
	}
	rows, err := q.Query(ctx, query)
	type row struct {
		Version string
		Flag    bool
		At      *time.Time
	}
	var got []row
	if err == nil {
		got, err = pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			return nil, fail(ErrNoTable, "it does not exist: name the table the tool used (Options.Table and Schema)", nil)
		}
		return nil, fail(ErrReadHistory, "", err)
	}
	switch tool {
	case convert.GolangMigrate, convert.Tern:
		if len(got) > 1 {
			return nil, fail(ErrMismatch, fmt.Sprintf("it has %d rows; %s keeps one", len(got), tool), nil)
		}
		// Nothing applied: no row (golang-migrate), or version 0 (tern);
		// golang-migrate's -1 is "no version", dirty when the first
		// migration failed.
		if len(got) == 1 && (got[0].Flag || !(tool == convert.Tern && got[0].Version == "0" || got[0].Version == "-1")) {
			h.Versions, h.Dirty = []string{got[0].Version}, got[0].Flag
		}
	case convert.Goose:
		// A version is applied when its last row says so; version 0 is
		// goose's own first row.
		last := map[string]row{}
		for _, r := range got {
			last[r.Version] = r
		}
		for v, r := range last {
			if r.Flag && v != "0" {
				h.Versions = append(h.Versions, v)
				if r.At != nil {
					if h.AppliedAt == nil {
						h.AppliedAt = map[string]time.Time{}
					}
					h.AppliedAt[v] = *r.At
				}
			}
		}
		slices.SortFunc(h.Versions, func(a, b string) int {
			x, _ := strconv.ParseInt(a, 10, 64)
			y, _ := strconv.ParseInt(b, 10, 64)
			return cmp.Compare(x, y)
		})
	case convert.Pop:
		for _, r := range got {
			h.Versions = append(h.Versions, r.Version)
		}
		slices.Sort(h.Versions) // pop's order: as text
	}
	return h, nil
}

// Result is what Import recorded.
type Result struct {
	// History is the tool's history as read.
	History *History
	// Records are the records written to waymark's history, or with
	// DryRun those that would be.
	Records []backend.Record
	// Versions maps each version the tool applied (its form) to waymark's.
	Versions []Mapping
	// NotApplied lists waymark versions below the highest one recorded
	// that the tool never applied (goose and pop allow that). waymark's
	// plans refuse them as out of order until they are applied with
	// plan.Options.AllowOutOfOrder.
	NotApplied []int64
	// Repeatables are the repeatable scripts' records written (Flyway's
	// scripts applied and unchanged since), or with DryRun those that would
	// be.
	Repeatables []backend.RepeatableRecord
	// RepeatablesPending lists, by the tool's description, the repeatable
	// scripts the tool applied whose file has changed since, or is gone:
	// waymark's next up plan applies the changed ones.
	RepeatablesPending []string
	// DryRun is set when nothing was written.
	DryRun bool
}

// Mapping is one version the tool applied.
type Mapping struct {
	// Source is the tool's version, as its table holds it.
	Source string
	// Version is waymark's.
	Version int64
}

// Import records in db's history, as applied, the versions that tool's
// history table (read through q) says are applied, mapped through conv,
// the conversion of the tool's files, to set, the waymark files (conv
// written, perhaps completed by hand). See the package doc for what it
// refuses. It writes nothing when the tool applied nothing.
func Import(ctx context.Context, q Querier, db backend.Backend, set *source.Set, conv *convert.Result, opts *Options) (*Result, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	h, err := ReadHistory(ctx, q, conv.Tool, opts)
	if err != nil {
		return nil, err
	}
	fail := func(err error, versions []string, detail string) error {
		return &Error{Err: err, Tool: conv.Tool, Table: h.Table, Versions: versions, Detail: detail}
	}
	if h.Dirty {
		return nil, fail(ErrDirty, h.Versions, "a migration failed part-way: repair the database and clear the flag with golang-migrate (migrate force), then import")
	}
	applied, err := appliedMigrations(h, conv)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Table = h.Table
		}
		return nil, err
	}
	res := &Result{History: h, DryRun: o.DryRun}
	var missing, unconverted []string
	var only []int64
	at := map[int64]time.Time{}
	for v, t := range h.AppliedAt {
		if m, ok := conv.Lookup(v); ok {
			at[m.Version] = t
		}
	}
	for _, m := range applied {
		res.Versions = append(res.Versions, Mapping{Source: m.SourceVersion, Version: m.Version})
		got, ok := set.Lookup(m.Version)
		switch {
		case ok && got.Name == m.Name:
			only = append(only, m.Version)
		case m.Up == nil && !ok:
			unconverted = append(unconverted, m.SourceVersion)
		default:
			missing = append(missing, fmt.Sprintf("%s (%s)", m.SourceVersion, m.Stem))
		}
	}
	if len(unconverted) > 0 {
		return nil, fail(ErrUnconverted, unconverted, "the tool applied them, but their files could not be converted: write them by hand under the names the conversion reports")
	}
	if len(missing) > 0 {
		return nil, fail(ErrMismatch, missing, "the waymark set lacks them: give the set converted from the tool's files")
	}
	var changed []string
	for _, m := range applied {
		if c, ok := h.Checksums[m.SourceVersion]; ok && m.Up != nil && c != m.FlywayChecksum {
			changed = append(changed, m.SourceVersion)
		}
	}
	if len(changed) > 0 {
		return nil, fail(ErrMismatch, changed, "their files changed since Flyway applied them (Flyway's checksums differ): restore the files, or record them as they are with flyway repair, then convert and import")
	}
	// A repeatable script Flyway applied, unchanged since, is recorded as
	// applied; a changed or new one is left to waymark's next plan.
	var reps []string
	for _, run := range h.Repeatables {
		r, ok := conv.LookupRepeatable(run.Description)
		if !ok || r.FlywayChecksum != run.Checksum {
			res.RepeatablesPending = append(res.RepeatablesPending, run.Description)
			continue
		}
		if _, ok := set.LookupRepeatable(r.Name); ok {
			reps = append(reps, r.Name)
		}
	}
	if len(only) == 0 {
		return res, nil
	}
	top := slices.Max(only)
	for _, m := range set.Migrations() {
		if m.Version < top && !slices.Contains(only, m.Version) {
			res.NotApplied = append(res.NotApplied, m.Version)
		}
	}
	b, err := execute.Baseline(ctx, db, set, top, &execute.BaselineOptions{Only: only, Repeatables: reps, AppliedAt: at, DryRun: o.DryRun, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	res.Records, res.Repeatables = b.Records, b.Repeatables
	return res, nil
}

// popLegacyDigits is how many digits of a version pop's own table held.
const popLegacyDigits = 14

// appliedMigrations returns the converted migrations that h says are
// applied.
func appliedMigrations(h *History, conv *convert.Result) ([]*convert.Migration, error) {
	var applied []*convert.Migration
	var unknown []string
	switch h.Tool {
	case convert.GolangMigrate, convert.Tern:
		// Every version up to the table's, in the tool's order.
		if len(h.Versions) == 0 {
			return nil, nil
		}
		if _, ok := conv.Lookup(h.Versions[0]); !ok {
			unknown = h.Versions
			break
		}
		for i := range conv.Migrations {
			applied = append(applied, &conv.Migrations[i])
			if conv.Migrations[i].SourceVersion == h.Versions[0] {
				break
			}
		}
	case convert.Flyway:
		applied, unknown = flywayApplied(h, conv)
	case convert.Goose:
		for _, v := range h.Versions {
			if m, ok := conv.Lookup(v); ok {
				applied = append(applied, m)
			} else {
				unknown = append(unknown, v)
			}
		}
	case convert.Pop:
		// popx counts a version applied when its table has it, or its
		// first 14 digits: pop's versions before Ory made them longer.
		matched := map[string]bool{}
		for i := range conv.Migrations {
			m := &conv.Migrations[i]
			v, legacy := m.SourceVersion, ""
			if len(m.SourceVersion) > popLegacyDigits {
				legacy = v[:popLegacyDigits]
			}
			full, old := slices.Contains(h.Versions, v), legacy != "" && slices.Contains(h.Versions, legacy)
			matched[v] = matched[v] || full
			matched[legacy] = matched[legacy] || old
			if full || old {
				applied = append(applied, m)
			}
		}
		for _, v := range h.Versions {
			if !matched[v] {
				unknown = append(unknown, v)
			}
		}
	}
	if len(unknown) > 0 {
		return nil, &Error{Err: ErrMismatch, Tool: h.Tool, Versions: unknown,
			Detail: "the tool applied them, but its files do not have them: convert the directory the tool migrated from"}
	}
	return applied, nil
}
