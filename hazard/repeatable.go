package hazard

import (
	"strings"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/source"
)

// repeatableObjects returns the objects that the repeatable scripts of set
// create (views, materialized views, functions, procedures, triggers,
// aggregates), by name folded as the server folds it (the last part of a
// qualified name), each with the path of its script.
func repeatableObjects(set *source.Set) map[string]string {
	objs := map[string]string{}
	for _, r := range set.Repeatables() {
		for _, s := range r.Script.Statements {
			c := newCursor(s.SQL)
			if !c.accept("create") {
				continue
			}
			c.accept("or", "replace")
			for c.accept("temp") || c.accept("temporary") || c.accept("recursive") || c.accept("materialized") || c.accept("constraint") {
			}
			if !(c.accept("view") || c.accept("function") || c.accept("procedure") || c.accept("trigger") || c.accept("aggregate")) {
				continue
			}
			c.accept("if", "not", "exists")
			name := identName(c.next())
			for c.acceptOp(".") {
				name = identName(c.next())
			}
			if name != "" {
				objs[name] = r.Script.Path
			}
		}
	}
	return objs
}

// identName is the name a Word or quoted identifier token stands for, or
// "".
func identName(t sqlsplit.Token) string {
	switch t.Kind {
	case sqlsplit.Word:
		return strings.ToLower(t.Text)
	case sqlsplit.QuotedIdent:
		return strings.ReplaceAll(t.Text[1:len(t.Text)-1], `""`, `"`)
	}
	return ""
}

// usesRepeatable reports, in the statement being checked (of a versioned
// up script), each use of an object that a repeatable script creates. A
// statement that drops the object is how a versioned migration removes
// one, and is not reported. Uses inside strings (a function body, a DO
// block) are not seen.
func (k *checker) usesRepeatable() {
	if len(k.repeatables) == 0 || strings.HasPrefix(k.st.Kind, "DROP") {
		return
	}
	c := newCursor(k.stmt.SQL)
	seen := map[string]bool{}
	for !c.done() {
		t := c.next()
		name := identName(t)
		path, ok := k.repeatables[name]
		if !ok || seen[name] || c.isOp(".") {
			continue
		}
		seen[name] = true
		k.find(RuleUsesRepeatable, t, "the versioned migration uses "+Name{Name: name}.String()+", which the repeatable script "+path+
			" creates: repeatable scripts run after the versions, so on a new database it does not exist yet, and elsewhere it is whichever text was applied last", "")
	}
}
