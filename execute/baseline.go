package execute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Baseline's refusals; use [errors.Is]. Both come as an [*Error], and
// nothing was written.
var (
	// ErrHistoryNotEmpty means the history already has records.
	ErrHistoryNotEmpty = errors.New("the history is not empty")
	// ErrBadBaseline means a version to record is not one of the set's, or
	// lies above the baseline version.
	ErrBadBaseline = errors.New("invalid baseline")
)

// BaselineOptions configure Baseline. A nil *BaselineOptions means the
// defaults.
type BaselineOptions struct {
	// Only, if not nil, limits the versions recorded to these, each a
	// version of the set not above the baseline version: another tool's
	// history with gaps (package adopt records one). Default nil: every
	// version of the set up to the baseline version.
	Only []int64
	// Repeatables names repeatable scripts of the set to record as applied
	// too, each with the checksum of its file as it is now, in the same
	// transaction: scripts another tool applied, unchanged since. Default
	// nil: none.
	Repeatables []string
	// AppliedAt gives, by version, when another tool applied a version,
	// for the tools that keep that time (package adopt reads goose's).
	// Default nil: the records get the time Baseline writes them.
	AppliedAt map[int64]time.Time
	// DryRun reads the history, without the lock, and reports what
	// Baseline would record, writing nothing; it refuses what Baseline
	// refuses. Default false.
	DryRun bool
	// Logger receives a record (level Info) of what was recorded, and the
	// wait for the migration lock. Default: nothing is logged.
	Logger *slog.Logger
}

// BaselineResult is what Baseline recorded.
type BaselineResult struct {
	// Records are the records written to the history, in ascending version
	// order, or with DryRun those that would be. They are Imported (none
	// of them ran); AppliedAt is that of Options.AppliedAt, else zero: the
	// backend sets it as it writes.
	Records []backend.Record
	// Repeatables are the repeatable scripts' records written, in name
	// order (BaselineOptions.Repeatables).
	Repeatables []backend.RepeatableRecord
	// DryRun is set when nothing was written.
	DryRun bool
}

// Baseline records every version of set up to version as applied, without
// running its scripts: for a database whose schema is already there, made
// by hand or by another migration tool (package adopt imports such a tool's
// history through Baseline). Each record holds the version's name and the
// checksum of its up script as it is in set now, so that later plans see
// no drift, and is marked Imported (backend.Record.Imported): status shows
// that waymark did not run it.
//
// The records are written in one transaction, under the migration lock,
// and only into an empty history: Baseline refuses, changing nothing, a
// history that has a record ([ErrHistoryNotEmpty]) and a version that is
// not one of set's ([ErrBadBaseline]). The result is nil after an error.
func Baseline(ctx context.Context, db backend.Backend, set *source.Set, version int64, opts *BaselineOptions) (*BaselineResult, error) {
	var o BaselineOptions
	if opts != nil {
		o = *opts
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	records, err := baselineRecords(set, version, o.Only)
	if err != nil {
		return nil, err
	}
	for i := range records {
		records[i].Imported, records[i].AppliedAt = true, o.AppliedAt[records[i].Version]
	}
	if err := checkBackend(db); err != nil {
		return nil, err
	}
	res := &BaselineResult{Records: records, DryRun: o.DryRun}
	for _, name := range slices.Sorted(slices.Values(o.Repeatables)) {
		r, ok := set.LookupRepeatable(name)
		if !ok {
			return nil, &Error{Err: ErrBadBaseline, Detail: fmt.Sprintf("the set has no repeatable script %s", name)}
		}
		res.Repeatables = append(res.Repeatables, backend.RepeatableRecord{Name: name, Checksum: r.Script.Checksum})
	}
	if o.DryRun {
		now, err := db.ReadState(ctx)
		if err != nil {
			return nil, &Error{Err: ErrReadState, Cause: err}
		}
		if err := emptyHistory(now); err != nil {
			return nil, err
		}
		return res, nil
	}
	err = underLock(ctx, db, log, func(sess backend.Session, now plan.State) error {
		if err := emptyHistory(now.Records); err != nil {
			return err
		}
		if err := sess.Begin(ctx); err != nil {
			return &Error{Err: ErrTransaction, Detail: "begin", Cause: err}
		}
		changes := make([]backend.Change, 0, len(records)+len(res.Repeatables))
		for _, r := range records {
			changes = append(changes, backend.Change{Op: backend.Insert, Record: r})
		}
		for _, r := range res.Repeatables {
			changes = append(changes, backend.Change{Op: backend.Repeat, Record: backend.Record{Name: r.Name, Checksum: r.Checksum}})
		}
		for _, ch := range changes {
			r := ch.Record
			err := sess.Apply(ctx, backend.Step{Change: ch})
			if err != nil {
				err = &Error{Err: ErrWriteHistory, Version: r.Version, Cause: err}
				if rerr := sess.Rollback(context.WithoutCancel(ctx)); rerr != nil {
					err = errors.Join(err, &Error{Err: ErrTransaction, Detail: "roll back", Cause: rerr})
				}
				return err
			}
		}
		if err := sess.Commit(ctx); err != nil {
			return &Error{Err: ErrTransaction, Detail: "commit", Cause: err}
		}
		log.InfoContext(ctx, "waymark: baseline recorded", "versions", len(records), "up_to", version)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// baselineRecords returns the records that a baseline at version writes:
// every version of set up to it, or those of only.
func baselineRecords(set *source.Set, version int64, only []int64) ([]backend.Record, error) {
	bad := func(v int64, format string, args ...any) error {
		return &Error{Err: ErrBadBaseline, Version: v, Detail: fmt.Sprintf(format, args...)}
	}
	if _, ok := set.Lookup(version); !ok {
		if set.Len() == 0 {
			return nil, bad(version, "the set has no versions")
		}
		return nil, bad(version, "not a version of the set (its versions run from %d to %d)", set.Migrations()[0].Version, set.Latest())
	}
	var records []backend.Record
	add := func(m *source.Migration) {
		r := backend.Record{Version: m.Version, Name: m.Name, Checksum: m.Up.Checksum, Down: backend.DownNone}
		if m.Down != nil {
			r.Down, r.DownSQL = backend.DownKept, m.Down.SQL
		}
		records = append(records, r)
	}
	if only == nil {
		for _, m := range set.Migrations() {
			if m.Version <= version {
				add(m)
			}
		}
		return records, nil
	}
	if len(only) == 0 {
		return nil, bad(0, "no versions to record")
	}
	vs := slices.Sorted(slices.Values(only))
	for i, v := range vs {
		m, ok := set.Lookup(v)
		switch {
		case !ok:
			return nil, bad(v, "not a version of the set")
		case v > version:
			return nil, bad(v, "above the baseline version %d", version)
		case i > 0 && vs[i-1] == v:
			return nil, bad(v, "listed twice")
		}
		add(m)
	}
	return records, nil
}

// emptyHistory refuses a history that has records.
func emptyHistory(records []backend.Record) error {
	if len(records) == 0 {
		return nil
	}
	return &Error{Err: ErrHistoryNotEmpty, Detail: fmt.Sprintf(
		"it has %d records, up to version %d: a baseline is recorded once, into a database that waymark has never migrated",
		len(records), records[len(records)-1].Version)}
}
