package execute

import (
	"context"
	"fmt"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
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

// Resolve clears the dirty marker that a failed no-transaction step left on
// version, recording it as applied or not. It changes only the history, never
// the schema, under the migration lock. A version that is not dirty is an
// error ([ErrNotDirty]) and changes nothing. Of opts, only Logger is used.
func Resolve(ctx context.Context, db backend.Backend, version int64, how Resolution, opts *Options) error {
	if how != MarkApplied && how != MarkNotApplied {
		return fmt.Errorf("execute: resolve version %d: invalid resolution %d", version, how)
	}
	logger := newRunner(opts).log
	return underLock(ctx, db, logger, func(sess backend.Session, now plan.State) error {
		var dirty source.Direction
		for _, r := range now.Applied {
			if r.Version == version {
				dirty = r.Dirty
			}
		}
		if dirty == 0 {
			return fmt.Errorf("execute: resolve version %d: %w", version, ErrNotDirty)
		}
		ch := backend.Change{Op: backend.Mark, Record: backend.Record{Version: version}}
		if how == MarkNotApplied {
			ch = backend.Change{Op: backend.Delete, Record: backend.Record{Version: version}}
		}
		if err := sess.Apply(ctx, "", ch); err != nil {
			return fmt.Errorf("execute: resolve version %d: %w", version, err)
		}
		logger.InfoContext(ctx, "waymark: resolved", "version", version, "failed", dirty.String(), "now", how.String())
		return nil
	})
}
