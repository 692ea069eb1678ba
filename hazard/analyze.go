package hazard

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/source"
)

// checker reads the statements of scripts in the order they run, keeping
// a model of the schema they build, and says for each statement what it
// does to existing tables and which rules it breaks.
type checker struct {
	version     int           // server_version_num the verdicts are for
	lockTimeout time.Duration // Options.LockTimeout
	runnerLimit bool          // the runner sets a lock_timeout for every step
	model       *schema
	repeatables map[string]string // objects that repeatable scripts create, by name, with their paths

	// The script being read.
	script   *source.Script
	created  map[string]bool // relations created by earlier statements of the script
	timeout  setting         // a lock_timeout is in force
	utc      setting         // the session's TimeZone is UTC (or another zone always at offset 0)
	inTx     bool            // a no-transaction script is inside a transaction it began
	reported bool            // missing-lock-timeout was reported for the script
	inner    int             // reading the statements inside a DO block: findings are placed at the statement

	// The statement being read.
	stmt source.Statement
	st   *Statement
}

// startScript prepares for the statements of sc.
func (k *checker) startScript(sc *source.Script) {
	k.script = sc
	k.created = map[string]bool{}
	k.timeout = setting{on: k.runnerLimit}
	k.utc = setting{}
	k.inTx = false
	k.reported = false
}

// statement reads one statement of the current script.
func (k *checker) statement(s source.Statement) Statement {
	k.stmt = s
	k.st = &Statement{Pos: s.Pos, SQL: s.SQL, Known: true}
	c := newCursor(s.SQL)
	k.st.Kind = kindOf(c)
	k.dispatch(c)
	if k.refused() {
		// The statement fails on the server: it locks nothing, and only
		// that finding counts.
		k.st.Effects = nil
		k.st.Findings = slices.DeleteFunc(k.st.Findings, func(f *Finding) bool { return f.Rule != RuleNotAvailable })
	}
	k.lockTimeoutRule()
	k.batchRules()
	FindingList(k.st.Findings).Sort()
	return *k.st
}

// kindOf returns the statement's first key words, upper case: "ALTER
// TABLE", "CREATE INDEX".
func kindOf(c *cursor) string {
	var words []string
	for n := 0; n < 4 && c.at(n).Kind == sqlsplit.Word; n++ {
		w := strings.ToUpper(c.at(n).Text)
		switch w {
		case "OR", "REPLACE", "UNIQUE", "TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL", "MATERIALIZED", "CONSTRAINT", "DATA":
			words = append(words, w)
			continue
		}
		words = append(words, w)
		if len(words) >= 2 || !isCompound(w) {
			break
		}
	}
	return strings.Join(words, " ")
}

// isCompound reports whether a statement's first word needs the next one
// to say what the statement is.
func isCompound(w string) bool {
	switch w {
	case "CREATE", "ALTER", "DROP", "REFRESH", "COMMENT", "START", "SECURITY":
		return true
	}
	return false
}

func (k *checker) dispatch(c *cursor) {
	switch {
	case c.is("create"):
		k.create(c)
	case c.is("alter", "table"):
		c.i += 2
		k.alterTable(c)
	case c.is("alter", "index"):
		c.i += 2
		k.alterIndex(c)
	case c.is("alter", "sequence"):
		// SHARE ROW EXCLUSIVE on the sequence, which makes nextval()
		// wait: on an owned sequence, its table's writers.
		c.i += 2
		c.accept("if", "exists")
		if n, ok := c.name(); ok {
			k.lockOn(n, ShareRowExclusive)
		}
	case c.is("alter", "materialized", "view"), c.is("alter", "view"):
		c.next()
		c.accept("materialized")
		c.next()
		k.alterView(c)
	case c.is("drop"):
		c.next()
		k.drop(c)
	case c.is("reindex"):
		c.next()
		k.reindex(c)
	case c.is("vacuum"):
		c.next()
		k.vacuum(c)
	case c.is("cluster"):
		c.next()
		k.cluster(c)
	case c.is("refresh", "materialized", "view"):
		c.i += 3
		k.refresh(c)
	case c.is("truncate"):
		c.next()
		k.truncate(c)
	case c.is("lock"):
		c.next()
		k.lock(c)
	case c.is("comment", "on"):
		c.i += 2
		k.comment(c)
	case c.is("analyze"), c.is("analyse"):
		c.next()
		c.accept("verbose")
		c.skipGroup()
		for _, n := range nameList(c) {
			k.lockOn(n, ShareUpdateExclusive)
			for _, p := range k.model.partitionsSorted(n.key()) {
				k.lockOn(p.name, ShareUpdateExclusive)
			}
		}
	case c.is("set"), c.is("reset"):
		k.set(c)
	case c.is("do"):
		c.next()
		if k.inner == 0 {
			k.doBlock(c)
		}
	case c.is("select"):
		k.selectStatement(c)
	case c.is("begin"), c.is("start", "transaction"):
		k.inTx = true
	case c.is("commit"), c.is("end"), c.is("abort"), c.is("rollback") && !c.at(1).Is("to") && !c.at(2).Is("to"):
		k.inTx = false
		if k.timeout.local {
			k.timeout = setting{on: k.runnerLimit}
		}
		if k.utc.local {
			k.utc = setting{}
		}
	case c.is("insert"), c.is("update"), c.is("delete"), c.is("merge"), c.is("with"), c.is("copy"),
		c.is("grant"), c.is("revoke"), c.is("savepoint"), c.is("release"), c.is("rollback"),
		c.is("alter", "type"), c.is("alter", "function"), c.is("alter", "procedure"), c.is("alter", "schema"),
		c.is("alter", "role"), c.is("alter", "default"), c.is("alter", "extension"), c.is("alter", "policy"),
		c.is("notify"), c.is("values"), c.is("security", "label"):
		// Row locks and weak table locks only; no rewrites.
	default:
		k.st.Known = false
	}
}

// existing reports whether the relation was there before the script: a
// relation the script itself created has no readers yet.
func (k *checker) existing(n Name) bool { return !k.created[n.key()] }

// lockOn records that the statement locks relation n in mode m, if n
// existed before the script. A statement holds one mode per relation: the
// strongest.
func (k *checker) lockOn(n Name, m LockMode) {
	if !k.existing(n) || n.Name == "" {
		return
	}
	for i, e := range k.st.Effects {
		if e.Kind == Lock && e.Relation.key() == n.key() {
			if m > e.Mode {
				k.st.Effects[i].Mode = m
			}
			return
		}
	}
	k.st.Effects = append(k.st.Effects, Effect{Kind: Lock, Mode: m, Relation: n})
}

// effect records a rewrite or scan of relation n, if it existed before
// the script.
func (k *checker) effect(kind EffectKind, n Name) {
	if !k.existing(n) || n.Name == "" {
		return
	}
	for _, e := range k.st.Effects {
		if e.Kind == kind && e.Relation.key() == n.key() {
			return
		}
	}
	k.st.Effects = append(k.st.Effects, Effect{Kind: kind, Relation: n})
}

// find reports a finding of rule at token t (or at the statement when t
// is the zero Token), predicting effects.
func (k *checker) find(rule string, t sqlsplit.Token, reason, safer string, predicts ...Effect) {
	r := mustRule(rule)
	if safer == "" {
		safer = r.Safer
	}
	k.st.Findings = append(k.st.Findings, &Finding{Rule: rule, Severity: r.Severity,
		Pos: k.pos(t), Reason: reason, Safer: safer, Predicts: predicts})
}

// pos returns the place of token t in the file.
func (k *checker) pos(t sqlsplit.Token) source.Position {
	pos := k.stmt.Pos
	if t.Text == "" || k.inner > 0 {
		return pos
	}
	p := sqlsplit.Locate(k.stmt.SQL, t.Offset)
	pos.Offset += t.Offset
	if p.Line == 1 {
		pos.Column += p.Column - 1
	} else {
		pos.Line += p.Line - 1
		pos.Column = p.Column
	}
	return pos
}

func lockEffect(n Name, m LockMode) Effect { return Effect{Kind: Lock, Mode: m, Relation: n} }
func rewriteEffect(n Name) Effect          { return Effect{Kind: Rewrite, Relation: n} }
func scanEffect(n Name) Effect             { return Effect{Kind: Scan, Relation: n} }

// lockTimeoutRule reports missing-lock-timeout, once per script, at the
// first statement that takes AccessExclusive on an existing relation
// while no lock_timeout is in force.
func (k *checker) lockTimeoutRule() {
	if k.timeout.on || k.reported {
		return
	}
	for _, e := range k.st.Effects {
		if e.Kind == Lock && e.Mode == AccessExclusive {
			k.reported = true
			where := "in a step"
			if k.script.NoTransaction {
				where = "in a no-transaction script"
			}
			k.find(RuleLockTimeout, sqlsplit.Token{},
				fmt.Sprintf("%s takes ACCESS EXCLUSIVE on %s %s without lock_timeout: queued behind a long transaction, it stops every query on %s",
					k.st.Kind, e.Relation, where, e.Relation), "", e)
			return
		}
	}
}

// rejected reports that the server version the check is for does not
// have syntax what, which arrives in version since.
func (k *checker) rejected(at sqlsplit.Token, what string, since int) {
	k.find(RuleNotAvailable, at, fmt.Sprintf("%s is not available on %s (it arrives in %s): the server refuses the statement",
		what, versionName(k.version), versionName(since)), "")
}

// refused reports whether the statement has a not-available finding.
func (k *checker) refused() bool {
	return slices.ContainsFunc(k.st.Findings, func(f *Finding) bool { return f.Rule == RuleNotAvailable })
}

// markCreated notes that the script created relation n.
func (k *checker) markCreated(n Name) { k.created[n.key()] = true }

func versionName(v int) string { return fmt.Sprintf("PostgreSQL %d", v/10000) }
