package execute

import (
	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// staleHistory refuses a plan whose step from the history no longer has
// the SQL the history keeps for its version.
func staleHistory(p *plan.Plan, now plan.State) error {
	for _, st := range p.Steps {
		if !st.FromHistory {
			continue
		}
		for _, r := range now.Records {
			if r.Version == st.Version && (r.Down != backend.DownKept || source.ChecksumOf(r.DownSQL) != st.Checksum) {
				return &StaleError{Planned: p.State, Current: now, Changes: []Change{{Version: st.Version, What: "down script kept in the history"}}}
			}
		}
	}
	return nil
}
