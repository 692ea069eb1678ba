// Package schema reads a PostgreSQL database's schema from pg_catalog into a
// plain, comparable value: a [Snapshot].
//
// A Snapshot describes what a database's migrations made, and nothing of
// where or when: it holds no OIDs, no row counts, no sequence positions and
// no database name; its objects are in maps keyed by name and its lists
// are sorted. Two databases built by
// the same statements have equal snapshots, whatever their OIDs, the order
// of independent statements, or the server's search_path. So snapshots
// compare with go-cmp:
//
//	before, err := schema.Read(ctx, pool, nil)
//	// ... apply a migration and its down script ...
//	after, err := schema.Read(ctx, pool, nil)
//	if diff := cmp.Diff(before, after); diff != "" {
//		t.Errorf("the down script did not undo (-before +after):\n%s", diff)
//	}
//
// and print as text ([Snapshot.String]), one object a line, for a review or
// a diff of two environments.
//
// # What a snapshot covers
//
// Schemas; extensions; tables (plain, partitioned, foreign), views and
// materialized views, with their columns (type, nullability, default,
// identity, generated expression, collation, compression, column
// privileges), constraints, indexes (definition and validity), triggers,
// rules, row-level security flags and policies, partition keys and bounds,
// inheritance, storage options, replica identity and access method;
// sequences (type, bounds, start, increment, cache, cycle, owner column);
// functions, procedures and aggregates (signature and whole definition);
// enum, domain, composite, range and base types; default privileges; and,
// by identity only (pg_identify_object), every other kind of object a
// migration can make in a database: collations, extended statistics (with
// their definition), operators, operator classes and families, casts,
// conversions, text search objects, foreign-data wrappers and servers,
// event triggers, publications, transforms, languages and access methods.
// Every object that has them carries its owner, its privileges and its
// comment.
//
// Definitions come from the server's own pg_get_*def functions, read with
// an empty search_path so every name in them is schema-qualified the same
// way every time. Privileges are aclitem strings ("app=r/postgres",
// "=X/postgres" for PUBLIC), sorted, with a missing ACL replaced by the
// default it stands for, so a GRANT followed by its REVOKE reads the same as
// no GRANT at all.
//
// Left out: objects of the system schemas and members of extensions (the
// extension itself is listed), the database object itself and its settings,
// roles, tablespaces and everything else shared by the whole cluster, and
// NOT NULL constraints as pg_constraint rows (PostgreSQL 18 keeps them
// there too; [Column].NotNull says the same on every version). Not read
// either: the options of foreign tables, servers and wrappers, per-column
// storage, statistics targets and attribute options, security labels,
// user mappings (only superusers may read them), which tables a
// publication holds, whether a rule is enabled or a materialized view
// populated, and the members of operator classes and families.
//
// # Versions
//
// Read works with PostgreSQL 14 to 18. A snapshot shows what the server
// reports, so the same schema can read a little differently on two major
// versions (PostgreSQL 17 adds the MAINTAIN privilege, m, to a table
// owner's default ACL; 15 changed the privileges of schema public);
// compare snapshots taken on one major version.
package schema

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Snapshot is a database's schema. Named objects are in maps keyed by
// their names, so that cmp.Diff names what differs ("public.users" and,
// inside it, "users_email_idx"); every slice is sorted (columns and enum
// labels are in their own order); and every empty map or slice is nil, so
// that equal schemas give snapshots equal under cmp.Diff and
// reflect.DeepEqual.
type Snapshot struct {
	// Schemas are keyed by name.
	Schemas map[string]Schema
	// Extensions are keyed by name.
	Extensions map[string]Extension
	// Types are keyed by "schema.name".
	Types map[string]Type
	// Relations holds tables, views and materialized views, keyed by
	// "schema.name".
	Relations map[string]Relation
	// Sequences are keyed by "schema.name".
	Sequences map[string]Sequence
	// Functions holds functions, procedures and aggregates, keyed by
	// "schema.name(arguments)".
	Functions map[string]Function
	// DefaultPrivileges holds the ALTER DEFAULT PRIVILEGES settings,
	// sorted by role, schema and object type.
	DefaultPrivileges []DefaultPrivilege
	// Objects holds, by identity, the objects of the kinds the other
	// fields do not cover, sorted by type and identity.
	Objects []Object
}

// Schema is a schema (namespace), including public.
type Schema struct {
	Name       string
	Owner      string
	Privileges []string
	Comment    string
}

// Extension is an installed extension. Its member objects are not part of
// the snapshot.
type Extension struct {
	Name    string
	Version string
	Schema  string
	Comment string
}

// Type is a user-defined enum, domain, composite, range or base type.
type Type struct {
	Schema string
	Name   string
	// Kind is "enum", "domain", "composite", "range" or "base".
	Kind string
	// Definition describes a domain ("integer NOT NULL DEFAULT 0"), a range
	// ("subtype numeric") or a base type (its input and output functions).
	Definition string
	// Labels are an enum's labels in their sort order.
	Labels []string
	// Attributes are a composite type's attributes in order.
	Attributes []Column
	// Constraints are a domain's CHECK constraints, keyed by name.
	Constraints map[string]Constraint
	Owner       string
	Privileges  []string
	Comment     string
}

// Relation is a table, a view or a materialized view.
type Relation struct {
	Schema string
	Name   string
	// Kind is "table", "partitioned table", "foreign table", "view" or
	// "materialized view".
	Kind string
	// Unlogged is set for an UNLOGGED table.
	Unlogged bool
	// Definition is a view's or materialized view's query
	// (pg_get_viewdef).
	Definition string
	// PartitionKey is a partitioned table's key (pg_get_partkeydef).
	PartitionKey string
	// PartitionBound is a partition's bound ("FOR VALUES IN (1)"); its
	// parent is in Inherits.
	PartitionBound string
	// Inherits lists the parents, "schema.name", in order.
	Inherits []string
	// AccessMethod is the table access method ("heap"), or "".
	AccessMethod string
	// Options are the storage parameters (reloptions), sorted:
	// "fillfactor=70", "security_barrier=true".
	Options []string
	// ReplicaIdentity is "default", "nothing", "full" or "index".
	ReplicaIdentity string
	// RowSecurity and ForceRowSecurity are the ENABLE and FORCE ROW LEVEL
	// SECURITY flags.
	RowSecurity      bool
	ForceRowSecurity bool
	// Columns are in the order of the table (attnum), or by name with
	// Options.IgnoreColumnOrder.
	Columns []Column
	// Constraints, Indexes, Triggers, Rules and Policies are keyed by
	// name.
	Constraints map[string]Constraint
	Indexes     map[string]Index
	Triggers    map[string]Trigger
	Rules       map[string]Rule
	Policies    map[string]Policy
	Owner       string
	Privileges  []string
	Comment     string
}

// Column is a column of a relation or an attribute of a composite type.
type Column struct {
	Name string
	// Type is the type as format_type writes it: "character varying(20)".
	Type    string
	NotNull bool
	// Default is the default expression, or "".
	Default string
	// Identity is "GENERATED ALWAYS AS IDENTITY", "GENERATED BY DEFAULT
	// AS IDENTITY" or "".
	Identity string
	// Generated is "GENERATED ALWAYS AS (<expression>) STORED" (or
	// VIRTUAL, PostgreSQL 18), or "".
	Generated string
	// Collation is the column's collation when it is not its type's
	// default, schema-qualified: `pg_catalog."C"`.
	Collation string
	// Compression is the column's compression method ("pglz", "lz4"), or
	// "" for the default.
	Compression string
	// Privileges are the column-level privileges.
	Privileges []string
	Comment    string
}

// Constraint is a table's or a domain's constraint (other than NOT NULL).
type Constraint struct {
	Name string
	// Kind is "primary key", "unique", "foreign key", "check",
	// "exclusion" or "trigger".
	Kind string
	// Definition is pg_get_constraintdef's: "FOREIGN KEY (user_id)
	// REFERENCES public.users(id) ON DELETE CASCADE", "CHECK ((total >=
	// (0)::numeric)) NOT VALID".
	Definition string
	Comment    string
}

// Index is an index of a relation, including those behind constraints.
type Index struct {
	Name string
	// Definition is pg_get_indexdef's CREATE INDEX statement.
	Definition string
	// Valid is false for an index a failed CREATE INDEX CONCURRENTLY left.
	Valid bool
	// Clustered is set by CLUSTER ... USING this index.
	Clustered bool
	Comment   string
}

// Trigger is a user-defined trigger (not one PostgreSQL made for a foreign
// key).
type Trigger struct {
	Name string
	// Definition is pg_get_triggerdef's CREATE TRIGGER statement.
	Definition string
	// Enabled is "origin" (the default), "disabled", "replica" or
	// "always".
	Enabled string
	Comment string
}

// Rule is a rewrite rule (other than a view's own).
type Rule struct {
	Name string
	// Definition is pg_get_ruledef's CREATE RULE statement.
	Definition string
	Comment    string
}

// Policy is a row-level security policy.
type Policy struct {
	Name string
	// Permissive is false for a RESTRICTIVE policy.
	Permissive bool
	// Command is "ALL", "SELECT", "INSERT", "UPDATE" or "DELETE".
	Command string
	// Roles are the roles it applies to, sorted; "PUBLIC" for all.
	Roles     []string
	Using     string
	WithCheck string
	Comment   string
}

// Sequence is a sequence, including those behind serial and identity
// columns. Its current value is data, not schema, and is left out.
type Sequence struct {
	Schema    string
	Name      string
	Type      string
	Start     int64
	Increment int64
	Min       int64
	Max       int64
	Cache     int64
	Cycle     bool
	Unlogged  bool
	// OwnedBy is the column the sequence belongs to,
	// "schema.table.column", or "".
	OwnedBy string
	// Identity is set when the sequence is an identity column's.
	Identity   bool
	Owner      string
	Privileges []string
	Comment    string
}

// Function is a function, procedure or aggregate.
type Function struct {
	Schema string
	Name   string
	// Arguments are the identity arguments: "a integer, b text".
	Arguments string
	// Kind is "function", "procedure", "aggregate" or "window".
	Kind string
	// Definition is pg_get_functiondef's CREATE FUNCTION or CREATE
	// PROCEDURE statement, body included; for an aggregate, its
	// transition function, state type, final function and initial value.
	Definition string
	Owner      string
	Privileges []string
	Comment    string
}

// DefaultPrivilege is one ALTER DEFAULT PRIVILEGES setting.
type DefaultPrivilege struct {
	// Role is the role whose new objects get these privileges.
	Role string
	// Schema is "" for objects in any schema.
	Schema string
	// ObjectType is "tables", "sequences", "functions", "types" or
	// "schemas".
	ObjectType string
	Privileges []string
}

// Object is an object of a kind the other fields of Snapshot do not
// cover, named as pg_identify_object names it.
type Object struct {
	// Type is the object's kind: "collation", "statistics object",
	// "operator", "cast", "event trigger", ...
	Type string
	// Identity names it: "public.my_collation", "(text AS public.email)".
	Identity string
	// Definition is set for statistics objects
	// (pg_get_statisticsobjdef).
	Definition string
	Comment    string
}

// Options configure [Read]. A nil *Options means the defaults.
type Options struct {
	// ExcludeTables lists tables to leave out, with everything that
	// belongs to them (columns, indexes, constraints, triggers, policies,
	// rules and owned sequences): "schema.table" for one schema, "table"
	// for a table of that name in any schema. Names are compared exactly,
	// as stored (unquoted). Default: none. The waymark test kit excludes
	// the history table this way.
	ExcludeTables []string
	// IgnoreColumnOrder sorts columns by name instead of by position, for
	// comparisons that should not care that a dropped and re-added column
	// moved to the end of its table. Default false.
	IgnoreColumnOrder bool
}

// MinVersion is the oldest PostgreSQL server Read supports, as
// server_version_num.
const MinVersion = 140000

// ErrUnsupportedServer is returned, wrapped, by [Read] when the server is
// older than PostgreSQL 14. Use errors.Is to test for it.
var ErrUnsupportedServer = errors.New("unsupported server version")

// DB is what Read needs of a connection: *pgx.Conn, *pgxpool.Pool and
// *pgxpool.Conn all have it.
type DB interface {
	BeginTx(ctx context.Context, txOptions pgx.TxOptions) (pgx.Tx, error)
}

// Read reads the schema of the database db is connected to. It reads in
// one read-only, repeatable-read transaction, so the snapshot is
// consistent even while others change the schema, and writes nothing. The
// role it connects as needs no privileges beyond reading pg_catalog (as
// every role can).
func Read(ctx context.Context, db DB, opts *Options) (*Snapshot, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	snap, err := read(ctx, tx, &o)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return snap, nil
}

// excluded reports whether the table schema.name is one of opts'
// ExcludeTables.
func (o *Options) excluded(schema, name string) bool {
	return slices.ContainsFunc(o.ExcludeTables, func(x string) bool {
		if s, n, ok := strings.Cut(x, "."); ok {
			return s == schema && n == name
		}
		return x == name
	})
}
