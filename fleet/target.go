package fleet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/source"
)

// Target is one database, or one schema of a database, that a fleet call
// takes to the target version. Set either DB or Conn.
type Target struct {
	// Name identifies the target in reports and errors; it must be unique
	// in a fleet call.
	Name string
	// DB is a backend the caller opened and keeps open.
	DB backend.Backend
	// Conn is a PostgreSQL connection string (URL or key=value words), used
	// when DB is nil: the fleet connects when the target's turn comes (see
	// "Connections" in the package doc).
	Conn string
	// Backend configures the pgxbackend.Backend on Conn (a DB has its
	// own). Default nil: the defaults of pgxbackend.Options.
	Backend *pgxbackend.Options
}

// DefaultApplicationName is the application_name of the connections the
// fleet opens, unless their connection string sets one.
const DefaultApplicationName = "waymark fleet"

// Databases returns a target for each connection string, named
// host:port/database (never with the user's password), with the backend
// options opts (nil: the defaults).
func Databases(conns []string, opts *pgxbackend.Options) ([]Target, error) {
	targets := make([]Target, 0, len(conns))
	var errs ErrorList
	for i, conn := range conns {
		cfg, err := pgx.ParseConfig(conn)
		if err != nil {
			errs = append(errs, &Error{Err: ErrBadTarget, Detail: fmt.Sprintf("connection string %d", i+1), Cause: connStringError{err}})
			continue
		}
		targets = append(targets, Target{Name: NameOf(cfg), Conn: conn, Backend: cloneOptions(opts)})
	}
	return targets, errs.err()
}

// NameOf names a target after the host, port and database of its
// connection: "db1.internal:5432/app".
func NameOf(cfg *pgx.ConnConfig) string {
	return cfg.Host + ":" + strconv.Itoa(int(cfg.Port)) + "/" + cfg.Database
}

// cloneOptions returns a copy of opts that the caller may change.
func cloneOptions(opts *pgxbackend.Options) *pgxbackend.Options {
	if opts == nil {
		return nil
	}
	o := *opts
	o.SearchPath = slices.Clone(o.SearchPath)
	return &o
}

// SchemaOptions configure [Schemas]. A nil *SchemaOptions means the
// defaults.
type SchemaOptions struct {
	// Backend holds the backend options of every target; Schemas sets
	// their Schema and SearchPath. Default nil: the defaults of
	// pgxbackend.Options.
	Backend *pgxbackend.Options
	// SearchPath lists schemas that follow the tenant's own on its
	// search_path, such as "public" for extensions installed there.
	// Default nil: the tenant's schema alone (and pg_catalog), so that a
	// name the tenant lacks is an error rather than another schema's
	// object.
	SearchPath []string
}

// Schemas returns a target for each schema of the database at conn whose
// name matches pattern, a LIKE pattern ("%" matches any run of
// characters, "_" any one character, "\" escapes them: 'tenant\_%'), in
// name order; PostgreSQL's own schemas (pg_*, information_schema) are left
// out. Each target is named database/schema ("app/tenant_01"), keeps its
// history in that schema (its Backend.Schema), and runs the set with that
// schema first on its search_path. It connects once, to list the schemas.
//
// The targets of several databases can be appended into one fleet call
// when their databases' names differ; [SchemasOn] names them apart
// otherwise. A pattern PostgreSQL rejects (one that ends with the escape
// character) is an [ErrBadPattern].
func Schemas(ctx context.Context, conn, pattern string, opts *SchemaOptions) ([]Target, error) {
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return nil, &Error{Err: ErrBadTarget, Cause: connStringError{err}}
	}
	return schemas(ctx, conn, cfg.Database+"/", pattern, opts)
}

// SchemasOn is [Schemas] on several databases, the targets of each in
// turn: named database/schema, or host:port/database/schema (see [NameOf])
// when two of conns name the same database.
func SchemasOn(ctx context.Context, conns []string, pattern string, opts *SchemaOptions) ([]Target, error) {
	prefixes := make([]string, len(conns))
	seen := map[string]int{}
	for i, conn := range conns {
		cfg, err := pgx.ParseConfig(conn)
		if err != nil {
			return nil, &Error{Err: ErrBadTarget, Detail: fmt.Sprintf("connection string %d", i+1), Cause: connStringError{err}}
		}
		prefixes[i] = cfg.Database + "/"
		seen[cfg.Database]++
	}
	var all []Target
	for i, conn := range conns {
		prefix := prefixes[i]
		if seen[strings.TrimSuffix(prefix, "/")] > 1 {
			cfg, _ := pgx.ParseConfig(conn)
			prefix = NameOf(cfg) + "/"
		}
		targets, err := schemas(ctx, conn, prefix, pattern, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, targets...)
	}
	return all, nil
}

// schemas is Schemas, naming each target prefix + schema.
func schemas(ctx context.Context, conn, prefix, pattern string, opts *SchemaOptions) ([]Target, error) {
	if trailing := len(pattern) - len(strings.TrimRight(pattern, `\`)); trailing%2 == 1 {
		// PostgreSQL finds it only when a name matches up to there.
		return nil, &Error{Err: ErrBadPattern, Detail: fmt.Sprintf("'%s': a LIKE pattern must not end with its escape character, \\ (write \\\\ to match a backslash)", pattern)}
	}
	if opts == nil {
		opts = &SchemaOptions{}
	}
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return nil, &Error{Err: ErrBadTarget, Cause: connStringError{err}}
	}
	name := NameOf(cfg)
	setApplicationName(cfg)
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, &Error{Target: name, Err: ErrRead, Detail: "list the schemas", Cause: err}
	}
	defer c.Close(context.WithoutCancel(ctx))
	rows, err := c.Query(ctx, `SELECT nspname FROM pg_catalog.pg_namespace
WHERE nspname LIKE $1 AND nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' ORDER BY nspname COLLATE "C"`,
		pgx.QueryExecModeSimpleProtocol, pattern)
	var schemas []string
	if err == nil {
		schemas, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22025" { // invalid_escape_sequence
		return nil, &Error{Target: name, Err: ErrBadPattern, Detail: fmt.Sprintf("'%s': %s", pattern, pgErr.Message)}
	}
	if err != nil {
		return nil, &Error{Target: name, Err: ErrRead, Detail: "list the schemas", Cause: err}
	}
	targets := make([]Target, len(schemas))
	for i, schema := range schemas {
		b := cloneOptions(opts.Backend)
		if b == nil {
			b = &pgxbackend.Options{}
		}
		b.Schema = schema
		b.SearchPath = append([]string{schema}, opts.SearchPath...)
		targets[i] = Target{Name: prefix + schema, Conn: conn, Backend: b}
	}
	return targets, nil
}

// ParseTargets reads a targets file (see "Targets file" in the package
// doc) from r; path names it in errors. Every bad line is reported, as
// "path:line:1: ...", without its text, which may hold a password.
func ParseTargets(r io.Reader, path string) ([]Target, error) {
	var targets []Target
	var errs ErrorList
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pos := source.Position{Path: path, Line: n, Column: 1}
		name, conn := "", line
		first, rest := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			first, rest = line[:i], line[i:]
		}
		if !strings.Contains(first, "=") && !strings.Contains(first, "://") {
			name, conn = first, strings.TrimSpace(rest)
		}
		cfg, err := pgx.ParseConfig(conn)
		if name == "" && err == nil {
			name = NameOf(cfg)
		}
		if at, dup := seen[name]; dup && name != "" {
			errs = append(errs, &Error{Pos: pos, Err: ErrBadTarget, Detail: fmt.Sprintf("target %q is already on line %d; name one of them", name, at)})
			continue
		}
		seen[name] = n
		switch {
		case conn == "":
			errs = append(errs, &Error{Pos: pos, Err: ErrBadTarget, Detail: fmt.Sprintf("target %q has no connection string", name)})
			continue
		case err != nil:
			errs = append(errs, &Error{Pos: pos, Err: ErrBadTarget, Cause: connStringError{err}})
			continue
		}
		targets = append(targets, Target{Name: name, Conn: conn})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &Error{Pos: source.Position{Path: path}, Err: ErrBadTarget, Detail: "read", Cause: err})
	}
	return targets, errs.err()
}

// connStringError is a connection string that does not parse. Its
// message leaves out the connection string, which may hold a password
// (pgx shows it with the password masked, as far as it can find it).
type connStringError struct{ err error }

func (e connStringError) Error() string {
	s := e.err.Error()
	if i := strings.LastIndex(s, "`: "); i >= 0 {
		s = s[i+len("`: "):]
	} else if strings.Contains(s, "`") {
		s = "cannot parse it"
	}
	return "invalid connection string: " + s
}

func (e connStringError) Unwrap() error { return e.err }

// setApplicationName gives cfg the fleet's application_name unless it has
// one.
func setApplicationName(cfg *pgx.ConnConfig) {
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = DefaultApplicationName
	}
}

// connConfigs holds the parsed connection strings of a fleet call.
type connConfigs map[string]*pgx.ConnConfig

// check refuses, before anything runs, targets that cannot be run, with
// every problem at once, and parses their connection strings.
func check(targets []Target, canaries []string) (connConfigs, error) {
	var errs ErrorList
	cfgs := connConfigs{}
	seen := map[string]bool{}
	for i, t := range targets {
		bad := func(detail string, cause error) {
			name := t.Name
			if name == "" {
				detail = fmt.Sprintf("target %d: %s", i+1, detail)
			}
			errs = append(errs, &Error{Target: name, Err: ErrBadTarget, Detail: detail, Cause: cause})
		}
		switch {
		case t.Name == "":
			bad("no name", nil)
		case seen[t.Name]:
			bad("the name is used by another target", nil)
		case t.DB == nil && t.Conn == "":
			bad("neither a backend (DB) nor a connection string (Conn)", nil)
		case t.DB != nil && t.Conn != "":
			bad("both a backend (DB) and a connection string (Conn)", nil)
		case t.DB != nil && t.Backend != nil:
			bad("backend options (Backend) are for a connection string (Conn); a DB has its own", nil)
		case t.Conn != "" && cfgs[t.Conn] == nil:
			cfg, err := pgx.ParseConfig(t.Conn)
			if err != nil {
				bad("", connStringError{err})
				break
			}
			setApplicationName(cfg)
			cfgs[t.Conn] = cfg
		}
		seen[t.Name] = true
	}
	for _, c := range canaries {
		if !seen[c] || c == "" {
			errs = append(errs, &Error{Err: ErrBadTarget, Detail: fmt.Sprintf("canary %q is not one of the targets", c)})
		}
	}
	return cfgs, errs.err()
}
