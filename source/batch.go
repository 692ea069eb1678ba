package source

import (
	"strings"
	"time"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// Batch is a statement that a no-transaction script repeats, each run in
// a transaction of its own that commits, until it reports that it touched
// no row ("-- waymark:batch"; see the package doc).
type Batch struct {
	// Pause is how long to wait between two runs; 0 for no pause.
	Pause time.Duration
	// LockTimeout and StatementTimeout bound each run (PostgreSQL's
	// lock_timeout and statement_timeout); 0 keeps the runner's.
	LockTimeout, StatementTimeout time.Duration
	// Pos is where the directive is; Pos.Statement is the statement it
	// repeats.
	Pos Position
}

// Batch returns the batch directive of statement n (1-based), if it has
// one.
func (s *Script) Batch(n int) (Batch, bool) {
	for _, b := range s.Batches {
		if b.Pos.Statement == n {
			return b, true
		}
	}
	return Batch{}, false
}

// Resumable reports whether the script can be run again from its start
// after a run that stopped part-way: a no-transaction script whose every
// statement is a batch. Each batch touches only rows not yet done, so a
// second run carries on where the first stopped.
func (s *Script) Resumable() bool {
	return s.NoTransaction && len(s.Statements) > 0 && len(s.Batches) == len(s.Statements)
}

// batchOptions are the options a batch directive takes.
var batchOptions = []string{"pause", "lock-timeout", "statement-timeout"}

// parseBatch reads the arguments of a batch directive: options of the form
// name=duration, each at most once.
func parseBatch(args string) (Batch, string) {
	var b Batch
	seen := map[string]bool{}
	for _, f := range strings.Fields(args) {
		name, val, ok := strings.Cut(f, "=")
		var dst *time.Duration
		switch name {
		case "pause":
			dst = &b.Pause
		case "lock-timeout":
			dst = &b.LockTimeout
		case "statement-timeout":
			dst = &b.StatementTimeout
		default:
			return b, "unknown option " + quote(name) + " (known: " + strings.Join(batchOptions, ", ") + ")"
		}
		if seen[name] {
			return b, name + " given twice"
		}
		seen[name] = true
		d, err := time.ParseDuration(val)
		if !ok || err != nil || d <= 0 {
			return b, name + "=" + val + ": want a positive duration such as 100ms or 5s"
		}
		*dst = d
	}
	return b, ""
}

// batchStatements are the first words of statements that report how many
// rows they touched.
var batchStatements = []string{"update", "delete", "insert", "merge", "with"}

// checkBatches checks the batch directives of s once it is read.
func checkBatches(s *Script) ErrorList {
	var errs ErrorList
	for i, b := range s.Batches {
		bad := func(detail string) {
			errs = append(errs, &Error{Pos: b.Pos, Err: ErrDirective, Detail: "waymark:batch: " + detail})
		}
		switch {
		case b.Pos.Statement == 0:
			bad("no statement follows it")
			continue
		case i > 0 && s.Batches[i-1].Pos.Statement == b.Pos.Statement:
			bad("a statement takes one batch directive")
			continue
		case !s.NoTransaction:
			bad("each batch commits on its own, so the script must run outside a transaction: put -- " + directiveNoTransaction + " at its top")
			continue
		}
		sc := sqlsplit.NewScanner(s.Statements[b.Pos.Statement-1].SQL)
		t, _ := sc.Next()
		ok := false
		for _, w := range batchStatements {
			ok = ok || t.Is(w)
		}
		if !ok {
			bad("it repeats a statement until it reports 0 rows: UPDATE, DELETE, INSERT, MERGE or WITH, not " + quote(strings.ToUpper(t.Text)))
		}
	}
	return errs
}
