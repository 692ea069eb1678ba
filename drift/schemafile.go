package drift

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/schema"
	"github.com/waymarkdb/waymark/source"
)

// Migrator is how [FormatSchema] writes the role that ran the migrations,
// in owners and privileges, so that the text does not depend on who
// generated it.
const Migrator = "(migrator)"

// SchemaOptions configure [Checker.Schema]. A nil *SchemaOptions means
// the defaults.
type SchemaOptions struct {
	// Major is the PostgreSQL major version of the throwaway cluster the
	// schema is built on, when the Checker has no scratch server. Default
	// 0: the binaries the test kit would use.
	Major int
	// Roles are created (without login) on the throwaway cluster before
	// the migrations run, for the GRANTs and owners they name. Default
	// none.
	Roles []string
}

// Schema builds the schema set makes at version on a scratch database
// (the Checker's scratch server, or a throwaway cluster) and returns it
// as [FormatSchema] writes it. version 0 means the set's latest. A
// Checker builds each (set, version) once.
func (c *Checker) Schema(ctx context.Context, set *source.Set, version int64, opts *SchemaOptions) (string, error) {
	var o SchemaOptions
	if opts != nil {
		o = *opts
	}
	if version == 0 {
		version = set.Latest()
	}
	if _, ok := set.Lookup(version); !ok {
		return "", fmt.Errorf("drift: schema at version %d: no such version in the set (latest %d)", version, set.Latest())
	}
	lv := &live{version: version, server: o.Major * 10000, roles: o.Roles, backend: c.opts.Backend}
	e, _, err := c.expectedSchema(ctx, set, lv)
	if err != nil {
		return "", err
	}
	snap := cloneSnapshot(e.snap)
	return FormatSchema(snap, version, e.server, e.user), nil
}

// FormatSchema writes snap, the schema of a set at version on a server of
// server_version_num serverVersion whose migrations role migrator ran, as
// stable, reviewable text: a header naming the version and the major
// version, then [schema.Snapshot.String], with migrator written as
// [Migrator]. It changes snap's owners and privileges.
func FormatSchema(snap *schema.Snapshot, version int64, serverVersion int, migrator string) string {
	if migrator != "" {
		renameRole(snap, migrator, Migrator)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- The schema the migrations make at version %d, on PostgreSQL %d.\n", version, serverVersion/10000)
	fmt.Fprintf(&b, "-- Written by waymark schema; do not edit. %s is the role that ran the migrations.\n\n", Migrator)
	b.WriteString(snap.String())
	return b.String()
}

// SchemaMajor returns the PostgreSQL major version named in the header of
// a text FormatSchema wrote, or 0.
func SchemaMajor(text string) int {
	var version int64
	var major int
	if _, err := fmt.Sscanf(text, "-- The schema the migrations make at version %d, on PostgreSQL %d.", &version, &major); err != nil {
		return 0
	}
	return major
}

// cloneSnapshot copies what FormatSchema changes of a cached snapshot.
// The printed text is all that is needed, so a round trip through the
// maps' values is enough: owners and privileges are rewritten in copies.
func cloneSnapshot(s *schema.Snapshot) *schema.Snapshot {
	c := *s
	c.Schemas = cloneMap(s.Schemas, func(x schema.Schema) schema.Schema { x.Privileges = clone(x.Privileges); return x })
	c.Types = cloneMap(s.Types, func(x schema.Type) schema.Type {
		x.Privileges = clone(x.Privileges)
		x.Attributes = cloneCols(x.Attributes)
		return x
	})
	c.Relations = cloneMap(s.Relations, func(x schema.Relation) schema.Relation {
		x.Privileges = clone(x.Privileges)
		x.Columns = cloneCols(x.Columns)
		x.Policies = cloneMap(x.Policies, func(p schema.Policy) schema.Policy { p.Roles = clone(p.Roles); return p })
		return x
	})
	c.Sequences = cloneMap(s.Sequences, func(x schema.Sequence) schema.Sequence { x.Privileges = clone(x.Privileges); return x })
	c.Functions = cloneMap(s.Functions, func(x schema.Function) schema.Function { x.Privileges = clone(x.Privileges); return x })
	if s.DefaultPrivileges != nil {
		c.DefaultPrivileges = make([]schema.DefaultPrivilege, len(s.DefaultPrivileges))
		for i, x := range s.DefaultPrivileges {
			x.Privileges = clone(x.Privileges)
			c.DefaultPrivileges[i] = x
		}
	}
	return &c
}

func cloneMap[T any](m map[string]T, f func(T) T) map[string]T {
	if m == nil {
		return nil
	}
	out := make(map[string]T, len(m))
	for k, v := range m {
		out[k] = f(v)
	}
	return out
}

func cloneCols(cs []schema.Column) []schema.Column {
	if cs == nil {
		return nil
	}
	out := make([]schema.Column, len(cs))
	for i, x := range cs {
		x.Privileges = clone(x.Privileges)
		out[i] = x
	}
	return out
}

func clone(xs []string) []string {
	if xs == nil {
		return nil
	}
	return append([]string(nil), xs...)
}

// ReadSchema reads the schema of the database of pool, whose history
// table bo names (nil: the defaults), and returns it as [FormatSchema]
// writes it: at the history's version, with the history table's owner
// written as [Migrator]. It writes nothing. The waymark test kit uses it
// to check a committed schema file against a database its migrations
// made.
func ReadSchema(ctx context.Context, pool *pgxpool.Pool, bo *pgxbackend.Options) (string, error) {
	records, err := pgxbackend.New(pool, bo).ReadState(ctx)
	if err != nil {
		return "", fmt.Errorf("drift: read the history: %w", err)
	}
	var version int64
	for _, r := range records {
		version = max(version, r.Version)
	}
	var server int
	var owner string
	if err := pool.QueryRow(ctx, `SELECT current_setting('server_version_num')::int,
	coalesce((SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass($1)), current_user)`,
		historyIdent(bo)).Scan(&server, &owner); err != nil {
		return "", fmt.Errorf("drift: read the server: %w", err)
	}
	snap, err := schema.Read(ctx, pool, schemaOptions(bo))
	if err != nil {
		return "", fmt.Errorf("drift: read the schema: %w", err)
	}
	return FormatSchema(snap, version, server, owner), nil
}
