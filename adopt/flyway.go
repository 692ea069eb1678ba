package adopt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/adopt/convert"
)

// ErrFailed: Flyway recorded a migration as failed (success false): it
// stopped part-way, and the database must be repaired first.
var ErrFailed = errors.New("failed migration in the history")

// RepeatableRun is a repeatable script in a tool's history: the last time
// it was applied.
type RepeatableRun struct {
	// Description is the script's name as the table holds it.
	Description string
	// Checksum is the checksum the tool recorded (Flyway's, see
	// convert.FlywayChecksum).
	Checksum int32
}

// flywayRow is a row of flyway_schema_history.
type flywayRow struct {
	Rank        int64
	Version     *string
	Description string
	Type        string
	Checksum    *int32
	Success     bool
	InstalledOn *time.Time
}

// readFlyway reads Flyway's history table (flyway_schema_history, as Flyway
// 5 and later create it): a row per run of a migration, in installed_rank
// order. A version is applied when its last row applied it (type SQL, or a
// Java migration's JDBC, SPRING_JDBC), and not when an undo (UNDO_SQL,
// UNDO_JDBC) or a DELETE row followed; a BASELINE row stands for every
// version up to its own; the SCHEMA row (Flyway created the schema) is
// left out; a row without a version is a repeatable script's run, the last
// one per description counting. A failed row (success false) is refused.
func readFlyway(ctx context.Context, q Querier, h *History, fail func(error, string, error) error) error {
	// installed_on is a timestamp without time zone, written by Flyway's
	// session in its time zone: it is read in this session's, as goose's.
	rows, err := q.Query(ctx, "SELECT installed_rank::int8, version, description, type, checksum, success, installed_on::timestamptz FROM "+h.Table+" ORDER BY installed_rank")
	var got []flywayRow
	if err == nil {
		got, err = pgx.CollectRows(rows, pgx.RowToStructByPos[flywayRow])
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			return fail(ErrNoTable, "it does not exist: name the table the tool used (Options.Table and Schema)", nil)
		}
		return fail(ErrReadHistory, "", err)
	}
	var failed []string
	applied := map[string]bool{}
	checksums := map[string]int32{}
	at := map[string]time.Time{}
	repeatables := map[string]RepeatableRun{}
	for _, r := range got {
		what := "repeatable " + r.Description
		if r.Version != nil {
			what = *r.Version
		}
		if !r.Success {
			failed = append(failed, fmt.Sprintf("%s (rank %d)", what, r.Rank))
			continue
		}
		v := ""
		if r.Version != nil {
			if v = convert.FlywayVersion(*r.Version); v == "" {
				return fail(ErrReadHistory, fmt.Sprintf("rank %d: version %q is not a Flyway version", r.Rank, *r.Version), nil)
			}
		}
		switch {
		case r.Type == "SCHEMA":
		case r.Type == "BASELINE":
			h.Baseline = v
		case r.Version == nil && r.Type == "DELETE":
			delete(repeatables, r.Description)
		case r.Version == nil:
			run := RepeatableRun{Description: r.Description}
			if r.Checksum != nil {
				run.Checksum = *r.Checksum
			}
			repeatables[r.Description] = run
		case strings.HasPrefix(r.Type, "UNDO_") || r.Type == "DELETE":
			applied[v] = false
			delete(at, v)
		case r.Type == "SQL" || r.Type == "JDBC" || r.Type == "SPRING_JDBC" || r.Type == "SCRIPT" || r.Type == "CUSTOM":
			applied[v] = true
			if r.Checksum != nil {
				checksums[v] = *r.Checksum
			}
			if r.InstalledOn != nil {
				at[v] = *r.InstalledOn
			}
		default:
			return fail(ErrReadHistory, fmt.Sprintf("rank %d (version %s): type %q is not one Flyway writes for a migration that waymark can import", r.Rank, v, r.Type), nil)
		}
	}
	if len(failed) > 0 {
		return &Error{Err: ErrFailed, Tool: h.Tool, Table: h.Table, Versions: failed,
			Detail: "Flyway recorded them as failed: repair what they did to the database, remove the failed rows with flyway repair, then import"}
	}
	for v, ok := range applied {
		if ok {
			h.Versions = append(h.Versions, v)
		}
	}
	slices.SortFunc(h.Versions, convert.CompareFlyway)
	h.Checksums = checksums
	if len(at) > 0 {
		h.AppliedAt = at
	}
	for _, d := range slices.Sorted(maps.Keys(repeatables)) {
		h.Repeatables = append(h.Repeatables, repeatables[d])
	}
	return nil
}

// flywayApplied returns the converted migrations that Flyway's history
// says are applied: its versions, and those up to its baseline.
func flywayApplied(h *History, conv *convert.Result) ([]*convert.Migration, []string) {
	var applied []*convert.Migration
	var unknown []string
	for i := range conv.Migrations {
		m := &conv.Migrations[i]
		if h.Baseline != "" && convert.CompareFlyway(m.SourceVersion, h.Baseline) <= 0 || slices.Contains(h.Versions, m.SourceVersion) {
			applied = append(applied, m)
		}
	}
	for _, v := range h.Versions {
		if _, ok := conv.Lookup(v); !ok {
			unknown = append(unknown, v)
		}
	}
	return applied, unknown
}
