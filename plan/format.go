package plan

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
)

// String prints the plan as a dry run: a summary line, then one line per
// step with its direction, version, name, file, whether it runs in a
// transaction, and the start of its checksum.
//
//	plan: up from 0 to 2 (2 steps)
//	  up  1  create_users  migrations/v001_create_users.up.sql  transaction     sha256:9f86d081
//	  up  2  email_index   migrations/v002_email_index.up.sql   no-transaction  sha256:60303ae2
func (p *Plan) String() string {
	var b strings.Builder
	if p.Empty() {
		fmt.Fprintf(&b, "plan: nothing to do, the database is at version %d\n", p.From)
		return b.String()
	}
	steps := "steps"
	if len(p.Steps) == 1 {
		steps = "step"
	}
	fmt.Fprintf(&b, "plan: %s from %d to %d (%d %s)\n", p.Direction, p.From, p.To, len(p.Steps), steps)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, s := range p.Steps {
		tx := "transaction"
		if s.NoTransaction {
			tx = "no-transaction"
		}
		if s.Resume {
			tx = "resume"
		}
		if s.FromHistory {
			tx += ", from the history"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\tsha256:%s\n", s.Direction, s.column(), s.label(), s.Path, tx, s.Checksum.Short())
	}
	w.Flush()
	if p.ForgetRepeatables {
		fmt.Fprintf(&b, "  first forgets the records of %s, so that the next up plan applies them all again\n", describeRepeatables(p.State.Repeatables))
	}
	return b.String()
}

// column is the step's version for a listing, "R" for a repeatable script.
func (s Step) column() string {
	if s.Repeatable {
		return "R"
	}
	return strconv.FormatInt(s.Version, 10)
}

// label is the step's name for a listing, "-" when it has none.
func (s Step) label() string {
	if s.Name == "" {
		return "-"
	}
	return s.Name
}
