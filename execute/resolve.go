package execute

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
)

// Resolution says what a dirty version's database holds after someone
// repaired it by hand.
type Resolution int8

const (
	// MarkApplied records the version as applied: its up script's effects
	// are in the database (the failed up script was completed by hand, or
	// the failed down script's effects were undone).
	MarkApplied Resolution = iota + 1
	// MarkNotApplied records the version as not applied: its effects are
	// not in the database (the failed up script's partial effects were
	// removed, or the failed down script was completed by hand).
	MarkNotApplied
)

// String returns "applied" or "not applied".
func (r Resolution) String() string {
	switch r {
	case MarkApplied:
		return "applied"
	case MarkNotApplied:
		return "not applied"
	}
	return fmt.Sprintf("Resolution(%d)", int8(r))
}

// ResolveOptions configure Resolve. A nil *ResolveOptions means the
// defaults.
type ResolveOptions struct {
	// Logger receives a record (level Info) of what was resolved.
	// Default: nothing is logged.
	Logger *slog.Logger
}

// Resolve clears the dirty marker that a failed no-transaction step left on
// version, recording it as applied or not. It changes only the history, never
// the schema, under the migration lock. It refuses, changing nothing, a
// version the history does not have ([ErrNotInHistory]), one that is not
// dirty ([ErrNotDirty]) and an invalid resolution ([ErrBadResolution]).
func Resolve(ctx context.Context, db backend.Backend, version int64, how Resolution, opts *ResolveOptions) error {
	if how != MarkApplied && how != MarkNotApplied {
		return &Error{Err: ErrBadResolution, Version: version, Detail: fmt.Sprintf("%v: want MarkApplied or MarkNotApplied", how)}
	}
	logger := slog.New(slog.DiscardHandler)
	if opts != nil && opts.Logger != nil {
		logger = opts.Logger
	}
	if err := checkBackend(db); err != nil {
		return err
	}
	return underLock(ctx, db, logger, func(sess backend.Session, now plan.State) error {
		var rec *backend.Record
		for i, r := range now.Records {
			if r.Version == version {
				rec = &now.Records[i]
			}
		}
		switch {
		case rec == nil:
			return &Error{Err: ErrNotInHistory, Version: version, Detail: "there is nothing to resolve"}
		case rec.Dirty == 0:
			return &Error{Err: ErrNotDirty, Version: version, Detail: "it is recorded as applied"}
		}
		ch := backend.Change{Op: backend.Update, Record: backend.Record{Version: version}}
		if how == MarkNotApplied {
			ch = backend.Change{Op: backend.Delete, Record: backend.Record{Version: version}}
		}
		if err := sess.Apply(ctx, backend.Step{Change: ch}); err != nil {
			return &Error{Err: ErrWriteHistory, Version: version, Cause: err}
		}
		logger.InfoContext(ctx, "waymark: resolved", "version", version, "failed", rec.Dirty.String(), "now", how.String())
		return nil
	})
}
