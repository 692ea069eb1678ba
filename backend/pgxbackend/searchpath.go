package pgxbackend

import (
	"strings"

	"github.com/waymarkdb/waymark/backend"
)

// checkSearchPath validates Options.SearchPath.
func (o *Options) checkSearchPath() error {
	for _, name := range o.SearchPath {
		if err := checkName("Options.SearchPath", name); err != nil {
			return err
		}
	}
	return nil
}

// withSearchPath appends to stmts, the statements of a session reset, the
// SET of Options.SearchPath during the run (withOurs): every step's SQL
// then starts with it, whatever an earlier step set. When the run ends
// (not withOurs), the reset gives the connection its own search_path back.
func (s *session) withSearchPath(stmts []string, withOurs bool) []string {
	path := s.b.opts.SearchPath
	if !withOurs || len(path) == 0 {
		return stmts
	}
	names := make([]string, len(path))
	for i, name := range path {
		names[i] = ident(name)
	}
	return append(stmts, "SET search_path = "+strings.Join(names, ", "))
}

// opensNoTx reports whether ch starts a no-transaction script: it marks
// its version dirty.
func opensNoTx(ch backend.Change) bool {
	return ch.Op != backend.Delete && ch.Record.Dirty != 0
}

// searchPathUsable refuses a no-transaction script (noTx) that cannot run
// with Options.SearchPath: behind a pooler, its statements run outside the
// transactions that set the search_path, on whichever server connection
// the pooler picks, so they would resolve names through another schema.
// The refusal comes when the script's version would be marked dirty,
// before anything of it runs.
func (s *session) searchPathUsable(noTx bool) error {
	if !noTx || s.mode != LockLease || len(s.b.opts.SearchPath) == 0 {
		return nil
	}
	return &OptionError{Option: "Options.SearchPath", Value: strings.Join(s.b.opts.SearchPath, ","),
		Reason: "cannot apply to a no-transaction script under a lease (LockLease, or LockAuto behind a connection pooler): " +
			"its statements run outside the steps' transactions, on whichever server connection the pooler picks; " +
			"schema-qualify the script's names and leave SearchPath unset, or connect to PostgreSQL directly"}
}
