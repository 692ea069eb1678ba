package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/source"
)

// Review prints the plan for a reviewer: the summary line of [Plan.String],
// the state the plan was made from, then every step with its direction,
// version, name, file, checksum and whether it runs in a transaction,
// followed by its SQL with line numbers (the example below):
//
//	plan: up from 2 to 3 (1 step)
//	  up  3  users_email_index  testdata/sample/v003_users_email_index.up.sql  no-transaction  sha256:3bf9a306
//	made from: versions 1, 2 applied
//
//	step 1 of 1: up 3 users_email_index, NO TRANSACTION: 1 statement, run one by one; a failure leaves version 3 dirty
//	testdata/sample/v003_users_email_index.up.sql  sha256:3bf9a306
//	  1 | -- waymark:no-transaction
//	  2 | -- Built without blocking writes; CONCURRENTLY cannot run in a transaction.
//	  3 | CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
//
// It is plain text, to paste into a pull-request comment inside a code
// fence. [Plan.String] is the short dry run without the SQL.
func (p *Plan) Review() string {
	var b strings.Builder
	b.WriteString(p.String())
	b.WriteString("made from: " + describeState(p.State) + "\n")
	for i, s := range p.Steps {
		how := "in a transaction"
		switch {
		case s.NoTransaction && s.Repeatable:
			how = fmt.Sprintf("NO TRANSACTION: %s, run one by one; after a failure the next run applies it again from the start", statements(s))
		case s.NoTransaction:
			how = fmt.Sprintf("NO TRANSACTION: %s, run one by one; a failure leaves version %d dirty", statements(s), s.Version)
		}
		if s.FromHistory {
			how += fmt.Sprintf("; FROM THE HISTORY: version %d is not in this binary's files, and this is the down script kept with its history record by the binary that applied it", s.Version)
		}
		if s.Resume {
			how = fmt.Sprintf("RESUME: an earlier run stopped part-way and left version %d dirty; its batches run again and touch only the rows not yet done", s.Version)
		}
		if s.Repeatable {
			fmt.Fprintf(&b, "\nstep %d of %d: %s repeatable %s, %s\n", i+1, len(p.Steps), s.Direction, s.Name, how)
		} else {
			fmt.Fprintf(&b, "\nstep %d of %d: %s %d %s, %s\n", i+1, len(p.Steps), s.Direction, s.Version, s.label(), how)
		}
		fmt.Fprintf(&b, "%s  sha256:%s\n", s.Path, s.Checksum.Short())
		writeNumbered(&b, s.SQL)
	}
	return b.String()
}

// describeState says which versions a state has applied.
func describeState(st State) string {
	s := describeVersions(st)
	if len(st.Repeatables) > 0 {
		s += "; " + describeRepeatables(st.Repeatables) + " applied"
	}
	return s
}

// describeRepeatables names repeatable scripts' records: "repeatable
// script a" or "repeatable scripts a, b".
func describeRepeatables(recs []backend.RepeatableRecord) string {
	names := make([]string, len(recs))
	for i, r := range recs {
		names[i] = r.Name
	}
	if len(names) == 1 {
		return "repeatable script " + names[0]
	}
	return "repeatable scripts " + strings.Join(names, ", ")
}

// describeVersions says which versions a state has applied.
func describeVersions(st State) string {
	if len(st.Records) == 0 {
		return "nothing applied"
	}
	vs := make([]int64, len(st.Records))
	var dirty []int64
	for i, r := range st.Records {
		vs[i] = r.Version
		if r.Dirty != 0 {
			dirty = append(dirty, r.Version)
		}
	}
	s := list(vs) + " applied"
	if len(dirty) > 0 {
		s += " (" + list(dirty) + " dirty)"
	}
	return s
}

// statements says how many statements a no-transaction step runs, split
// as package source splits a file.
func statements(s Step) string {
	sc, err := source.ParseScript(s.Path, []byte(s.SQL), s.Direction)
	if err != nil {
		return "statements"
	}
	n := len(sc.Statements)
	if n == 1 {
		return "1 statement"
	}
	return strconv.Itoa(n) + " statements"
}

// writeNumbered writes sql line by line, each prefixed by its number.
func writeNumbered(b *strings.Builder, sql string) {
	sql = strings.TrimSuffix(sql, "\n")
	lines := strings.Split(sql, "\n")
	width := len(strconv.Itoa(len(lines)))
	for i, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		fmt.Fprintf(b, "%*d | %s", width+2, i+1, line)
		b.WriteString("\n")
	}
}
