package hazard

import (
	"fmt"
	"slices"
	"strings"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// create reads a CREATE statement.
func (k *checker) create(c *cursor) {
	c.next() // CREATE
	orReplace := c.accept("or", "replace")
	if c.is("unique", "index") || c.is("index") {
		k.createIndex(c)
		return
	}
	_ = c.accept("global") || c.accept("local")
	temp := c.accept("temp") || c.accept("temporary")
	c.accept("unlogged")
	switch {
	case c.accept("table"):
		if temp {
			// A session's own table: no other session sees it, so nothing
			// done to it in the script is a hazard.
			c.accept("if", "not", "exists")
			if n, ok := c.name(); ok {
				k.markCreated(n)
			}
			return
		}
		k.createTable(c)
	case c.is("materialized", "view"):
		c.i += 2
		k.createView(c, relMatView, orReplace)
	case c.accept("recursive"), c.is("view"):
		c.accept("view")
		if !temp {
			k.createView(c, relView, orReplace)
		}
	case c.is("constraint", "trigger"), c.is("trigger"):
		k.createTrigger(c)
	case c.accept("statistics"):
		k.createStatistics(c)
	case c.accept("policy"):
		// CREATE POLICY name ON table: AccessExclusive on the table.
		c.ident()
		if c.accept("on") {
			if n, ok := c.name(); ok {
				k.lockOn(n, AccessExclusive)
			}
		}
	case c.accept("rule"):
		// CREATE RULE name AS ON event TO table: AccessExclusive.
		for !c.done() && !c.is("to") {
			c.next()
		}
		if c.accept("to") {
			if n, ok := c.name(); ok {
				k.lockOn(n, AccessExclusive)
			}
		}
	case c.accept("sequence"):
		if !temp {
			c.accept("if", "not", "exists")
			if n, ok := c.name(); ok {
				k.model.add(&relation{kind: relSequence, name: n})
				k.markCreated(n)
			}
		}
	case c.accept("function"):
		k.createFunction(c)
	case c.is("type"), c.is("procedure"), c.is("extension"), c.is("schema"),
		c.is("domain"), c.is("aggregate"), c.is("operator"), c.is("cast"), c.is("collation"),
		c.is("role"), c.is("user"), c.is("publication"), c.is("text", "search"), c.is("language"),
		c.is("conversion"), c.is("event", "trigger"):
		// No lock on an existing table.
	default:
		k.st.Known = false
	}
}

// createIndex reads CREATE [UNIQUE] INDEX [CONCURRENTLY] [[IF NOT EXISTS]
// name] ON [ONLY] table ....
func (k *checker) createIndex(c *cursor) {
	c.accept("unique")
	c.next() // INDEX
	concurrently := c.accept("concurrently")
	ifNotExists := c.accept("if", "not", "exists")
	var index Name
	if !c.is("on") {
		index, _ = c.name()
	}
	if !c.accept("on") {
		k.st.Known = false
		return
	}
	only := c.accept("only")
	table, ok := c.name()
	if !ok {
		k.st.Known = false
		return
	}
	if c.accept("using") {
		c.ident()
	}
	cols := indexColumns(c)
	if index.Name != "" {
		if index.Schema == "" {
			index.Schema = table.Schema
		}
		if ifNotExists && k.model.lookup(index) != nil {
			// The index is there already: the server locks the table,
			// says so and builds nothing.
			if concurrently {
				k.lockOn(table, ShareUpdateExclusive)
			} else {
				k.lockOn(table, Share)
			}
			return
		}
		k.model.add(&relation{kind: relIndex, name: index, table: table.key(), indexCols: cols})
		k.markCreated(index)
	}
	t := k.model.table(table)
	if concurrently {
		if t != nil && t.kind == relPartitioned {
			k.find(RuleNotAvailable, c.toks[0], fmt.Sprintf("CREATE INDEX CONCURRENTLY is not available on partitioned table %s: PostgreSQL refuses it on every version", table),
				"CREATE INDEX ... ON ONLY "+table.String()+" (instant, left invalid), then for each partition CREATE INDEX CONCURRENTLY (no-transaction) and ALTER INDEX ... ATTACH PARTITION; the parent's index becomes valid when every partition has one")
			return
		}
		k.lockOn(table, ShareUpdateExclusive)
		k.effect(Scan, table)
		return
	}
	if !k.existing(table) {
		return
	}
	k.lockOn(table, Share)
	if only {
		// ON ONLY a partitioned table builds nothing: the index stays
		// invalid until each partition's index is attached.
		return
	}
	predicts := []Effect{lockEffect(table, Share)}
	safer := ""
	what := ""
	if t != nil && t.kind == relPartitioned {
		safer = "CREATE INDEX ... ON ONLY " + table.String() + " (instant, left invalid), then for each partition CREATE INDEX CONCURRENTLY (no-transaction) and ALTER INDEX ... ATTACH PARTITION; the parent's index becomes valid when every partition has one"
		parts := k.model.partitions(table.key())
		slices.SortFunc(parts, func(a, b *relation) int { return strings.Compare(a.name.key(), b.name.key()) })
		var names []string
		for _, p := range parts {
			k.lockOn(p.name, Share)
			predicts = append(predicts, lockEffect(p.name, Share))
			if p.kind == relTable {
				k.effect(Scan, p.name)
				predicts = append(predicts, scanEffect(p.name))
			}
			names = append(names, p.name.String())
		}
		if len(names) > 0 {
			what = " and of each partition (" + strings.Join(names, ", ") + ")"
		}
	} else {
		k.effect(Scan, table)
		predicts = append(predicts, scanEffect(table))
	}
	k.find(RuleCreateIndex, c.toks[0], fmt.Sprintf("CREATE INDEX on existing table %s blocks its writes%s (SHARE lock) until the whole index is built", table, what),
		safer, predicts...)
}

// indexColumns reads the parenthesized column list of an index and
// returns its plain column names, or nil when it has expressions.
func indexColumns(c *cursor) []string {
	g := c.group()
	if g == nil {
		return nil
	}
	var cols []string
	for _, el := range split(g) {
		if len(el) == 0 {
			return nil
		}
		name, ok := el[0].Ident()
		if !ok || el[0].Kind == sqlsplit.Word && len(el) > 1 && el[1].Kind == sqlsplit.Op && el[1].Text == "(" {
			return nil // an expression
		}
		cols = append(cols, name)
	}
	return cols
}

// createTable reads CREATE TABLE [IF NOT EXISTS] name (...) | PARTITION
// OF parent ... | AS query | OF type.
func (k *checker) createTable(c *cursor) {
	ifNotExists := c.accept("if", "not", "exists")
	n, ok := c.name()
	if !ok {
		k.st.Known = false
		return
	}
	if ifNotExists && k.model.lookup(n) != nil {
		// The table is there already: the statement does nothing, and
		// the table is no newer than it was.
		return
	}
	if k.version < 180000 && hasWords(c.toks[c.i:], "not", "enforced") {
		k.rejected(c.toks[0], "NOT ENFORCED", 180000)
		return
	}
	t := &relation{kind: relTable, name: n, cons: map[string]*constraint{}}
	defer func() {
		k.model.add(t)
		k.markCreated(n)
		for _, idx := range k.model.indexesOf(n.key()) {
			k.markCreated(idx.name)
		}
	}()
	switch {
	case c.is("partition", "of"):
		c.i += 2
		parent, ok := c.name()
		if !ok {
			return
		}
		if k.existing(parent) {
			k.lockOn(parent, AccessExclusive)
			k.find(RulePartitionOf, c.toks[0], fmt.Sprintf("CREATE TABLE ... PARTITION OF takes ACCESS EXCLUSIVE on %s, blocking its reads and writes", parent),
				"", lockEffect(parent, AccessExclusive))
		}
		t.parent = parent.key()
		if pt := k.model.table(parent); pt != nil && pt.columns != nil {
			t.columns = map[string]*column{}
			for name, col := range pt.columns {
				cc := *col
				t.columns[name] = &cc
			}
		}
		k.tableElements(t, c)
		t.defaultPart = c.is("default")
		k.partitionBy(t, c)
		return
	case c.is("of"), c.is("as"), c.isOp("("):
	default:
		k.st.Known = false
		return
	}
	if c.accept("as") || c.accept("of") {
		// The source tables are only read.
		return
	}
	t.columns = map[string]*column{}
	k.tableElements(t, c)
	for c.accept("inherits") {
		c.skipGroup()
		t.columns = nil
	}
	k.partitionBy(t, c)
}

func (k *checker) partitionBy(t *relation, c *cursor) {
	for !c.done() {
		if c.accept("partition", "by") {
			t.kind = relPartitioned
			c.next() // RANGE, LIST or HASH
			t.partKey, _ = c.identList()
			return
		}
		if !c.skipGroup() {
			c.next()
		}
	}
}

// tableElements reads the parenthesized column and constraint list of a
// CREATE TABLE, if there is one.
func (k *checker) tableElements(t *relation, c *cursor) {
	g := c.group()
	if g == nil {
		return
	}
	for _, el := range split(g) {
		e := sub(el)
		switch {
		case e.is("like"):
			t.columns = nil
		case e.is("constraint"), e.is("check"), e.is("unique"), e.is("primary", "key"), e.is("foreign", "key"), e.is("exclude"):
			k.tableConstraint(t, e)
		default:
			name, ok := e.ident()
			if !ok {
				continue
			}
			col := &column{typ: readType(e)}
			if t.columns != nil {
				t.columns[name] = col
			}
			_, _, gen := k.columnConstraints(t, name, col, e, true)
			for _, ref := range gen.refs {
				if ref.key() != t.name.key() {
					k.lockOn(ref, ShareRowExclusive)
				}
			}
		}
	}
}

// columnConstraints reads the constraints after a column's type, in a
// CREATE TABLE (fresh) or an ADD COLUMN. It returns what the caller must
// know: the default's tokens, and whether the column is generated or an
// identity.
func (k *checker) columnConstraints(t *relation, name string, col *column, e *cursor, fresh bool) (def []sqlsplit.Token, defTok sqlsplit.Token, gen columnGen) {
	var conName string
	for !e.done() {
		tok := e.peek()
		switch {
		case e.accept("constraint"):
			conName, _ = e.ident()
			continue
		case e.accept("not", "null"):
			col.notNull = true
		case e.accept("null"):
		case e.accept("default"):
			defTok = tok
			start := e.i
			for !e.done() && !isAny(e.peek(), "not", "null", "constraint", "check", "references", "unique", "primary", "generated", "collate") {
				if !e.skipGroup() {
					e.next()
				}
			}
			def = e.toks[start:e.i]
		case e.accept("generated"):
			gen.tok = tok
			_ = e.accept("always") || e.accept("by", "default")
			e.accept("as")
			if e.accept("identity") {
				gen.identity = true
				e.skipGroup()
				col.notNull = true
				break
			}
			e.skipGroup()
			if e.is("virtual") && k.version < 180000 {
				k.rejected(e.peek(), "a VIRTUAL generated column", 180000)
			}
			gen.stored = !e.is("virtual") && (e.is("stored") || k.version < 180000)
			e.accept("stored")
			e.accept("virtual")
		case e.accept("check"):
			g := e.group()
			e.accept("no", "inherit")
			nn := isNotNullCheck(g, name)
			cn := conName
			if cn == "" {
				cn = defaultConstraintName(t.name.Name, []string{name}, "check")
			}
			t.cons[cn] = &constraint{kind: 'c', valid: true, notNull: nn, cols: []string{name}}
			if !fresh {
				gen.check = tok
			}
		case e.accept("unique"), e.is("primary", "key"):
			primary := e.accept("primary", "key")
			e.accept("nulls", "not", "distinct")
			e.accept("nulls", "distinct")
			suffix, kind := "key", byte('u')
			if primary {
				suffix, kind = "pkey", 'p'
				col.notNull = true
			}
			cn := conName
			if cn == "" {
				cn = defaultConstraintName(t.name.Name, []string{name}, suffix)
				if primary {
					cn = t.name.Name + "_pkey"
				}
			}
			t.cons[cn] = &constraint{kind: kind, valid: true, cols: []string{name}}
			idx := Name{Schema: t.name.Schema, Name: cn}
			k.model.add(&relation{kind: relIndex, name: idx, table: t.name.key(), indexCols: []string{name}})
			if fresh {
				k.markCreated(idx)
			} else {
				gen.key = tok
				gen.primary = primary
				k.markCreated(idx)
			}
		case e.accept("references"):
			ref, _ := e.name()
			refCols, _ := e.identList()
			cn := conName
			if cn == "" {
				cn = defaultConstraintName(t.name.Name, []string{name}, "fkey")
			}
			t.cons[cn] = &constraint{kind: 'f', valid: true, ref: ref.key(), cols: []string{name}, refCols: refCols}
			gen.refs = append(gen.refs, ref)
			gen.refTok = tok
		default:
			e.next()
			continue
		}
		conName = ""
	}
	return def, defTok, gen
}

// columnGen is what a column definition asks the server to compute.
type columnGen struct {
	tok      sqlsplit.Token // GENERATED
	identity bool
	stored   bool // a STORED generated column
	check    sqlsplit.Token
	key      sqlsplit.Token // UNIQUE or PRIMARY KEY on a new column
	primary  bool
	refs     []Name
	refTok   sqlsplit.Token
}

// isNotNullCheck reports whether a CHECK's expression is "col IS NOT
// NULL" (in any parentheses) for some column, and returns the column;
// want, if not empty, restricts it to that column.
func isNotNullCheck(expr []sqlsplit.Token, want string) string {
	for len(expr) >= 2 && expr[0].Text == "(" && expr[len(expr)-1].Text == ")" {
		expr = expr[1 : len(expr)-1]
	}
	if len(expr) != 4 || !expr[1].Is("is") || !expr[2].Is("not") || !expr[3].Is("null") {
		return ""
	}
	col, ok := expr[0].Ident()
	if !ok || want != "" && col != want {
		return ""
	}
	return col
}

// tableConstraint reads a table constraint of a CREATE TABLE (fresh) and
// records it in the model.
func (k *checker) tableConstraint(t *relation, e *cursor) {
	name := ""
	if e.accept("constraint") {
		name, _ = e.ident()
	}
	switch {
	case e.accept("check"):
		g := e.group()
		if name == "" {
			name = t.name.Name + "_check"
		}
		t.cons[name] = &constraint{kind: 'c', valid: true, notNull: isNotNullCheck(g, ""), cols: wordsIn(g)}
	case e.is("unique"), e.is("primary", "key"):
		primary := e.accept("primary", "key")
		if !primary {
			e.next()
		}
		e.accept("nulls", "not", "distinct")
		cols, _ := e.identList()
		kind, suffix := byte('u'), "key"
		if primary {
			kind, suffix = 'p', "pkey"
			for _, col := range cols {
				if c := t.columns[col]; c != nil {
					c.notNull = true
				}
			}
		}
		if name == "" {
			name = defaultConstraintName(t.name.Name, cols, suffix)
			if primary {
				name = t.name.Name + "_pkey"
			}
		}
		t.cons[name] = &constraint{kind: kind, valid: true, cols: cols}
		idx := Name{Schema: t.name.Schema, Name: name}
		k.model.add(&relation{kind: relIndex, name: idx, table: t.name.key(), indexCols: cols})
		k.markCreated(idx)
	case e.is("foreign", "key"):
		e.i += 2
		cols, _ := e.identList()
		e.accept("references")
		ref, _ := e.name()
		refCols, _ := e.identList()
		if name == "" {
			name = defaultConstraintName(t.name.Name, cols, "fkey")
		}
		t.cons[name] = &constraint{kind: 'f', valid: true, ref: ref.key(), cols: cols, refCols: refCols}
		if ref.key() != t.name.key() {
			k.lockOn(ref, ShareRowExclusive)
		}
	case e.accept("exclude"):
		if name == "" {
			name = t.name.Name + "_excl"
		}
		t.cons[name] = &constraint{kind: 'x', valid: true}
	}
}

// createView reads the rest of CREATE [OR REPLACE] [MATERIALIZED] VIEW.
func (k *checker) createView(c *cursor, kind relKind, orReplace bool) {
	c.accept("if", "not", "exists")
	n, ok := c.name()
	if !ok {
		k.st.Known = false
		return
	}
	if orReplace && k.existing(n) && k.model.lookup(n) != nil {
		// Replacing a view locks it AccessExclusive, blocking its readers.
		k.lockOn(n, AccessExclusive)
	} else if orReplace && k.model.lookup(n) == nil {
		// A view waymark does not know may exist already.
		k.st.Known = false
	}
	reads := viewReads(c, k)
	if r := k.model.lookup(n); r != nil {
		r.reads = reads
		return
	}
	k.model.add(&relation{kind: kind, name: n, reads: reads})
	k.markCreated(n)
}

// viewReads returns the keys of the relations that a view's query names
// after FROM or JOIN (and the commas of a FROM list).
func viewReads(c *cursor, k *checker) []string {
	var out []string
	add := func() {
		if n, ok := c.name(); ok {
			if key := n.key(); !slices.Contains(out, key) {
				out = append(out, key)
			}
			// An alias.
			c.accept("as")
			if c.peek().Kind == sqlsplit.Word && !isAny(c.peek(), "where", "join", "inner", "left", "right", "full", "cross", "natural", "on", "using", "group", "order", "limit", "union", "except", "intersect", "having", "window", "with", "lateral") {
				c.next()
			}
		}
	}
	for !c.done() {
		switch {
		case c.accept("from"):
			c.accept("only")
			add()
			for c.acceptOp(",") {
				add()
			}
		case c.accept("join"):
			c.accept("only")
			add()
		default:
			c.next()
		}
	}
	return out
}

// createTrigger reads CREATE [CONSTRAINT] TRIGGER name ... ON table.
func (k *checker) createTrigger(c *cursor) {
	for !c.done() && !c.is("on") {
		if !c.skipGroup() {
			c.next()
		}
	}
	if c.accept("on") {
		if n, ok := c.name(); ok {
			k.lockOn(n, ShareRowExclusive)
		}
	}
}

// createStatistics reads CREATE STATISTICS ... FROM table.
func (k *checker) createStatistics(c *cursor) {
	for !c.done() && !c.is("from") {
		if !c.skipGroup() {
			c.next()
		}
	}
	if c.accept("from") {
		if n, ok := c.name(); ok {
			k.lockOn(n, ShareUpdateExclusive)
		}
	}
}
