package schema

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The SQL below runs with an empty search_path (pg_catalog is still
// searched first), so the pg_get_*def functions schema-qualify every name
// outside pg_catalog, the same way whatever the caller's search_path.

// userNS is the condition for a namespace n that is not a system schema.
// (CREATE SCHEMA refuses names starting with pg_.)
const userNS = `n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`

// notMember returns the condition that the object oid of catalog is not a
// member of an extension.
func notMember(catalog, oid string) string {
	return `NOT EXISTS (SELECT FROM pg_depend x WHERE x.classid = '` + catalog +
		`'::regclass AND x.objid = ` + oid + ` AND x.deptype = 'e')`
}

// notInternal returns the condition that the object oid of catalog is not
// part of another object, as the constructor functions of a range type
// are (an internal dependency): they come and go with it.
func notInternal(catalog, oid string) string {
	return `NOT EXISTS (SELECT FROM pg_depend x WHERE x.classid = '` + catalog +
		`'::regclass AND x.objid = ` + oid + ` AND x.deptype = 'i')`
}

// userRelations selects the OIDs of the relations that have columns:
// tables, views, materialized views and composite types.
var userRelations = `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c') AND ` + userNS + ` AND ` + notMember("pg_class", "c.oid")

// userDomains selects the OIDs of the domains.
var userDomains = `SELECT t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'd' AND ` + userNS + ` AND ` + notMember("pg_type", "t.oid")

// aclSQL returns the expression for the ACL of an object as text[], its
// default ACL (acldefault kind, owner) when it has none.
func aclSQL(acl, kind, owner string) string {
	return `coalesce(` + acl + `, acldefault('` + kind + `', ` + owner + `))::text[]`
}

// comment returns the expression for the comment of object oid of catalog.
func comment(oid, catalog string) string {
	return `coalesce(obj_description(` + oid + `, '` + catalog + `'), '')`
}

var (
	schemasSQL = `SELECT n.nspname, pg_get_userbyid(n.nspowner), ` + aclSQL("n.nspacl", "n", "n.nspowner") + `, ` +
		comment("n.oid", "pg_namespace") + `
FROM pg_namespace n WHERE ` + userNS + ` AND ` + notMember("pg_namespace", "n.oid")

	extensionsSQL = `SELECT e.extname, e.extversion, n.nspname, ` + comment("e.oid", "pg_extension") + `
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`

	typesSQL = `SELECT t.oid::int8, t.typrelid::int8, n.nspname, t.typname, t.typtype::text,
	CASE t.typtype
	WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod)
		|| CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)
			THEN ' COLLATE ' || (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
				FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation)
			ELSE '' END
		|| CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
		|| coalesce(' DEFAULT ' || coalesce(pg_get_expr(t.typdefaultbin, 0), t.typdefault), '')
	WHEN 'r' THEN (SELECT 'subtype ' || format_type(r.rngsubtype, NULL)
		|| ', opclass ' || (SELECT quote_ident(opn.nspname) || '.' || quote_ident(opc.opcname)
			FROM pg_opclass opc JOIN pg_namespace opn ON opn.oid = opc.opcnamespace WHERE opc.oid = r.rngsubopc)
		|| CASE WHEN r.rngcollation <> 0 THEN ', collation ' || (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
			FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = r.rngcollation) ELSE '' END
		|| CASE WHEN r.rngcanonical <> 0 THEN ', canonical ' || r.rngcanonical::regprocedure::text ELSE '' END
		|| CASE WHEN r.rngsubdiff <> 0 THEN ', subtype_diff ' || r.rngsubdiff::regprocedure::text ELSE '' END
		|| ', multirange ' || format_type(r.rngmultitypid, NULL)
		FROM pg_range r WHERE r.rngtypid = t.oid)
	WHEN 'b' THEN 'input ' || t.typinput::regprocedure::text || ', output ' || t.typoutput::regprocedure::text
	ELSE '' END,
	ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder),
	pg_get_userbyid(t.typowner), ` + aclSQL("t.typacl", "T", "t.typowner") + `, ` + comment("t.oid", "pg_type") + `
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r') AND ` + userNS + ` AND ` + notMember("pg_type", "t.oid") + `
	AND (t.typtype <> 'c' OR EXISTS (SELECT FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))
	AND NOT EXISTS (SELECT FROM pg_type a WHERE a.typarray = t.oid)`

	relationsSQL = `SELECT c.oid::int8, n.nspname, c.relname, c.relkind::text, c.relpersistence = 'u',
	CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) ELSE '' END,
	CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '' END,
	CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) ELSE '' END,
	ARRAY(SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i
		JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
		WHERE i.inhrelid = c.oid ORDER BY i.inhseqno),
	coalesce(am.amname, ''), coalesce(c.reloptions, '{}'),
	CASE WHEN c.relkind IN ('r', 'p') THEN c.relreplident::text ELSE '' END,
	c.relrowsecurity, c.relforcerowsecurity,
	pg_get_userbyid(c.relowner), ` + aclSQL("c.relacl", "r", "c.relowner") + `, ` + comment("c.oid", "pg_class") + `
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND ` + userNS + ` AND ` + notMember("pg_class", "c.oid")

	columnsSQL = `SELECT a.attrelid::int8, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
	coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
	CASE WHEN a.attcollation <> t.typcollation THEN coalesce((SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
		FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation), '') ELSE '' END,
	a.attcompression::text, coalesce(a.attacl::text[], '{}'), coalesce(col_description(a.attrelid, a.attnum), '')
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
	LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attrelid IN (` + userRelations + `)
ORDER BY a.attrelid, a.attnum`

	// NOT NULL constraints (contype n, PostgreSQL 18 for tables and 17
	// for domains) are left out: Column.NotNull and the domain's
	// definition say the same on every version.
	constraintsSQL = `SELECT con.conrelid::int8, con.contypid::int8, con.conname, con.contype::text,
	pg_get_constraintdef(con.oid), ` + comment("con.oid", "pg_constraint") + `
FROM pg_constraint con
WHERE con.contype <> 'n' AND (con.conrelid IN (` + userRelations + `) OR con.contypid IN (` + userDomains + `))`

	indexesSQL = `SELECT i.indrelid::int8, ic.relname, pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisclustered,
	` + comment("i.indexrelid", "pg_class") + `
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid IN (` + userRelations + `)`

	triggersSQL = `SELECT tg.tgrelid::int8, tg.tgname, pg_get_triggerdef(tg.oid), tg.tgenabled::text,
	` + comment("tg.oid", "pg_trigger") + `
FROM pg_trigger tg WHERE NOT tg.tgisinternal AND tg.tgrelid IN (` + userRelations + `)`

	rulesSQL = `SELECT r.ev_class::int8, r.rulename, pg_get_ruledef(r.oid), ` + comment("r.oid", "pg_rewrite") + `
FROM pg_rewrite r WHERE r.rulename <> '_RETURN' AND r.ev_class IN (` + userRelations + `)`

	policiesSQL = `SELECT p.polrelid::int8, p.polname, p.polpermissive, p.polcmd::text,
	ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END FROM unnest(p.polroles) r),
	coalesce(pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''),
	` + comment("p.oid", "pg_policy") + `
FROM pg_policy p WHERE p.polrelid IN (` + userRelations + `)`

	sequencesSQL = `SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
	s.seqmin, s.seqmax, s.seqcache, s.seqcycle, c.relpersistence = 'u',
	coalesce(o.nspname, ''), coalesce(o.relname, ''), coalesce(o.attname, ''), coalesce(o.deptype = 'i', false),
	pg_get_userbyid(c.relowner), ` + aclSQL("c.relacl", "s", "c.relowner") + `, ` + comment("c.oid", "pg_class") + `
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
	SELECT tn.nspname, tc.relname, a.attname, d.deptype FROM pg_depend d
	JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
	JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
	WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
		AND d.deptype IN ('a', 'i')
	LIMIT 1) o ON true
WHERE ` + userNS + ` AND ` + notMember("pg_class", "c.oid")

	functionsSQL = `SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind::text,
	CASE WHEN p.prokind = 'a' THEN (SELECT 'SFUNC = ' || a.aggtransfn::regprocedure::text
		|| ', STYPE = ' || format_type(a.aggtranstype, NULL)
		|| ', FINALFUNC = ' || a.aggfinalfn::regprocedure::text
		|| ', COMBINEFUNC = ' || a.aggcombinefn::regprocedure::text
		|| ', INITCOND = ' || coalesce(quote_literal(a.agginitval), 'NULL')
		|| ', SORTOP = ' || a.aggsortop::regoperator::text
		|| ', KIND = ' || a.aggkind::text
		FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
	ELSE pg_get_functiondef(p.oid) END,
	pg_get_userbyid(p.proowner), ` + aclSQL("p.proacl", "f", "p.proowner") + `, ` + comment("p.oid", "pg_proc") + `
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE ` + userNS + ` AND ` + notMember("pg_proc", "p.oid") + ` AND ` + notInternal("pg_proc", "p.oid")

	defaultPrivilegesSQL = `SELECT pg_get_userbyid(d.defaclrole), coalesce(n.nspname, ''), d.defaclobjtype::text,
	d.defaclacl::text[]
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace`

	// objectsSQL lists, by identity, the objects of the catalogs the other
	// queries do not read, other than parts of other objects (such as a
	// range type's cast to its multirange) and members of extensions. Objects made after initdb have OIDs of at least
	// 16384 (FirstNormalObjectId); the ones initdb made are below it.
	objectsSQL = `SELECT o.type, o.identity,
	CASE WHEN x.cls = 'pg_statistic_ext'::regclass THEN coalesce(pg_get_statisticsobjdef(x.oid), '') ELSE '' END,
	coalesce((SELECT d.description FROM pg_description d
		WHERE d.classoid = x.cls AND d.objoid = x.oid AND d.objsubid = 0), '')
FROM (` + strings.Join(otherCatalogs(), "\nUNION ALL ") + `) x
CROSS JOIN LATERAL pg_identify_object(x.cls, x.oid, 0) o
WHERE x.oid >= 16384
	AND NOT EXISTS (SELECT FROM pg_depend e WHERE e.classid = x.cls AND e.objid = x.oid AND e.deptype IN ('e', 'i'))`
)

// otherCatalogs returns a SELECT of (catalog, oid) for each catalog whose
// objects Snapshot.Objects lists.
func otherCatalogs() []string {
	catalogs := []string{
		"pg_collation", "pg_statistic_ext", "pg_operator", "pg_opclass", "pg_opfamily", "pg_cast",
		"pg_conversion", "pg_ts_config", "pg_ts_dict", "pg_ts_parser", "pg_ts_template",
		"pg_foreign_data_wrapper", "pg_foreign_server", "pg_event_trigger", "pg_publication",
		"pg_transform", "pg_language", "pg_am",
	}
	sel := make([]string, len(catalogs))
	for i, c := range catalogs {
		sel[i] = "SELECT '" + c + "'::regclass AS cls, oid FROM " + c
	}
	return sel
}

// query runs sql in tx and calls scan for each row.
func query(ctx context.Context, tx pgx.Tx, what, sql string, scan func(pgx.Rows) error) error {
	rows, err := tx.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}

func read(ctx context.Context, tx pgx.Tx, o *Options) (*Snapshot, error) {
	var version int
	if err := tx.QueryRow(ctx, "SELECT current_setting('server_version_num')::int", pgx.QueryExecModeSimpleProtocol).Scan(&version); err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	if version < MinVersion {
		return nil, fmt.Errorf("%w: server_version_num %d, want PostgreSQL 14 or newer", ErrUnsupportedServer, version)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = ''", pgx.QueryExecModeSimpleProtocol); err != nil {
		return nil, err
	}

	s := &Snapshot{}
	relations := map[int64]*Relation{}   // by OID
	composites := map[int64]*Type{}      // by the OID of the type's relation
	domains := map[int64]*Type{}         // by OID
	var relOrder []int64                 // relations in the order read
	var typeOrder []int64                // types in the order read
	types := map[int64]*Type{}           // by OID
	excludedRel := map[int64]bool{}      // excluded tables' OIDs
	excludedName := map[[2]string]bool{} // excluded tables by schema, name

	steps := []struct {
		what, sql string
		scan      func(pgx.Rows) error
	}{
		{"schemas", schemasSQL, func(r pgx.Rows) error {
			var x Schema
			err := r.Scan(&x.Name, &x.Owner, &x.Privileges, &x.Comment)
			put(&s.Schemas, x.Name, x)
			return err
		}},
		{"extensions", extensionsSQL, func(r pgx.Rows) error {
			var x Extension
			err := r.Scan(&x.Name, &x.Version, &x.Schema, &x.Comment)
			put(&s.Extensions, x.Name, x)
			return err
		}},
		{"types", typesSQL, func(r pgx.Rows) error {
			var oid, relid int64
			x := &Type{}
			if err := r.Scan(&oid, &relid, &x.Schema, &x.Name, &x.Kind, &x.Definition, &x.Labels,
				&x.Owner, &x.Privileges, &x.Comment); err != nil {
				return err
			}
			x.Kind = typeKinds[x.Kind]
			switch x.Kind {
			case "composite":
				composites[relid] = x
			case "domain":
				domains[oid] = x
			}
			types[oid] = x
			typeOrder = append(typeOrder, oid)
			return nil
		}},
		{"relations", relationsSQL, func(r pgx.Rows) error {
			var oid int64
			x := &Relation{}
			if err := r.Scan(&oid, &x.Schema, &x.Name, &x.Kind, &x.Unlogged, &x.Definition, &x.PartitionKey,
				&x.PartitionBound, &x.Inherits, &x.AccessMethod, &x.Options, &x.ReplicaIdentity,
				&x.RowSecurity, &x.ForceRowSecurity, &x.Owner, &x.Privileges, &x.Comment); err != nil {
				return err
			}
			if o.excluded(x.Schema, x.Name) {
				excludedRel[oid] = true
				excludedName[[2]string{x.Schema, x.Name}] = true
				return nil
			}
			x.Kind = relationKinds[x.Kind]
			x.ReplicaIdentity = replicaIdentities[x.ReplicaIdentity]
			relations[oid] = x
			relOrder = append(relOrder, oid)
			return nil
		}},
		{"columns", columnsSQL, func(r pgx.Rows) error {
			var relid int64
			var x Column
			var identity, generated, compression string
			if err := r.Scan(&relid, &x.Name, &x.Type, &x.NotNull, &x.Default, &identity, &generated,
				&x.Collation, &compression, &x.Privileges, &x.Comment); err != nil {
				return err
			}
			x.Identity = identities[identity]
			x.Compression = compressions[compression]
			if kind := generatedKinds[generated]; kind != "" {
				x.Generated = "GENERATED ALWAYS AS (" + x.Default + ") " + kind
				x.Default = ""
			}
			if rel := relations[relid]; rel != nil {
				rel.Columns = append(rel.Columns, x)
			} else if typ := composites[relid]; typ != nil {
				typ.Attributes = append(typ.Attributes, x)
			}
			return nil
		}},
		{"constraints", constraintsSQL, func(r pgx.Rows) error {
			var relid, typid int64
			var x Constraint
			if err := r.Scan(&relid, &typid, &x.Name, &x.Kind, &x.Definition, &x.Comment); err != nil {
				return err
			}
			x.Kind = constraintKinds[x.Kind]
			if rel := relations[relid]; rel != nil {
				put(&rel.Constraints, x.Name, x)
			} else if typ := domains[typid]; typ != nil {
				put(&typ.Constraints, x.Name, x)
			}
			return nil
		}},
		{"indexes", indexesSQL, func(r pgx.Rows) error {
			var relid int64
			var x Index
			if err := r.Scan(&relid, &x.Name, &x.Definition, &x.Valid, &x.Clustered, &x.Comment); err != nil {
				return err
			}
			if rel := relations[relid]; rel != nil {
				put(&rel.Indexes, x.Name, x)
			}
			return nil
		}},
		{"triggers", triggersSQL, func(r pgx.Rows) error {
			var relid int64
			var x Trigger
			if err := r.Scan(&relid, &x.Name, &x.Definition, &x.Enabled, &x.Comment); err != nil {
				return err
			}
			x.Enabled = triggerStates[x.Enabled]
			if rel := relations[relid]; rel != nil {
				put(&rel.Triggers, x.Name, x)
			}
			return nil
		}},
		{"rules", rulesSQL, func(r pgx.Rows) error {
			var relid int64
			var x Rule
			if err := r.Scan(&relid, &x.Name, &x.Definition, &x.Comment); err != nil {
				return err
			}
			if rel := relations[relid]; rel != nil {
				put(&rel.Rules, x.Name, x)
			}
			return nil
		}},
		{"policies", policiesSQL, func(r pgx.Rows) error {
			var relid int64
			var x Policy
			if err := r.Scan(&relid, &x.Name, &x.Permissive, &x.Command, &x.Roles, &x.Using, &x.WithCheck,
				&x.Comment); err != nil {
				return err
			}
			x.Command = policyCommands[x.Command]
			if rel := relations[relid]; rel != nil {
				put(&rel.Policies, x.Name, x)
			}
			return nil
		}},
		{"sequences", sequencesSQL, func(r pgx.Rows) error {
			var x Sequence
			var ownerSchema, ownerTable, ownerColumn string
			if err := r.Scan(&x.Schema, &x.Name, &x.Type, &x.Start, &x.Increment, &x.Min, &x.Max, &x.Cache,
				&x.Cycle, &x.Unlogged, &ownerSchema, &ownerTable, &ownerColumn, &x.Identity,
				&x.Owner, &x.Privileges, &x.Comment); err != nil {
				return err
			}
			if ownerTable != "" {
				if excludedName[[2]string{ownerSchema, ownerTable}] {
					return nil
				}
				x.OwnedBy = ownerSchema + "." + ownerTable + "." + ownerColumn
			}
			put(&s.Sequences, x.Schema+"."+x.Name, x)
			return nil
		}},
		{"functions", functionsSQL, func(r pgx.Rows) error {
			var x Function
			err := r.Scan(&x.Schema, &x.Name, &x.Arguments, &x.Kind, &x.Definition, &x.Owner, &x.Privileges, &x.Comment)
			x.Kind = functionKinds[x.Kind]
			put(&s.Functions, x.Schema+"."+x.Name+"("+x.Arguments+")", x)
			return err
		}},
		{"default privileges", defaultPrivilegesSQL, func(r pgx.Rows) error {
			var x DefaultPrivilege
			err := r.Scan(&x.Role, &x.Schema, &x.ObjectType, &x.Privileges)
			x.ObjectType = defaultACLTypes[x.ObjectType]
			s.DefaultPrivileges = append(s.DefaultPrivileges, x)
			return err
		}},
		{"other objects", objectsSQL, func(r pgx.Rows) error {
			var x Object
			err := r.Scan(&x.Type, &x.Identity, &x.Definition, &x.Comment)
			s.Objects = append(s.Objects, x)
			return err
		}},
	}
	for _, st := range steps {
		if err := query(ctx, tx, st.what, st.sql, st.scan); err != nil {
			return nil, err
		}
	}
	for _, oid := range typeOrder {
		x := types[oid]
		put(&s.Types, x.Schema+"."+x.Name, *x)
	}
	for _, oid := range relOrder {
		x := relations[oid]
		put(&s.Relations, x.Schema+"."+x.Name, *x)
	}
	s.normalize(o)
	return s, nil
}

var (
	typeKinds         = map[string]string{"b": "base", "c": "composite", "d": "domain", "e": "enum", "r": "range"}
	relationKinds     = map[string]string{"r": "table", "p": "partitioned table", "f": "foreign table", "v": "view", "m": "materialized view"}
	replicaIdentities = map[string]string{"d": "default", "n": "nothing", "f": "full", "i": "index"}
	identities        = map[string]string{"a": "GENERATED ALWAYS AS IDENTITY", "d": "GENERATED BY DEFAULT AS IDENTITY"}
	generatedKinds    = map[string]string{"s": "STORED", "v": "VIRTUAL"}
	compressions      = map[string]string{"p": "pglz", "l": "lz4"}
	constraintKinds   = map[string]string{"p": "primary key", "u": "unique", "f": "foreign key", "c": "check", "x": "exclusion", "t": "trigger"}
	triggerStates     = map[string]string{"O": "origin", "D": "disabled", "R": "replica", "A": "always"}
	policyCommands    = map[string]string{"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
	functionKinds     = map[string]string{"f": "function", "p": "procedure", "a": "aggregate", "w": "window"}
	defaultACLTypes   = map[string]string{"r": "tables", "S": "sequences", "f": "functions", "T": "types", "n": "schemas"}
)

// normalize sorts every list and turns empty slices and maps into nil,
// so that equal schemas give deeply equal snapshots.
func (s *Snapshot) normalize(o *Options) {
	for k, x := range s.Schemas {
		x.Privileges = sorted(x.Privileges)
		s.Schemas[k] = x
	}
	for k, t := range s.Types {
		t.Labels = nilIfEmpty(t.Labels)
		t.Privileges = sorted(t.Privileges)
		normalizeColumns(t.Attributes, false)
		t.Attributes = nilIfEmpty(t.Attributes)
		s.Types[k] = t
	}
	for k, r := range s.Relations {
		r.Inherits = nilIfEmpty(r.Inherits)
		r.Options = sorted(r.Options)
		r.Privileges = sorted(r.Privileges)
		normalizeColumns(r.Columns, o.IgnoreColumnOrder)
		r.Columns = nilIfEmpty(r.Columns)
		for name, p := range r.Policies {
			p.Roles = sorted(p.Roles)
			r.Policies[name] = p
		}
		s.Relations[k] = r
	}
	for k, x := range s.Sequences {
		x.Privileges = sorted(x.Privileges)
		s.Sequences[k] = x
	}
	for k, x := range s.Functions {
		x.Privileges = sorted(x.Privileges)
		s.Functions[k] = x
	}
	sortBy(s.DefaultPrivileges, func(x DefaultPrivilege) string { return x.Role + "\x00" + x.Schema + "\x00" + x.ObjectType })
	for i := range s.DefaultPrivileges {
		s.DefaultPrivileges[i].Privileges = sorted(s.DefaultPrivileges[i].Privileges)
	}
	sortBy(s.Objects, func(x Object) string { return x.Type + "\x00" + x.Identity })
	s.DefaultPrivileges = nilIfEmpty(s.DefaultPrivileges)
	s.Objects = nilIfEmpty(s.Objects)
}

// put adds x to the map *m under key, making the map on first use: maps
// without entries stay nil.
func put[T any](m *map[string]T, key string, x T) {
	if *m == nil {
		*m = map[string]T{}
	}
	(*m)[key] = x
}

func normalizeColumns(cols []Column, byName bool) {
	if byName {
		sortBy(cols, func(x Column) string { return x.Name })
	}
	for i := range cols {
		cols[i].Privileges = sorted(cols[i].Privileges)
	}
}

// sortBy sorts xs by key, stably, comparing keys byte by byte.
func sortBy[T any](xs []T, key func(T) string) {
	slices.SortStableFunc(xs, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
}

// sorted sorts xs in place and returns it, or nil when it is empty.
func sorted(xs []string) []string {
	slices.Sort(xs)
	return nilIfEmpty(xs)
}

func nilIfEmpty[T any](xs []T) []T {
	if len(xs) == 0 {
		return nil
	}
	return xs
}
