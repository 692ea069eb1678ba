package pgxbackend

import (
	"fmt"
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

// namedSchemas returns the schemas the options name, each once:
// Options.Schema (which holds the history and lease tables) and the first
// schema of Options.SearchPath (where every step's unqualified objects are
// created). The session creates those that do not exist under the lock,
// before the first step (see "Schemas" in the package doc).
func (o *Options) namedSchemas() []string {
	var names []string
	if o.Schema != "" {
		names = append(names, o.Schema)
	}
	if len(o.SearchPath) > 0 && o.SearchPath[0] != o.Schema {
		names = append(names, o.SearchPath[0])
	}
	return names
}

// schemaCheck is the SQL of two columns about the named schemas: how
// many do not exist, and the names of those that exist but that the
// current role may not use (NULL if none). pg_catalog.to_regnamespace
// would say NULL for both.
func (b *Backend) schemaCheck() string {
	names := b.opts.namedSchemas()
	if len(names) == 0 {
		return "0, NULL"
	}
	lits := make([]string, len(names))
	for i, name := range names {
		lits[i] = literal(name)
	}
	return fmt.Sprintf(`(SELECT count(*) FROM pg_catalog.unnest(ARRAY[%[1]s]::text[]) AS s(n)
		WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = s.n)),
	(SELECT pg_catalog.string_agg(n.nspname, ', ') FROM pg_catalog.pg_namespace n
		WHERE n.nspname = ANY (ARRAY[%[1]s]::text[]) AND NOT pg_catalog.has_schema_privilege(n.oid, 'USAGE'))`, strings.Join(lits, ", "))
}

// unusableSchema refuses a named schema that exists but that the role may
// not use: the history could not be read, or every step's objects would
// be created in the next schema of the search_path.
func (b *Backend) unusableSchema(names []byte) error {
	if names == nil {
		return nil
	}
	opt, reason := "Options.Schema", "the history table's schema"
	if len(b.opts.SearchPath) > 0 && b.opts.SearchPath[0] == string(names) {
		opt, reason = "Options.SearchPath", "the schema where every step creates its objects"
	}
	return &OptionError{Option: opt, Value: string(names),
		Reason: "is " + reason + ", but the role waymark connects as has no USAGE privilege on it; grant it, or connect as its owner"}
}

// createSchemas returns the statements, to run inside a transaction, that
// create the named schemas that do not exist. A transaction-level lock
// makes sessions of other app keys creating the same schema take turns;
// the existence is checked again under it. (CREATE SCHEMA IF NOT EXISTS
// alone would need the CREATE privilege on the database even when the
// schema exists.)
func (b *Backend) createSchemas() []string {
	var body strings.Builder
	body.WriteString("BEGIN\n")
	for _, name := range b.opts.namedSchemas() {
		fmt.Fprintf(&body, "\tIF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = %s) THEN\n\t\tCREATE SCHEMA %s;\n\tEND IF;\n", literal(name), ident(name))
	}
	body.WriteString("END")
	return []string{
		"SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('waymark create schema', 0))",
		"DO " + dollarQuote(body.String()),
	}
}

// dollarQuote quotes body as a dollar-quoted string whose tag body does not
// contain.
func dollarQuote(body string) string {
	tag := "waymark"
	for strings.Contains(body, "$"+tag+"$") {
		tag += "_"
	}
	return "$" + tag + "$" + body + "$" + tag + "$"
}

// schemasUsable refuses, for the advisory lock right after it was taken,
// a named schema the role may not use.
func (s *session) schemasUsable() error {
	return s.b.unusableSchema(s.unusable)
}

// schemaError reports a failure to create the named schemas.
func (s *session) schemaError(err error) error {
	return fmt.Errorf("create the missing schema of %s: %w",
		strings.Join(s.b.schemaOptions(), " and "), connError(err, true, s.conn.PgConn().IsClosed()))
}

// schemaOptions names the options that name schemas, with their values.
func (b *Backend) schemaOptions() []string {
	var opts []string
	if b.opts.Schema != "" && (len(b.opts.SearchPath) == 0 || b.opts.Schema != b.opts.SearchPath[0]) {
		opts = append(opts, fmt.Sprintf("Options.Schema %q", b.opts.Schema))
	}
	if len(b.opts.SearchPath) > 0 {
		opts = append(opts, fmt.Sprintf("Options.SearchPath %q", b.opts.SearchPath[0]))
	}
	return opts
}
