package drift

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"unicode"

	"github.com/waymarkdb/waymark/schema"
)

// Change says how an object differs.
type Change string

// The changes a [Difference] reports.
const (
	// Extra: the live database has the object; the migrations do not
	// make it.
	Extra Change = "extra"
	// Missing: the migrations make the object; the live database lacks
	// it.
	Missing Change = "missing"
	// Differs: both have the object, and one aspect of it differs.
	Differs Change = "differs"
)

// Difference is one way the live database differs from what its
// migrations make.
type Difference struct {
	// Kind is the object's kind: "schema", "extension", "type", "table",
	// "partitioned table", "foreign table", "view", "materialized view",
	// "column", "constraint", "index", "trigger", "rule", "policy",
	// "sequence", "function", "procedure", "aggregate", "window",
	// "default privileges", or a kind of [schema.Object] ("collation",
	// "statistics object", ...).
	Kind string `json:"kind"`
	// Name names the object: "public.users" for a schema's object,
	// "public.users.email" for a part of a table or type (column,
	// constraint, index, trigger, rule, policy, attribute), "audit" for a
	// schema, "public.touch()" for a function, "app in schema public on
	// tables" for default privileges.
	Name string `json:"name"`
	// Change is extra, missing or differs.
	Change Change `json:"change"`
	// Aspect is what differs, for Differs: "type", "default", "not null",
	// "definition", "enabled", "owner", "privileges", "comment", "column
	// order", ... (a field of the schema package's types, in words).
	Aspect string `json:"aspect,omitempty"`
	// Expected is what the migrations make and Live what the database
	// has: the aspect's value for Differs, the object's definition (when
	// it has a one-line one) for Missing and Extra.
	Expected string `json:"expected,omitempty"`
	Live     string `json:"live,omitempty"`
	// Version is the last version, up to the database's, whose up script
	// names the object (or, failing that, the table or type it belongs
	// to); 0 when none does.
	Version int64 `json:"version,omitempty"`
}

// String returns the difference on one line: "differs column
// public.users.email type: expected text, live character varying(200)
// (version 3)".
func (d Difference) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %s %s", d.Change, d.Kind, d.Name)
	switch d.Change {
	case Differs:
		fmt.Fprintf(&b, " %s: expected %s, live %s", d.Aspect, shown(d.Expected), shown(d.Live))
	case Missing:
		if d.Expected != "" {
			fmt.Fprintf(&b, ": %s", oneLine(d.Expected))
		}
	case Extra:
		if d.Live != "" {
			fmt.Fprintf(&b, ": %s", oneLine(d.Live))
		}
	}
	if d.Version > 0 {
		fmt.Fprintf(&b, " (version %d)", d.Version)
	}
	return b.String()
}

// shown prints an aspect's value for a message: quoted when empty or
// spanning lines.
func shown(s string) string {
	if s == "" {
		return "(none)"
	}
	return oneLine(s)
}

// oneLine shortens a multi-line definition to its first line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// CompareOptions choose what [Compare] looks at. A nil *CompareOptions
// means the defaults.
type CompareOptions struct {
	// IgnorePrivileges leaves out privileges (of every object, its columns
	// included) and default privileges. Default false: compared.
	IgnorePrivileges bool
	// IgnoreOwners leaves out owners. Default false: compared.
	IgnoreOwners bool
}

// Compare returns how live differs from expected, sorted by name, kind
// and aspect. It is a pure function of the two snapshots; [Checker]
// takes them and adds the versions.
//
// Privileges are compared with each object's owner written as "OWNER" in
// them, so that a changed owner is reported once, as the owner, and not
// again as the owner's privileges that PostgreSQL moved with it. A
// sequence owned by a column follows its table's owner, so its owner is
// reported only when it differs otherwise.
func Compare(expected, live *schema.Snapshot, opts *CompareOptions) []Difference {
	var o CompareOptions
	if opts != nil {
		o = *opts
	}
	if expected == nil {
		expected = &schema.Snapshot{}
	}
	if live == nil {
		live = &schema.Snapshot{}
	}
	c := &comparer{o: o, exp: expected, live: live}
	compareMap(c, "schema", "", expected.Schemas, live.Schemas, fieldsFn[schema.Schema](c), func(x schema.Schema) string { return "" })
	compareMap(c, "extension", "", expected.Extensions, live.Extensions, fieldsFn[schema.Extension](c),
		func(x schema.Extension) string { return "version " + x.Version + " in schema " + x.Schema })
	compareMap(c, "", "", expected.Types, live.Types, c.typ, func(x schema.Type) string { return x.Kind + prefixed(" ", x.Definition) })
	compareMap(c, "", "", expected.Relations, live.Relations, c.relation, func(x schema.Relation) string { return "" })
	compareMap(c, "sequence", "", expected.Sequences, live.Sequences, c.sequence, func(x schema.Sequence) string { return x.Type })
	compareMap(c, "", "", expected.Functions, live.Functions, fieldsFn[schema.Function](c), func(x schema.Function) string { return x.Definition })
	if !o.IgnorePrivileges {
		key := func(x schema.DefaultPrivilege) string {
			return x.Role + prefixed(" in schema ", x.Schema) + " on " + x.ObjectType
		}
		compareMap(c, "default privileges", "", byKey(expected.DefaultPrivileges, key), byKey(live.DefaultPrivileges, key),
			func(kind, name string, e, l schema.DefaultPrivilege) {
				c.diff(kind, name, "privileges", strings.Join(e.Privileges, " "), strings.Join(l.Privileges, " "))
			},
			func(x schema.DefaultPrivilege) string { return strings.Join(x.Privileges, " ") })
	}
	objKey := func(x schema.Object) string { return x.Type + "\x00" + x.Identity }
	compareMap(c, "", "", byKey(expected.Objects, objKey), byKey(live.Objects, objKey), fieldsFn[schema.Object](c),
		func(x schema.Object) string { return x.Definition })
	slices.SortStableFunc(c.out, func(a, b Difference) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Aspect, b.Aspect))
	})
	return c.out
}

// comparer collects the differences of two snapshots.
type comparer struct {
	o         CompareOptions
	exp, live *schema.Snapshot
	out       []Difference
	owner     [2]string // the owners of the object being compared: expected, live
}

func (c *comparer) add(d Difference) { c.out = append(c.out, d) }

func (c *comparer) diff(kind, name, aspect, expected, live string) {
	if expected != live {
		c.add(Difference{Kind: kind, Name: name, Change: Differs, Aspect: aspect, Expected: expected, Live: live})
	}
}

// compareMap reports the keys of live that expected lacks (extra), those
// of expected that live lacks (missing), and calls both for the others.
// kind is the kind of every value, or "" for kindOf's; prefix goes before
// each key to name the object.
func compareMap[T any](c *comparer, kind, prefix string, expected, live map[string]T,
	both func(kind, name string, e, l T), describe func(T) string) {
	for _, k := range slices.Sorted(maps.Keys(live)) {
		l := live[k]
		name, kd := prefix+objectName(k, l), cmp.Or(kind, kindOf(l))
		if e, ok := expected[k]; ok {
			both(kd, name, e, l)
		} else {
			c.add(Difference{Kind: kd, Name: name, Change: Extra, Live: describe(l)})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(expected)) {
		if _, ok := live[k]; !ok {
			e := expected[k]
			c.add(Difference{Kind: cmp.Or(kind, kindOf(e)), Name: prefix + objectName(k, e), Change: Missing, Expected: describe(e)})
		}
	}
}

// objectName is the name a Difference gives the object under key k.
func objectName(k string, x any) string {
	if o, ok := x.(schema.Object); ok {
		return o.Identity
	}
	return k
}

// kindOf returns the kind of an object whose kind varies.
func kindOf(x any) string {
	switch x := x.(type) {
	case schema.Type:
		return "type"
	case schema.Relation:
		return x.Kind
	case schema.Function:
		return x.Kind
	case schema.Object:
		return x.Type
	}
	return ""
}

// byKey turns a sorted list into a map by key.
func byKey[T any](xs []T, key func(T) string) map[string]T {
	if len(xs) == 0 {
		return nil
	}
	m := make(map[string]T, len(xs))
	for _, x := range xs {
		m[key(x)] = x
	}
	return m
}

// fields compares the scalar fields of two values of one struct type
// (strings, booleans, integers and string slices), each an aspect named
// by the field; maps and slices of structs are the caller's. Name and
// Schema are the object's key; Kind of a relation or function is in its
// key's kind.
func (c *comparer) fields(kind, name string, e, l any) {
	ev, lv := reflect.ValueOf(e), reflect.ValueOf(l)
	t := ev.Type()
	if f := ev.FieldByName("Owner"); f.IsValid() {
		c.owner = [2]string{f.String(), lv.FieldByName("Owner").String()}
	}
	for i := range t.NumField() {
		f := t.Field(i)
		switch f.Name {
		case "Name", "Schema", "Identity":
			continue
		case "Owner":
			if c.o.IgnoreOwners {
				continue
			}
		case "Privileges":
			if c.o.IgnorePrivileges {
				continue
			}
			ep, lp := ownerless(ev.Field(i).Interface().([]string), c.owner[0]), ownerless(lv.Field(i).Interface().([]string), c.owner[1])
			if !slices.Equal(ep, lp) {
				c.diff(kind, name, "privileges", strings.Join(ev.Field(i).Interface().([]string), " "),
					strings.Join(lv.Field(i).Interface().([]string), " "))
			}
			continue
		}
		ef, lf := ev.Field(i), lv.Field(i)
		var es, ls string
		switch f.Type.Kind() {
		case reflect.String:
			es, ls = ef.String(), lf.String()
		case reflect.Bool:
			es, ls = fmt.Sprint(ef.Bool()), fmt.Sprint(lf.Bool())
		case reflect.Int64:
			es, ls = fmt.Sprint(ef.Int()), fmt.Sprint(lf.Int())
		case reflect.Slice:
			if f.Type.Elem().Kind() != reflect.String {
				continue
			}
			es, ls = strings.Join(ef.Interface().([]string), ", "), strings.Join(lf.Interface().([]string), ", ")
		default:
			continue
		}
		c.diff(kind, name, words(f.Name), es, ls)
	}
}

// ownerless returns privs with owner, as grantee or grantor, written as
// OWNER, sorted.
func ownerless(privs []string, owner string) []string {
	if owner == "" || len(privs) == 0 {
		return privs
	}
	out := make([]string, len(privs))
	for i, p := range privs {
		grantee, rest, _ := strings.Cut(p, "=")
		rights, grantor, _ := strings.Cut(rest, "/")
		if unquote(grantee) == owner {
			grantee = "OWNER"
		}
		if unquote(grantor) == owner {
			grantor = "OWNER"
		}
		out[i] = grantee + "=" + rights + "/" + grantor
	}
	slices.Sort(out)
	return out
}

// unquote undoes the double quotes of a role name in an aclitem.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// words turns a Go field name into words: "NotNull" -> "not null".
func words(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte(' ')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func (c *comparer) typ(kind, name string, e, l schema.Type) {
	c.fields(kind, name, e, l)
	owners := c.owner
	c.columns("attribute", name, e.Attributes, l.Attributes)
	c.owner = owners
	compareMap(c, "constraint", name+".", e.Constraints, l.Constraints, fieldsFn[schema.Constraint](c), func(x schema.Constraint) string { return x.Definition })
}

func (c *comparer) relation(kind, name string, e, l schema.Relation) {
	c.fields(kind, name, e, l)
	owners := c.owner
	c.columns("column", name, e.Columns, l.Columns)
	c.owner = owners
	compareMap(c, "constraint", name+".", e.Constraints, l.Constraints, fieldsFn[schema.Constraint](c), func(x schema.Constraint) string { return x.Definition })
	compareMap(c, "index", name+".", e.Indexes, l.Indexes, fieldsFn[schema.Index](c), func(x schema.Index) string { return x.Definition })
	compareMap(c, "trigger", name+".", e.Triggers, l.Triggers, fieldsFn[schema.Trigger](c), func(x schema.Trigger) string { return x.Definition })
	compareMap(c, "rule", name+".", e.Rules, l.Rules, fieldsFn[schema.Rule](c), func(x schema.Rule) string { return x.Definition })
	compareMap(c, "policy", name+".", e.Policies, l.Policies, fieldsFn[schema.Policy](c), func(x schema.Policy) string { return x.Command })
}

// fieldsFn returns c.fields for values of type T.
func fieldsFn[T any](c *comparer) func(kind, name string, e, l T) {
	return func(kind, name string, e, l T) { c.fields(kind, name, e, l) }
}

// columns compares the columns (or attributes) of a relation or type by
// name, and their order when both have the same ones.
func (c *comparer) columns(kind, parent string, e, l []schema.Column) {
	name := func(x schema.Column) string { return x.Name }
	em, lm := byKey(e, name), byKey(l, name)
	describe := func(x schema.Column) string { return x.Type }
	compareMap(c, kind, parent+".", em, lm, func(kind, name string, e, l schema.Column) { c.fields(kind, name, e, l) }, describe)
	en, ln := names(e), names(l)
	if len(em) == len(lm) && !slices.Equal(en, ln) && slices.Equal(slices.Sorted(slices.Values(en)), slices.Sorted(slices.Values(ln))) {
		c.diff(kindOfParent(c, parent), parent, kind+" order", strings.Join(en, ", "), strings.Join(ln, ", "))
	}
}

func names(cols []schema.Column) []string {
	out := make([]string, len(cols))
	for i, x := range cols {
		out[i] = x.Name
	}
	return out
}

// kindOfParent returns the kind of the relation or type named parent.
func kindOfParent(c *comparer, parent string) string {
	if r, ok := c.live.Relations[parent]; ok {
		return r.Kind
	}
	return "type"
}

func (c *comparer) sequence(kind, name string, e, l schema.Sequence) {
	if !c.o.IgnoreOwners && e.Owner != l.Owner && e.OwnedBy != "" && e.OwnedBy == l.OwnedBy {
		// PostgreSQL moves an owned sequence with its table's owner.
		table := e.OwnedBy[:strings.LastIndexByte(e.OwnedBy, '.')]
		et, eok := c.exp.Relations[table]
		lt, lok := c.live.Relations[table]
		if eok && lok && et.Owner == e.Owner && lt.Owner == l.Owner {
			e.Owner = l.Owner
			e.Privileges = ownerless(e.Privileges, et.Owner)
			l.Privileges = ownerless(l.Privileges, lt.Owner)
		}
	}
	c.fields(kind, name, e, l)
}
