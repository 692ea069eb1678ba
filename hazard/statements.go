package hazard

import (
	"fmt"
	"slices"
	"strings"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// drop reads the rest of a DROP statement.
func (k *checker) drop(c *cursor) {
	at := c.toks[0]
	switch {
	case c.accept("table"):
		c.accept("if", "exists")
		names := nameList(c)
		cascade := hasWords(c.toks[c.i:], "cascade")
		for _, n := range names {
			k.lockOn(n, AccessExclusive)
			key := n.key()
			if t := k.model.table(n); t != nil {
				// A partition goes from its parent, which is locked
				// too; a partitioned table takes its partitions with it.
				if t.parent != "" {
					k.lockOn(k.nameOf(t.parent), AccessExclusive)
				}
				for _, p := range k.model.partitionsSorted(key) {
					k.lockOn(p.name, AccessExclusive)
				}
				// Its foreign keys' triggers go from the tables it
				// references, and with CASCADE the foreign keys of the
				// tables that reference it go too.
				for _, con := range t.cons {
					if con.kind == 'f' && con.ref != key {
						k.lockOn(Name{Name: con.ref}, AccessExclusive)
					}
				}
				if cascade {
					for _, r := range k.model.referencing(key) {
						k.lockOn(k.nameOf(r), AccessExclusive)
					}
				}
			}
			if cascade {
				// The views that read it are dropped with it.
				for _, v := range k.model.dependents(key) {
					k.lockOn(v.name, AccessExclusive)
					k.model.drop(v.name)
				}
			}
			if k.existing(n) {
				k.find(RuleDropTable, at, fmt.Sprintf("DROP TABLE %s: a release still running that uses it fails", n), "", lockEffect(n, AccessExclusive))
			}
			k.model.drop(n)
		}
	case c.accept("index"):
		concurrently := c.is("concurrently")
		c.accept("concurrently")
		c.accept("if", "exists")
		for _, n := range nameList(c) {
			table := k.model.tableOf(n)
			if concurrently {
				// The index is marked dead, so that no query plans with it,
				// before it is locked to be removed.
				if table.Name == "" {
					table = n
				}
				k.lockOn(table, ShareUpdateExclusive)
			} else {
				k.lockOn(table, AccessExclusive)
				k.lockOn(n, AccessExclusive)
				if k.existing(n) {
					predicts := []Effect{lockEffect(n, AccessExclusive)}
					what := "the index's table"
					if table.Name != "" {
						predicts = []Effect{lockEffect(table, AccessExclusive)}
						what = table.String()
					}
					k.find(RuleDropIndex, at, fmt.Sprintf("DROP INDEX %s takes ACCESS EXCLUSIVE on %s, blocking its reads and writes", n, what), "", predicts...)
				}
			}
			k.model.drop(n)
		}
	case c.accept("materialized", "view"), c.accept("view"):
		c.accept("if", "exists")
		names := nameList(c)
		cascade := hasWords(c.toks[c.i:], "cascade")
		for _, n := range names {
			k.lockOn(n, AccessExclusive)
			if cascade {
				for _, v := range k.model.dependents(n.key()) {
					k.lockOn(v.name, AccessExclusive)
					k.model.drop(v.name)
				}
			}
			k.model.drop(n)
		}
	case c.accept("trigger"), c.accept("policy"), c.accept("rule"):
		c.accept("if", "exists")
		c.ident()
		if c.accept("on") {
			if n, ok := c.name(); ok {
				k.lockOn(n, AccessExclusive)
			}
		}
	case c.accept("sequence"):
		c.accept("if", "exists")
		for _, n := range nameList(c) {
			k.model.drop(n)
		}
	case c.is("type"), c.is("function"), c.is("procedure"), c.is("extension"), c.is("domain"),
		c.is("aggregate"), c.is("operator"), c.is("cast"), c.is("collation"), c.is("role"), c.is("user"),
		c.is("publication"), c.is("statistics"), c.is("text", "search"), c.is("language"), c.is("event", "trigger"):
		k.st.Known = !hasWords(c.toks, "cascade")
	default:
		k.st.Known = false
	}
}

// nameList reads a comma-separated list of names, such as the tables of a
// DROP TABLE.
func nameList(c *cursor) []Name {
	var names []Name
	for {
		c.accept("only")
		n, ok := c.name()
		if !ok {
			return names
		}
		c.acceptOp("*")
		names = append(names, n)
		if !c.acceptOp(",") {
			return names
		}
	}
}

// reindex reads the rest of REINDEX.
func (k *checker) reindex(c *cursor) {
	at := c.toks[0]
	concurrently := false
	if g := c.group(); g != nil {
		concurrently = hasWords(g, "concurrently") && !hasWords(g, "concurrently", "false")
	}
	kind := strings.ToUpper(c.next().Text)
	if c.is("concurrently") {
		concurrently = true
		c.next()
	}
	n, _ := c.name()
	var table Name
	switch kind {
	case "INDEX":
		table = k.model.tableOf(n)
	case "TABLE":
		table = n
	default:
		// SCHEMA, DATABASE, SYSTEM: every table in it.
		k.st.Known = false
		if !concurrently {
			k.find(RuleReindex, at, fmt.Sprintf("REINDEX %s rebuilds every index in it, each blocking its table's writes and the reads that use it", kind), "")
		}
		return
	}
	if !k.existing(n) {
		return
	}
	target := n // the index, or the table
	// What is built again: the index, or each index of the table (its
	// rows stay where they are).
	rebuilt := []Name{n}
	if kind == "TABLE" {
		rebuilt = nil
		for _, idx := range k.model.indexesOf(n.key()) {
			rebuilt = append(rebuilt, idx.name)
		}
		slices.SortFunc(rebuilt, func(a, b Name) int { return strings.Compare(a.key(), b.key()) })
	}
	if concurrently {
		k.lockOn(table, ShareUpdateExclusive)
		k.lockOn(target, ShareUpdateExclusive)
		for _, idx := range rebuilt {
			k.effect(Rewrite, idx)
		}
		return
	}
	k.lockOn(table, Share)
	k.lockOn(target, AccessExclusive)
	predicts := []Effect{lockEffect(target, AccessExclusive)}
	for _, idx := range rebuilt {
		k.effect(Rewrite, idx)
		predicts = append(predicts, rewriteEffect(idx))
	}
	if table.Name != "" {
		k.effect(Scan, table)
	}
	what := "locks index " + n.String() + " ACCESS EXCLUSIVE and its table SHARE"
	if kind == "TABLE" {
		what = "locks every index of " + n.String() + " ACCESS EXCLUSIVE and the table SHARE"
	}
	k.find(RuleReindex, at, fmt.Sprintf("REINDEX %s while it rebuilds: writes wait, and so does every query that plans with the index", what),
		"", predicts...)
}

// vacuum reads the rest of VACUUM.
func (k *checker) vacuum(c *cursor) {
	at := c.toks[0]
	full := false
	if g := c.group(); g != nil {
		full = hasWords(g, "full") && !hasWords(g, "full", "false") && !hasWords(g, "full", "off")
	}
	for c.is("full") || c.is("freeze") || c.is("verbose") || c.is("analyze") || c.is("analyse") {
		if c.next().Is("full") {
			full = true
		}
	}
	var tables []Name
	for !c.done() {
		n, ok := c.name()
		if !ok {
			break
		}
		tables = append(tables, n)
		c.skipGroup()
		if !c.acceptOp(",") {
			break
		}
	}
	mode := ShareUpdateExclusive
	if full {
		mode = AccessExclusive
	}
	for _, n := range tables {
		k.lockOn(n, mode)
		if full {
			k.effect(Rewrite, n)
		}
		for _, p := range k.model.partitionsSorted(n.key()) {
			k.lockOn(p.name, mode)
		}
	}
	if !full {
		return
	}
	if len(tables) == 0 {
		k.st.Known = false
		k.find(RuleVacuumFull, at, "VACUUM FULL rewrites every table of the database, each under ACCESS EXCLUSIVE", "")
		return
	}
	for _, n := range tables {
		if k.existing(n) {
			k.find(RuleVacuumFull, at, fmt.Sprintf("VACUUM FULL rewrites %s under ACCESS EXCLUSIVE", n), "",
				lockEffect(n, AccessExclusive), rewriteEffect(n))
		}
	}
}

// cluster reads the rest of CLUSTER.
func (k *checker) cluster(c *cursor) {
	at := c.toks[0]
	c.skipGroup()
	c.accept("verbose")
	n, ok := c.name()
	if !ok {
		k.st.Known = false
		k.find(RuleCluster, at, "CLUSTER rewrites every table clustered before, each under ACCESS EXCLUSIVE", "")
		return
	}
	k.lockOn(n, AccessExclusive)
	k.effect(Rewrite, n)
	k.effect(Scan, n)
	if k.existing(n) {
		k.find(RuleCluster, at, fmt.Sprintf("CLUSTER rewrites %s and its indexes under ACCESS EXCLUSIVE", n), "",
			lockEffect(n, AccessExclusive), rewriteEffect(n))
	}
}

// refresh reads the rest of REFRESH MATERIALIZED VIEW.
func (k *checker) refresh(c *cursor) {
	concurrently := c.accept("concurrently")
	n, ok := c.name()
	if !ok {
		k.st.Known = false
		return
	}
	if concurrently {
		k.lockOn(n, Exclusive)
		return
	}
	k.lockOn(n, AccessExclusive)
	k.effect(Rewrite, n)
	if k.existing(n) {
		k.find(RuleRewrite, c.toks[0], fmt.Sprintf("REFRESH MATERIALIZED VIEW rewrites %s under ACCESS EXCLUSIVE: its readers wait until the query finishes", n),
			"REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the view), which lets readers through",
			lockEffect(n, AccessExclusive), rewriteEffect(n))
	}
}

// truncate reads the rest of TRUNCATE: AccessExclusive, and new, empty
// files for each table.
func (k *checker) truncate(c *cursor) {
	c.accept("table")
	names := nameList(c)
	cascade := hasWords(c.toks[c.i:], "cascade")
	for _, n := range names {
		k.lockOn(n, AccessExclusive)
		k.effect(Rewrite, n)
		for _, p := range k.model.partitionsSorted(n.key()) {
			k.lockOn(p.name, AccessExclusive)
			k.effect(Rewrite, p.name)
		}
		if !cascade {
			continue
		}
		// CASCADE empties every table that references it, and those
		// that reference them.
		for _, key := range k.model.referencingClosure(n.key()) {
			r := k.nameOf(key)
			k.lockOn(r, AccessExclusive)
			k.effect(Rewrite, r)
		}
	}
}

// lock reads the rest of LOCK [TABLE] names [IN mode MODE].
func (k *checker) lock(c *cursor) {
	c.accept("table")
	names := nameList(c)
	mode := AccessExclusive
	if c.accept("in") {
		var words []string
		for !c.done() && !c.is("mode") {
			words = append(words, strings.ToUpper(c.next().Text))
		}
		for m := AccessShare; m <= AccessExclusive; m++ {
			if m.SQL() == strings.Join(words, " ") {
				mode = m
			}
		}
	}
	for _, n := range names {
		k.lockOn(n, mode)
	}
}

// comment reads the rest of COMMENT ON: ShareUpdateExclusive on a
// relation or a column's table.
func (k *checker) comment(c *cursor) {
	switch {
	case c.accept("table"), c.accept("index"), c.accept("view"), c.accept("materialized", "view"):
		if n, ok := c.name(); ok {
			k.lockOn(n, ShareUpdateExclusive)
		}
	case c.accept("column"):
		var parts []string
		for {
			s, ok := c.ident()
			if !ok {
				break
			}
			parts = append(parts, s)
			if !c.acceptOp(".") {
				break
			}
		}
		switch len(parts) {
		case 2:
			k.lockOn(Name{Name: parts[0]}, ShareUpdateExclusive)
		case 3, 4:
			k.lockOn(Name{Schema: parts[len(parts)-3], Name: parts[len(parts)-2]}, ShareUpdateExclusive)
		}
	}
}

// setting is the state of a run-time setting the checker follows.
type setting struct {
	on bool
	// local is set when SET LOCAL set it inside a transaction that a
	// no-transaction script began: it ends with that transaction.
	local bool
}

// set reads SET and RESET, following lock_timeout and TimeZone.
func (k *checker) set(c *cursor) {
	if c.next().Is("reset") {
		all := c.is("all")
		if all || c.is("lock_timeout") {
			k.timeout = setting{}
		}
		if all || c.is("timezone") || c.is("time", "zone") {
			k.utc = setting{}
		}
		return
	}
	local := c.accept("local")
	c.accept("session")
	switch {
	case c.accept("lock_timeout"):
		_ = c.acceptOp("=") || c.accept("to")
		k.change(&k.timeout, !c.is("default") && !isZero(c.peek()), local)
	case c.accept("timezone"), c.accept("time", "zone"):
		_ = c.acceptOp("=") || c.accept("to")
		k.change(&k.utc, isUTC(c.peek()), local)
	}
}

// change follows SET [LOCAL] of a setting to a value that turns it on or
// off.
func (k *checker) change(s *setting, on, local bool) {
	if local && k.script.NoTransaction && !k.inTx {
		return // SET LOCAL outside a transaction does nothing
	}
	*s = setting{on: on, local: local && k.script.NoTransaction}
}

// isUTC reports whether a TimeZone value names a zone that is always at
// offset 0, for which PostgreSQL converts between timestamp and
// timestamptz without a rewrite.
func isUTC(t sqlsplit.Token) bool {
	v := t.Text
	if t.Kind == sqlsplit.String {
		v = unquote(v)
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "utc", "etc/utc", "gmt", "etc/gmt", "uct", "etc/uct", "universal", "etc/universal", "zulu", "etc/zulu", "0":
		return true
	}
	return false
}

// selectStatement follows SELECT set_config('lock_timeout', value,
// is_local); any other SELECT only reads.
func (k *checker) selectStatement(c *cursor) {
	c.next()
	if !c.accept("set_config") {
		return
	}
	g := c.group()
	args := split(g)
	if len(args) != 3 || len(args[0]) != 1 || len(args[1]) != 1 || len(args[2]) != 1 {
		return
	}
	if args[0][0].Kind != sqlsplit.String || unquote(args[0][0].Text) != "lock_timeout" {
		return
	}
	k.change(&k.timeout, !isZero(args[1][0]), args[2][0].Is("true"))
}

// isZero reports whether a setting's value token means 0 (no timeout):
// 0, '0', '0s', '0ms' and the like.
func isZero(t sqlsplit.Token) bool {
	v := t.Text
	if t.Kind == sqlsplit.String {
		v = unquote(v)
	}
	v = strings.TrimSpace(v)
	digits := strings.TrimLeft(v, "0")
	return v != "" && v[0] == '0' && (digits == "" || !('1' <= digits[0] && digits[0] <= '9') && digits[0] != '.')
}

// unquote returns the value of a plain 'string' token.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}
