package schema

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// String prints the snapshot as text, one object a line and its parts
// indented below it, in the snapshot's order. Multi-line definitions
// (views, functions) continue on indented lines. Equal snapshots print
// the same text, so two printed snapshots can be compared with any diff
// tool.
func (s *Snapshot) String() string {
	var p printer
	for _, x := range inOrder(s.Schemas) {
		p.line(0, "schema %s owner %s", x.Name, x.Owner)
		p.privileges(1, x.Privileges)
		p.comment(1, x.Comment)
	}
	for _, x := range inOrder(s.Extensions) {
		p.line(0, "extension %s version %s schema %s", x.Name, x.Version, x.Schema)
		p.comment(1, x.Comment)
	}
	for _, x := range inOrder(s.Types) {
		p.line(0, "type %s.%s %s%s owner %s", x.Schema, x.Name, x.Kind, prefixed(" ", x.Definition), x.Owner)
		if x.Labels != nil {
			labels := make([]string, len(x.Labels))
			for i, l := range x.Labels {
				labels[i] = quote(l)
			}
			p.line(1, "labels %s", strings.Join(labels, ", "))
		}
		for _, c := range x.Attributes {
			p.column(1, "attribute", c)
		}
		for _, c := range inOrder(x.Constraints) {
			p.constraint(1, c)
		}
		p.privileges(1, x.Privileges)
		p.comment(1, x.Comment)
	}
	for _, x := range inOrder(s.Relations) {
		p.relation(x)
	}
	for _, x := range inOrder(s.Sequences) {
		p.line(0, "sequence %s.%s %s start %d increment %d min %d max %d cache %d%s%s%s owner %s",
			x.Schema, x.Name, x.Type, x.Start, x.Increment, x.Min, x.Max, x.Cache,
			flag(x.Cycle, " cycle"), flag(x.Unlogged, " unlogged"), prefixed(" owned by ", x.OwnedBy)+flag(x.Identity, " (identity)"),
			x.Owner)
		p.privileges(1, x.Privileges)
		p.comment(1, x.Comment)
	}
	for _, x := range inOrder(s.Functions) {
		p.line(0, "%s %s.%s(%s) owner %s", x.Kind, x.Schema, x.Name, x.Arguments, x.Owner)
		p.text(1, x.Definition)
		p.privileges(1, x.Privileges)
		p.comment(1, x.Comment)
	}
	for _, x := range s.DefaultPrivileges {
		p.line(0, "default privileges of %s on %s%s: %s", x.Role, x.ObjectType, prefixed(" in schema ", x.Schema),
			strings.Join(x.Privileges, " "))
	}
	for _, x := range s.Objects {
		p.line(0, "%s %s", x.Type, x.Identity)
		p.text(1, x.Definition)
		p.comment(1, x.Comment)
	}
	return p.String()
}

// printer builds the text of a snapshot.
type printer struct{ strings.Builder }

// line prints one line at the indentation level.
func (p *printer) line(level int, format string, args ...any) {
	p.WriteString(strings.Repeat("  ", level))
	fmt.Fprintf(p, format, args...)
	p.WriteByte('\n')
}

// text prints a definition, each of its lines at the indentation level.
func (p *printer) text(level int, s string) {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return
	}
	for l := range strings.SplitSeq(s, "\n") {
		p.line(level, "%s", strings.TrimRight(l, " \t\r"))
	}
}

func (p *printer) privileges(level int, privs []string) {
	if len(privs) > 0 {
		p.line(level, "privileges %s", strings.Join(privs, " "))
	}
}

func (p *printer) comment(level int, c string) {
	if c != "" {
		p.line(level, "comment %s", quote(c))
	}
}

func (p *printer) relation(x Relation) {
	p.line(0, "%s %s.%s owner %s", x.Kind, x.Schema, x.Name, x.Owner)
	if x.Unlogged {
		p.line(1, "unlogged")
	}
	if x.AccessMethod != "" && x.AccessMethod != "heap" {
		p.line(1, "access method %s", x.AccessMethod)
	}
	if x.PartitionKey != "" {
		p.line(1, "partition by %s", x.PartitionKey)
	}
	if len(x.Inherits) > 0 {
		p.line(1, "inherits %s", strings.Join(x.Inherits, ", "))
	}
	if x.PartitionBound != "" {
		p.line(1, "partition %s", x.PartitionBound)
	}
	if len(x.Options) > 0 {
		p.line(1, "with %s", strings.Join(x.Options, ", "))
	}
	if x.ReplicaIdentity != "" && x.ReplicaIdentity != "default" {
		p.line(1, "replica identity %s", x.ReplicaIdentity)
	}
	if x.RowSecurity || x.ForceRowSecurity {
		p.line(1, "row level security%s%s", flag(x.RowSecurity, " enabled"), flag(x.ForceRowSecurity, " forced"))
	}
	if x.Definition != "" {
		p.line(1, "as")
		p.text(2, x.Definition)
	}
	for _, c := range x.Columns {
		p.column(1, "column", c)
	}
	for _, c := range inOrder(x.Constraints) {
		p.constraint(1, c)
	}
	for _, i := range inOrder(x.Indexes) {
		p.line(1, "index %s%s%s: %s", i.Name, flag(!i.Valid, " (invalid)"), flag(i.Clustered, " (clustered)"), i.Definition)
		p.comment(2, i.Comment)
	}
	for _, t := range inOrder(x.Triggers) {
		p.line(1, "trigger %s%s: %s", t.Name, flag(t.Enabled != "origin", " ("+t.Enabled+")"), t.Definition)
		p.comment(2, t.Comment)
	}
	for _, r := range inOrder(x.Rules) {
		p.line(1, "rule %s:", r.Name)
		p.text(2, r.Definition)
		p.comment(2, r.Comment)
	}
	for _, pol := range inOrder(x.Policies) {
		kind := "permissive"
		if !pol.Permissive {
			kind = "restrictive"
		}
		p.line(1, "policy %s %s for %s to %s%s%s", pol.Name, kind, pol.Command, strings.Join(pol.Roles, ", "),
			prefixed(" using ", pol.Using), prefixed(" with check ", pol.WithCheck))
		p.comment(2, pol.Comment)
	}
	p.privileges(1, x.Privileges)
	p.comment(1, x.Comment)
}

func (p *printer) column(level int, what string, c Column) {
	p.line(level, "%s %s %s%s%s%s%s%s%s", what, c.Name, c.Type,
		prefixed(" COLLATE ", c.Collation), flag(c.NotNull, " NOT NULL"), prefixed(" DEFAULT ", c.Default),
		prefixed(" ", c.Identity), prefixed(" ", c.Generated), prefixed(" COMPRESSION ", c.Compression))
	p.privileges(level+1, c.Privileges)
	p.comment(level+1, c.Comment)
}

func (p *printer) constraint(level int, c Constraint) {
	p.line(level, "constraint %s %s: %s", c.Name, c.Kind, c.Definition)
	p.comment(level+1, c.Comment)
}

// inOrder returns the values of m in the order of their keys.
func inOrder[T any](m map[string]T) []T {
	xs := make([]T, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		xs = append(xs, m[k])
	}
	return xs
}

// prefixed returns prefix+s, or "" when s is empty.
func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// flag returns s when b is set.
func flag(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

// quote quotes a comment or label so that it stays on one line.
func quote(s string) string { return strconv.Quote(s) }
