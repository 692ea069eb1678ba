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
	records, err := db.ReadState(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan: read state: %w", err)
	}
	return Compute(set, State{Records: records}, target, opts)
}
