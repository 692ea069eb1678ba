package plan

import (
	"context"
	"fmt"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

// Build reads the state of db and computes the plan to target. It takes no
// lock and writes nothing (not even the history table), so it is safe as a
// dry run against production.
func Build(ctx context.Context, db backend.Backend, set *source.Set, target Target, opts *Options) (*Plan, error) {
	st, err := ReadState(ctx, db)
	if err != nil {
		return nil, err
	}
	return Compute(set, st, target, opts)
}

// ReadState reads the state of db: its versions' records and, when db is
// a [backend.RepeatableReader], its repeatable scripts' records. It takes
// no lock and writes nothing.
func ReadState(ctx context.Context, db backend.Backend) (State, error) {
	records, err := db.ReadState(ctx)
	if err != nil {
		return State{}, fmt.Errorf("plan: read state: %w", err)
	}
	st := State{Records: records}
	if rr, ok := db.(backend.RepeatableReader); ok {
		if st.Repeatables, err = rr.ReadRepeatables(ctx); err != nil {
			return State{}, fmt.Errorf("plan: read state: %w", err)
		}
	}
	return st, nil
}
