package hazard

import (
	"fmt"
	"slices"
	"strings"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// alterTable reads the rest of ALTER TABLE.
func (k *checker) alterTable(c *cursor) {
	if c.is("all", "in") {
		k.st.Known = false
		return
	}
	c.accept("if", "exists")
	only := c.accept("only")
	n, ok := c.name()
	if !ok {
		k.st.Known = false
		return
	}
	c.acceptOp("*")
	t := k.model.table(n)
	switch {
	case c.is("rename"):
		k.rename(n, t, c)
		return
	case c.is("set", "schema"):
		k.lockOn(n, AccessExclusive)
		if k.existing(n) {
			k.find(RuleRenameTable, c.peek(), fmt.Sprintf("SET SCHEMA moves %s: the running release still looks for it where it was", n), "", lockEffect(n, AccessExclusive))
		}
		c.i += 2
		if s, ok := c.ident(); ok && t != nil {
			k.model.drop(n)
			t.name.Schema = s
			k.model.add(t)
		}
		return
	case c.accept("attach", "partition"):
		p, _ := c.name()
		k.attachPartition(n, p, c)
		return
	case c.accept("detach", "partition"):
		p, _ := c.name()
		switch {
		case c.is("concurrently"), c.is("finalize"):
			// The parent is locked SHARE UPDATE EXCLUSIVE; the partition,
			// once queries through the parent no longer see it, ACCESS
			// EXCLUSIVE.
			c.is("concurrently") // in a no-transaction script: package source refuses it elsewhere
			k.lockOn(n, ShareUpdateExclusive)
			k.lockOn(p, AccessExclusive)
		default:
			k.lockOn(n, AccessExclusive)
			k.lockOn(p, AccessExclusive)
			if pt := k.model.table(p); pt != nil && pt.parent == n.key() {
				pt.parent, pt.defaultPart = "", false
			}
			if k.existing(n) {
				k.find(RuleDetachPartition, c.toks[0], fmt.Sprintf("DETACH PARTITION takes ACCESS EXCLUSIVE on %s, blocking reads and writes of every partition", n),
					"", lockEffect(n, AccessExclusive))
			}
		}
		return
	}
	for _, action := range split(c.toks[c.i:]) {
		k.alterAction(n, t, sub(action))
	}
	if t != nil && t.kind == relPartitioned && !only {
		// The actions go down to every partition, each locked as the
		// partitioned table is.
		var mode LockMode
		for _, e := range k.st.Effects {
			if e.Kind == Lock && e.Relation.key() == n.key() {
				mode = e.Mode
			}
		}
		if mode != 0 {
			for _, p := range k.model.partitionsSorted(n.key()) {
				k.lockOn(p.name, mode)
			}
		}
	}
}

// alterAction reads one action of an ALTER TABLE on table n (t is its
// model, or nil when it is not known).
func (k *checker) alterAction(n Name, t *relation, a *cursor) {
	first := a.peek()
	switch {
	case a.accept("add"):
		if a.is("constraint") || a.is("check") || a.is("foreign", "key") || a.is("primary", "key") ||
			a.is("unique") || a.is("exclude") || a.is("not", "null") {
			k.addConstraint(n, t, a, first)
			return
		}
		a.accept("column")
		a.accept("if", "not", "exists")
		k.addColumn(n, t, a, first)
	case a.accept("drop"):
		k.lockOn(n, AccessExclusive)
		if a.accept("constraint") {
			a.accept("if", "exists")
			name, _ := a.ident()
			if t != nil {
				if con := t.cons[name]; con != nil {
					if con.kind == 'f' && con.ref != n.key() {
						k.lockOn(k.nameOf(con.ref), AccessExclusive)
					}
					delete(t.cons, name)
				}
			}
			return
		}
		a.accept("column")
		a.accept("if", "exists")
		col, _ := a.ident()
		if t != nil {
			// The column's foreign keys go with it, and their triggers
			// with them from the referenced tables.
			for name, con := range t.cons {
				if slices.Contains(con.cols, col) {
					if con.kind == 'f' && con.ref != n.key() {
						k.lockOn(k.nameOf(con.ref), AccessExclusive)
					}
					delete(t.cons, name)
				}
			}
		}
		if k.existing(n) {
			k.find(RuleDropColumn, first, fmt.Sprintf("DROP COLUMN %s.%s: a release still running that reads or writes it fails", n, quoteIdent(col)),
				"", lockEffect(n, AccessExclusive))
		}
		if t != nil && t.columns != nil {
			delete(t.columns, col)
		}
	case a.accept("alter"):
		if a.accept("constraint") {
			k.lockOn(n, AccessExclusive)
			return
		}
		a.accept("column")
		col, _ := a.ident()
		k.alterColumn(n, t, col, a, first)
	case a.is("validate", "constraint"):
		a.i += 2
		name, _ := a.ident()
		k.lockOn(n, ShareUpdateExclusive)
		var con *constraint
		if t != nil {
			con = t.cons[name]
		}
		if con != nil && con.valid {
			return // validated already: nothing to read
		}
		k.effect(Scan, n)
		if con != nil {
			con.valid = true
		}
	case a.accept("enable"), a.accept("disable"):
		a.accept("replica")
		a.accept("always")
		if a.is("trigger") {
			k.lockOn(n, ShareRowExclusive)
		} else {
			k.lockOn(n, AccessExclusive) // RULE, ROW LEVEL SECURITY
		}
	case a.accept("set"):
		switch {
		case a.accept("logged"), a.accept("unlogged"):
			k.rewriteAction(n, first, "SET "+upper(a.toks[a.i-1].Text)+" rewrites "+n.String()+" under ACCESS EXCLUSIVE")
		case a.is("access", "method"):
			k.rewriteAction(n, first, "SET ACCESS METHOD rewrites "+n.String()+" under ACCESS EXCLUSIVE")
		case a.accept("tablespace"):
			k.rewriteAction(n, first, "SET TABLESPACE copies "+n.String()+" to the new tablespace under ACCESS EXCLUSIVE")
		case a.isOp("("), a.is("without", "cluster"):
			k.lockOn(n, ShareUpdateExclusive)
		default:
			k.lockOn(n, AccessExclusive)
		}
	case a.is("reset"), a.is("cluster", "on"):
		k.lockOn(n, ShareUpdateExclusive)
	default:
		// OWNER TO, REPLICA IDENTITY, INHERIT, OF, ... : most forms of
		// ALTER TABLE take AccessExclusive.
		k.lockOn(n, AccessExclusive)
		if !a.is("owner") && !a.is("replica") && !a.is("inherit") && !a.is("no", "inherit") &&
			!a.is("of") && !a.is("not", "of") && !a.is("force") && !a.is("no", "force") {
			k.st.Known = false
		}
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// rewriteAction records an action that rewrites existing table n.
func (k *checker) rewriteAction(n Name, at sqlsplit.Token, reason string) {
	k.lockOn(n, AccessExclusive)
	k.effect(Rewrite, n)
	if k.existing(n) {
		k.find(RuleRewrite, at, reason, "", lockEffect(n, AccessExclusive), rewriteEffect(n))
	}
}

// rename reads ALTER TABLE n RENAME ....
func (k *checker) rename(n Name, t *relation, c *cursor) {
	at := c.next() // RENAME
	k.lockOn(n, AccessExclusive)
	switch {
	case c.accept("constraint"):
		from, _ := c.ident()
		c.accept("to")
		to, _ := c.ident()
		if t != nil && t.cons[from] != nil {
			t.cons[to] = t.cons[from]
			delete(t.cons, from)
		}
	case c.accept("to"):
		to, _ := c.ident()
		if k.existing(n) {
			k.find(RuleRenameTable, at, fmt.Sprintf("RENAME TO %s: the release still running uses the name %s", quoteIdent(to), n),
				"", lockEffect(n, AccessExclusive))
		}
		k.model.rename(n, to)
		if !k.existing(n) {
			k.markCreated(Name{Schema: n.Schema, Name: to})
		}
	default:
		c.accept("column")
		from, _ := c.ident()
		c.accept("to")
		to, _ := c.ident()
		if k.existing(n) {
			k.find(RuleRenameColumn, at, fmt.Sprintf("RENAME COLUMN %s to %s: the release still running reads and writes %s",
				quoteIdent(from), quoteIdent(to), quoteIdent(from)), "", lockEffect(n, AccessExclusive))
		}
		if t != nil && t.columns != nil && t.columns[from] != nil {
			t.columns[to] = t.columns[from]
			delete(t.columns, from)
		}
	}
}

// addColumn reads ADD [COLUMN] [IF NOT EXISTS] name type constraints.
func (k *checker) addColumn(n Name, t *relation, a *cursor, at sqlsplit.Token) {
	k.lockOn(n, AccessExclusive)
	name, ok := a.ident()
	if !ok {
		k.st.Known = false
		return
	}
	col := &column{typ: readType(a)}
	scratch := t
	if scratch == nil {
		scratch = &relation{name: n, cons: map[string]*constraint{}}
	}
	def, defTok, gen := k.columnConstraints(scratch, name, col, a, false)
	if t != nil && t.columns != nil {
		t.columns[name] = col
	}
	existing := k.existing(n)
	for _, ref := range gen.refs {
		k.lockOn(n, ShareRowExclusive)
		k.lockOn(ref, ShareRowExclusive)
		if def != nil {
			// With a default, the new column's values must be checked
			// against the referenced table.
			k.effect(Scan, n)
			if existing {
				k.find(RuleNotValid, gen.refTok, fmt.Sprintf("the foreign key on new column %s with a default checks every row of %s against %s while both are locked against writes",
					quoteIdent(name), n, ref), "add the column without the foreign key, then ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a later step",
					lockEffect(n, AccessExclusive), lockEffect(ref, ShareRowExclusive), scanEffect(n))
			}
		}
	}
	if !existing {
		return
	}
	rewrite := func(tok sqlsplit.Token, rule, reason, safer string) {
		k.effect(Rewrite, n)
		k.effect(Scan, n)
		k.find(rule, tok, reason, safer, lockEffect(n, AccessExclusive), rewriteEffect(n))
	}
	switch {
	case col.typ.serial:
		rewrite(at, RuleVolatileDefault, fmt.Sprintf("a %s column takes its default from nextval(), which is volatile: ADD COLUMN rewrites %s under ACCESS EXCLUSIVE",
			col.typ.base, n), "add a plain "+col.typ.base+" column, fill it in batches from a sequence, then SET DEFAULT nextval(...)")
	case gen.identity:
		rewrite(gen.tok, RuleVolatileDefault, fmt.Sprintf("an identity column numbers every existing row: ADD COLUMN rewrites %s under ACCESS EXCLUSIVE", n),
			"add a plain column, fill it in batches, then ALTER COLUMN ... ADD GENERATED ... AS IDENTITY (after SET NOT NULL done the safe way)")
	case gen.stored:
		safer := "add a plain column, fill it in batches, and keep it current with a trigger"
		if k.version >= 180000 {
			safer = "a VIRTUAL generated column (PostgreSQL 18) is computed when read and needs no rewrite"
		}
		rewrite(gen.tok, RuleRewrite, fmt.Sprintf("a STORED generated column is computed for every existing row: ADD COLUMN rewrites %s under ACCESS EXCLUSIVE", n), safer)
	case def != nil:
		switch v, fn := exprVolatility(def, k.model.funcs); v {
		case volatile:
			rewrite(defTok, RuleVolatileDefault, fmt.Sprintf("DEFAULT calls %s(), which is volatile: ADD COLUMN computes it for every row and rewrites %s under ACCESS EXCLUSIVE", fn, n), "")
		case unknownVolatility:
			rewrite(defTok, RuleVolatileDefault, fmt.Sprintf("DEFAULT calls %s(), whose volatility waymark does not know: if it is volatile (the default for a function), ADD COLUMN rewrites %s under ACCESS EXCLUSIVE", fn, n),
				"declare the function STABLE or IMMUTABLE if it is, and accept this finding; otherwise add the column without a default and backfill in batches")
		}
	}
	if gen.check.Text != "" {
		k.effect(Scan, n)
		k.find(RuleNotValid, gen.check, fmt.Sprintf("the CHECK on new column %s is checked against every row of %s under ACCESS EXCLUSIVE", quoteIdent(name), n),
			"add the column without the CHECK, then ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT in a later step",
			lockEffect(n, AccessExclusive), scanEffect(n))
	}
	if gen.key.Text != "" {
		k.effect(Scan, n)
		k.find(RuleAddKey, gen.key, fmt.Sprintf("the %s on new column %s builds an index over every row of %s under ACCESS EXCLUSIVE", keyWord(gen.primary), quoteIdent(name), n),
			"", lockEffect(n, AccessExclusive), scanEffect(n))
	}
}

func keyWord(primary bool) string {
	if primary {
		return "PRIMARY KEY"
	}
	return "UNIQUE constraint"
}

// addConstraint reads ADD [CONSTRAINT name] constraint [NOT VALID].
func (k *checker) addConstraint(n Name, t *relation, a *cursor, at sqlsplit.Token) {
	name := ""
	if a.accept("constraint") {
		name, _ = a.ident()
	}
	existing := k.existing(n)
	rest := a.toks[a.i:]
	notValid := hasWords(rest, "not", "valid")
	notEnforced := hasWords(rest, "not", "enforced")
	if notEnforced && k.version < 180000 {
		k.rejected(at, "NOT ENFORCED", 180000)
		return
	}
	if a.is("not", "null") && k.version < 180000 {
		k.rejected(at, "ADD CONSTRAINT ... NOT NULL", 180000)
		return
	}
	record := func(con *constraint, suffix string, cols []string) {
		if t == nil {
			return
		}
		if name == "" {
			name = defaultConstraintName(n.Name, cols, suffix)
		}
		t.cons[name] = con
	}
	switch {
	case a.accept("check"):
		k.lockOn(n, AccessExclusive)
		g := a.group()
		nn := isNotNullCheck(g, "")
		record(&constraint{kind: 'c', valid: !notValid, notNull: nn, cols: wordsIn(g)}, "check", nil)
		if notValid || notEnforced || !existing {
			return
		}
		k.effect(Scan, n)
		k.find(RuleNotValid, at, fmt.Sprintf("ADD CONSTRAINT ... CHECK checks every row of %s under ACCESS EXCLUSIVE", n), "",
			lockEffect(n, AccessExclusive), scanEffect(n))
	case a.is("foreign", "key"):
		a.i += 2
		cols, _ := a.identList()
		a.accept("references")
		ref, _ := a.name()
		refCols, _ := a.identList()
		k.lockOn(n, ShareRowExclusive)
		if ref.key() != n.key() {
			k.lockOn(ref, ShareRowExclusive)
		}
		record(&constraint{kind: 'f', valid: !notValid, ref: ref.key(), cols: cols, refCols: refCols}, "fkey", cols)
		if notValid || notEnforced || !existing {
			return
		}
		k.effect(Scan, n)
		safer := ""
		if t != nil && t.kind == relPartitioned && k.version < 180000 {
			safer = fmt.Sprintf("%s cannot add a NOT VALID foreign key to partitioned table %s: add it NOT VALID to each partition and VALIDATE each in later steps, then add it to %s, which finds the partitions' constraints and checks nothing again (NOT VALID on partitioned tables arrives in PostgreSQL 18)",
				versionName(k.version), n, n)
		}
		k.find(RuleNotValid, at, fmt.Sprintf("ADD FOREIGN KEY checks every row of %s against %s while both are locked against writes (SHARE ROW EXCLUSIVE)", n, ref), safer,
			lockEffect(n, ShareRowExclusive), lockEffect(ref, ShareRowExclusive), scanEffect(n))
	case a.is("primary", "key"), a.accept("unique"):
		primary := a.accept("primary", "key")
		a.accept("nulls", "not", "distinct")
		a.accept("nulls", "distinct")
		k.lockOn(n, AccessExclusive)
		kind, suffix := byte('u'), "key"
		if primary {
			kind, suffix = 'p', "pkey"
		}
		if a.accept("using", "index") {
			idxName, _ := a.ident()
			idx := k.model.lookup(Name{Schema: n.Schema, Name: idxName})
			var cols []string
			if idx != nil {
				cols = idx.indexCols
			}
			record(&constraint{kind: kind, valid: true, cols: cols}, suffix, nil)
			if primary {
				// The key's columns become NOT NULL, which scans the
				// table unless a validated CHECK proves it.
				k.primaryNotNull(n, t, idx, at)
			}
			if idx != nil && name != "" && name != idxName {
				k.model.rename(idx.name, name)
			}
			return
		}
		cols, _ := a.identList()
		if primary && t != nil && t.columns != nil {
			for _, col := range cols {
				if c := t.columns[col]; c != nil {
					c.notNull = true
				}
			}
		}
		record(&constraint{kind: kind, valid: true, cols: cols}, suffix, cols)
		if t != nil {
			idx := Name{Schema: n.Schema, Name: name}
			if primary && name == "" {
				idx.Name = n.Name + "_pkey"
			}
			k.model.add(&relation{kind: relIndex, name: idx, table: n.key(), indexCols: cols})
			k.markCreated(idx)
		}
		if !existing {
			return
		}
		k.effect(Scan, n)
		k.find(RuleAddKey, at, fmt.Sprintf("ADD %s builds its index over every row of %s under ACCESS EXCLUSIVE", keyWord(primary), n), "",
			lockEffect(n, AccessExclusive), scanEffect(n))
	case a.accept("exclude"):
		k.lockOn(n, AccessExclusive)
		record(&constraint{kind: 'x', valid: true}, "excl", nil)
		if !existing {
			return
		}
		k.effect(Scan, n)
		k.find(RuleAddKey, at, fmt.Sprintf("ADD EXCLUDE builds its index over every row of %s under ACCESS EXCLUSIVE; no concurrent form exists", n),
			"add the exclusion constraint when the table is created, or in a maintenance window", lockEffect(n, AccessExclusive), scanEffect(n))
	case a.is("not", "null"):
		// PostgreSQL 18: ADD CONSTRAINT name NOT NULL col [NOT VALID].
		a.i += 2
		col, _ := a.ident()
		k.lockOn(n, AccessExclusive)
		proven := t != nil && (t.provenNotNull(col) || t.columns != nil && t.columns[col] != nil && t.columns[col].notNull)
		record(&constraint{kind: 'n', valid: !notValid, notNull: col}, "not_null", []string{col})
		if !notValid && t != nil && t.columns != nil && t.columns[col] != nil {
			t.columns[col].notNull = true
		}
		if notValid || !existing || proven {
			return
		}
		k.effect(Scan, n)
		k.find(RuleSetNotNull, at, fmt.Sprintf("ADD CONSTRAINT ... NOT NULL %s reads every row of %s under ACCESS EXCLUSIVE", quoteIdent(col), n),
			k.saferNotNull(col), lockEffect(n, AccessExclusive), scanEffect(n))
	}
}

// primaryNotNull handles the NOT NULL that ADD PRIMARY KEY USING INDEX
// puts on the index's columns.
func (k *checker) primaryNotNull(n Name, t *relation, idx *relation, at sqlsplit.Token) {
	if !k.existing(n) || t == nil || t.columns == nil || idx == nil || idx.indexCols == nil {
		return
	}
	for _, col := range idx.indexCols {
		c := t.columns[col]
		if c == nil {
			return
		}
		if c.notNull || t.provenNotNull(col) {
			c.notNull = true
			continue
		}
		c.notNull = true
		k.effect(Scan, n)
		k.find(RuleSetNotNull, at, fmt.Sprintf("ADD PRIMARY KEY makes %s NOT NULL, which reads every row of %s under ACCESS EXCLUSIVE", quoteIdent(col), n),
			k.saferNotNull(col), lockEffect(n, AccessExclusive), scanEffect(n))
		return
	}
}

// alterColumn reads ALTER [COLUMN] col action.
func (k *checker) alterColumn(n Name, t *relation, col string, a *cursor, at sqlsplit.Token) {
	var cl *column
	if t != nil && t.columns != nil {
		cl = t.columns[col]
	}
	switch {
	case a.is("type"), a.is("set", "data", "type"):
		k.alterType(n, t, col, cl, a, at)
	case a.is("set", "not", "null"):
		k.lockOn(n, AccessExclusive)
		proven := t != nil && t.provenNotNull(col) || cl != nil && cl.notNull
		if cl != nil {
			cl.notNull = true
		}
		if proven || !k.existing(n) {
			return
		}
		k.effect(Scan, n)
		k.find(RuleSetNotNull, a.peek(), fmt.Sprintf("SET NOT NULL reads every row of %s under ACCESS EXCLUSIVE: no validated CHECK (%s IS NOT NULL) proves it", n, quoteIdent(col)),
			k.saferNotNull(col), lockEffect(n, AccessExclusive), scanEffect(n))
	case a.is("drop", "not", "null"):
		k.lockOn(n, AccessExclusive)
		if cl != nil {
			cl.notNull = false
		}
	case a.is("set", "statistics"), a.is("reset"):
		k.lockOn(n, ShareUpdateExclusive)
	case a.is("set", "expression"):
		if k.version < 170000 {
			k.rejected(at, "SET EXPRESSION", 170000)
			return
		}
		k.rewriteAction(n, at, "SET EXPRESSION recomputes the STORED generated column "+quoteIdent(col)+" for every row of "+n.String())
	default:
		if a.is("set") && a.at(1).Kind == sqlsplit.Op && a.at(1).Text == "(" {
			k.lockOn(n, ShareUpdateExclusive)
			return
		}
		// SET/DROP DEFAULT, identity, DROP EXPRESSION, SET STORAGE, SET
		// COMPRESSION: catalog changes under AccessExclusive.
		k.lockOn(n, AccessExclusive)
	}
}

// alterType reads [SET DATA] TYPE type [COLLATE c] [USING expr].
func (k *checker) alterType(n Name, t *relation, col string, cl *column, a *cursor, at sqlsplit.Token) {
	a.accept("set", "data")
	a.accept("type")
	k.lockOn(n, AccessExclusive)
	newType := readType(a)
	var using []sqlsplit.Token
	for !a.done() {
		if a.accept("using") {
			using = a.toks[a.i:]
			break
		}
		a.next()
	}
	var old typeName
	if cl != nil {
		old = cl.typ
		cl.typ = newType
	}
	if !k.existing(n) {
		return
	}
	conv := convert(old, newType)
	if using != nil && !usesOnly(using, col) {
		conv = convRewrite
	}
	utc := conv == convTimeZone && k.utc.on
	if utc {
		conv = convNoRewrite
	}
	predicts := []Effect{lockEffect(n, AccessExclusive), rewriteEffect(n)}
	if conv == convNoRewrite {
		predicts = []Effect{lockEffect(n, AccessExclusive)}
	}

	// The column's foreign keys, and those that reference it, are made
	// again: their triggers go from and come back to both tables, under
	// ACCESS EXCLUSIVE, and a rewrite checks every row again.
	var also []string
	if t != nil {
		own, referencing := k.model.foreignKeysOn(t, col)
		for _, con := range own {
			if con.ref == n.key() {
				continue
			}
			ref := k.nameOf(con.ref)
			k.lockOn(ref, AccessExclusive)
			predicts = append(predicts, lockEffect(ref, AccessExclusive))
			also = append(also, "its foreign key to "+ref.String()+" is made again, locking "+ref.String()+" ACCESS EXCLUSIVE")
		}
		for _, key := range referencing {
			r := k.nameOf(key)
			k.lockOn(r, AccessExclusive)
			predicts = append(predicts, lockEffect(r, AccessExclusive))
			what := "the foreign key of " + r.String() + " that references it is made again, locking " + r.String() + " ACCESS EXCLUSIVE"
			if conv != convNoRewrite {
				k.effect(Scan, r)
				predicts = append(predicts, scanEffect(r))
				what += " and reading it in full"
			}
			also = append(also, what)
		}
	}
	tail := ""
	if len(also) > 0 {
		tail = "; " + strings.Join(also, "; ")
	}

	switch conv {
	case convNoRewrite:
		// Under a UTC TimeZone the rows stay, but the indexes on the
		// column change operator class and are built again.
		var rebuilt []string
		if utc && t != nil {
			for _, idx := range k.model.indexesOf(n.key()) {
				if slices.Contains(idx.indexCols, col) {
					k.effect(Rewrite, idx.name)
					predicts = append(predicts, rewriteEffect(idx.name))
					rebuilt = append(rebuilt, idx.name.String())
				}
			}
			slices.Sort(rebuilt)
		}
		if len(rebuilt) > 0 {
			k.effect(Scan, n)
			predicts = append(predicts, scanEffect(n))
			k.find(RuleAlterType, at, fmt.Sprintf("ALTER COLUMN %s TYPE %s to %s under TimeZone UTC keeps the rows of %s, but builds %s again, reading every row under ACCESS EXCLUSIVE%s",
				quoteIdent(col), old, newType, n, strings.Join(rebuilt, ", "), tail),
				"drop the indexes on the column first (DROP INDEX CONCURRENTLY) and build them again with CREATE INDEX CONCURRENTLY after the change; or add a column of the new type and fill it in batches", predicts...)
			return
		}
		if len(also) > 0 {
			// Brief, as nothing is read: a lock-timeout matter.
			k.find(RuleAlterType, at, fmt.Sprintf("ALTER COLUMN %s TYPE %s keeps the rows of %s, but %s", quoteIdent(col), newType, n, strings.Join(also, "; ")),
				"set a lock_timeout, so that the ACCESS EXCLUSIVE locks do not queue behind a long transaction", predicts...)
			k.st.Findings[len(k.st.Findings)-1].Severity = SeverityWarning
		}
	case convRewrite:
		k.effect(Rewrite, n)
		k.effect(Scan, n)
		why := fmt.Sprintf("%s to %s", old, newType)
		if !old.known() {
			why = "to " + newType.String()
		}
		if using != nil && !usesOnly(using, col) {
			why += " with a USING expression"
		}
		k.find(RuleAlterType, at, fmt.Sprintf("ALTER COLUMN %s TYPE %s rewrites %s and its indexes under ACCESS EXCLUSIVE%s", quoteIdent(col), why, n, tail), "", predicts...)
	case convUnknown:
		k.effect(Rewrite, n)
		k.effect(Scan, n)
		k.find(RuleAlterType, at, fmt.Sprintf("ALTER COLUMN %s TYPE %s: waymark does not know the column's current type, and unless it converts without a rewrite (varchar(n) to a longer varchar or text, numeric(p,s) to a larger p) the server rewrites %s under ACCESS EXCLUSIVE%s",
			quoteIdent(col), newType, n, tail), "", predicts...)
	case convTimeZone:
		k.effect(Rewrite, n)
		k.effect(Scan, n)
		k.find(RuleAlterType, at, fmt.Sprintf("ALTER COLUMN %s TYPE %s to %s rewrites %s under ACCESS EXCLUSIVE unless the session's TimeZone is UTC%s",
			quoteIdent(col), old, newType, n, tail), "SET LOCAL TimeZone = 'UTC' before it: the server then keeps the rows, but still builds the indexes on the column again under ACCESS EXCLUSIVE (mind that existing values are read as UTC)", predicts...)
	}
}

// usesOnly reports whether a USING expression is just the column, perhaps
// cast: USING col or USING col::type.
func usesOnly(using []sqlsplit.Token, col string) bool {
	if len(using) == 0 {
		return false
	}
	name, ok := using[0].Ident()
	if !ok || name != col {
		return false
	}
	rest := using[1:]
	return len(rest) == 0 || len(rest) >= 3 && rest[0].Text == ":" && rest[1].Text == ":"
}

// hasWords reports whether toks contain the key words kws in a row.
func hasWords(toks []sqlsplit.Token, kws ...string) bool {
	c := sub(toks)
	for i := range toks {
		c.i = i
		if c.is(kws...) {
			return true
		}
	}
	return false
}

// saferNotNull words the safe way to make col NOT NULL on the target
// version.
func (k *checker) saferNotNull(col string) string {
	if k.version >= 180000 {
		return fmt.Sprintf("ADD CONSTRAINT ... NOT NULL %s NOT VALID (instant), then VALIDATE CONSTRAINT in a later step, which reads the rows under SHARE UPDATE EXCLUSIVE", quoteIdent(col))
	}
	return fmt.Sprintf("ADD CONSTRAINT ... CHECK (%s IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT in a later step; then SET NOT NULL, which uses the CHECK and skips the scan; then drop the CHECK", quoteIdent(col))
}

// alterIndex reads the rest of ALTER INDEX.
func (k *checker) alterIndex(c *cursor) {
	c.accept("if", "exists")
	n, ok := c.name()
	if !ok {
		k.st.Known = false
		return
	}
	switch {
	case c.accept("rename", "to"):
		to, _ := c.ident()
		k.lockOn(n, ShareUpdateExclusive)
		k.model.rename(n, to)
	case c.is("set", "tablespace"):
		table := k.model.tableOf(n)
		k.lockOn(n, AccessExclusive)
		k.effect(Rewrite, n)
		if k.existing(n) {
			if table.Name == "" {
				table = n
			}
			k.find(RuleRewrite, c.peek(), "SET TABLESPACE copies index "+n.String()+" under ACCESS EXCLUSIVE, which stops every query that plans with "+table.String(),
				"", lockEffect(n, AccessExclusive), rewriteEffect(n))
		}
	case c.is("set"), c.is("reset"):
		// Storage parameters.
		k.lockOn(n, ShareUpdateExclusive)
	case c.accept("attach", "partition"):
		// The partition's index is locked ACCESS EXCLUSIVE while it
		// becomes part of n.
		k.lockOn(n, ShareUpdateExclusive)
		if idx, ok := c.name(); ok {
			k.lockOn(idx, AccessExclusive)
		}
	default:
		k.st.Known = false
	}
}

// attachPartition reads the rest of ALTER TABLE n ATTACH PARTITION p
// FOR VALUES ... | DEFAULT. The parent is locked SHARE UPDATE EXCLUSIVE;
// p, and the parent's DEFAULT partition if it has one, ACCESS EXCLUSIVE.
// Each of those is read in full (p to prove its rows belong to the new
// partition, the DEFAULT partition to prove none of its rows does) unless
// a validated CHECK on the partition key proves it.
func (k *checker) attachPartition(n, p Name, c *cursor) {
	at := c.toks[0]
	isDefault := hasWords(c.toks[c.i:], "default")
	k.lockOn(n, ShareUpdateExclusive)
	k.lockOn(p, AccessExclusive)
	parent := k.model.table(n)
	part := k.model.table(p)
	if !k.provesKey(part, parent) {
		k.effect(Scan, p)
		if k.existing(p) {
			k.find(RuleAttachPartition, at, fmt.Sprintf("ATTACH PARTITION reads every row of %s under ACCESS EXCLUSIVE to check that it belongs in the partition: no validated CHECK on the partition key proves it", p),
				"", lockEffect(p, AccessExclusive), scanEffect(p))
		}
	}
	if parent != nil && !isDefault {
		if def := k.model.defaultPartition(n.key()); def != nil && def != part {
			k.lockOn(def.name, AccessExclusive)
			if !k.provesKey(def, parent) {
				k.effect(Scan, def.name)
				if k.existing(def.name) {
					k.find(RuleAttachPartition, at, fmt.Sprintf("ATTACH PARTITION reads every row of %s, the DEFAULT partition of %s, under ACCESS EXCLUSIVE to check that none belongs in %s", def.name, n, p),
						"add to the DEFAULT partition a CHECK that excludes the new bounds, NOT VALID, and VALIDATE it in an earlier step; or move its rows out first",
						lockEffect(def.name, AccessExclusive), scanEffect(def.name))
				}
			}
		}
	}
	if part != nil {
		part.parent, part.defaultPart = n.key(), isDefault
	}
}

// provesKey reports whether a validated CHECK of partition part names
// every column of parent's partition key: what lets ATTACH PARTITION
// skip reading part. (The check must match the bounds; the measurement
// tells when it does not.)
func (k *checker) provesKey(part, parent *relation) bool {
	if part == nil || parent == nil || len(parent.partKey) == 0 {
		return false
	}
	for _, con := range part.cons {
		if con.kind != 'c' || !con.valid {
			continue
		}
		all := true
		for _, col := range parent.partKey {
			all = all && slices.Contains(con.cols, col)
		}
		if all {
			return true
		}
	}
	return false
}

// nameOf returns the name of the relation with key key in the model, or
// the name the key spells.
func (k *checker) nameOf(key string) Name {
	if r := k.model.rels[key]; r != nil {
		return r.name
	}
	if s, n, ok := strings.Cut(key, "."); ok {
		return Name{Schema: s, Name: n}
	}
	return Name{Name: key}
}

// wordsIn returns the names (words and quoted identifiers) in toks: the
// columns, among others, that an expression uses.
func wordsIn(toks []sqlsplit.Token) []string {
	var out []string
	for _, t := range toks {
		if s, ok := t.Ident(); ok && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// alterView reads the rest of ALTER [MATERIALIZED] VIEW: every form takes
// ACCESS EXCLUSIVE on the view, which blocks its readers while it holds;
// a rename or a move to another schema breaks the release still running.
func (k *checker) alterView(c *cursor) {
	c.accept("if", "exists")
	n, ok := c.name()
	if !ok {
		k.st.Known = false
		return
	}
	k.lockOn(n, AccessExclusive)
	switch {
	case c.is("rename", "to"):
		at := c.next()
		c.next()
		to, _ := c.ident()
		if k.existing(n) {
			k.find(RuleRenameTable, at, fmt.Sprintf("RENAME TO %s: the release still running reads view %s by that name", quoteIdent(to), n),
				"", lockEffect(n, AccessExclusive))
		}
		k.model.rename(n, to)
	case c.is("set", "schema"):
		if k.existing(n) {
			k.find(RuleRenameTable, c.peek(), fmt.Sprintf("SET SCHEMA moves view %s: the release still running looks for it where it was", n), "", lockEffect(n, AccessExclusive))
		}
	}
}
