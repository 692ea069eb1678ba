package hazard

import (
	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// batchRules checks the statement being read when its script marks it
// waymark:batch: a batch must touch a bounded number of rows per run
// (batch-unbounded) and touch only rows not yet done, so that a run
// eventually reports 0 rows (batch-endless). What the checker cannot see
// (a function, a MERGE, a WITH) it does not judge.
func (k *checker) batchRules() {
	if k.script == nil {
		return
	}
	if _, ok := k.script.Batch(k.stmt.Pos.Statement); !ok {
		return
	}
	toks := newCursor(k.stmt.SQL).toks
	if len(toks) == 0 {
		return
	}
	bounded := false
	for i, t := range toks {
		if t.Is("limit") || t.Is("fetch") && i+1 < len(toks) && (toks[i+1].Is("first") || toks[i+1].Is("next")) {
			bounded = true
		}
	}
	first := toks[0]
	if !bounded && !first.Is("with") && !first.Is("merge") {
		k.find(RuleBatchUnbounded, first,
			"this waymark:batch statement has no LIMIT: its first run touches every row it matches, in one transaction, which is what batches avoid", "")
	}
	switch {
	case first.Is("update"):
		set, where := updateParts(toks)
		if len(set) > 0 && !mentions(where, set) {
			k.find(RuleBatchEndless, first,
				"nothing in the WHERE of this waymark:batch UPDATE changes when it runs (it names none of the columns it sets), so every run finds rows again and it never reports 0 rows", "")
		}
	case first.Is("insert"):
		c := sub(toks[1:])
		if !c.accept("into") {
			return
		}
		target, ok := c.name()
		if !ok {
			return
		}
		if !mentions(c.toks[c.i:], map[string]bool{target.Name: true}) {
			k.find(RuleBatchEndless, first,
				"this waymark:batch INSERT never reads "+target.String()+", the table it fills, so nothing tells a run which rows are done and it never reports 0 rows", "")
		}
	}
}

// updateParts returns the columns an UPDATE sets (col = ..., col[1] =
// ..., col.field = ..., (a, b) = ...) and the tokens after its top-level
// WHERE, subqueries included.
func updateParts(toks []sqlsplit.Token) (set map[string]bool, where []sqlsplit.Token) {
	set = map[string]bool{}
	op := func(i int, text string) bool {
		return i < len(toks) && toks[i].Kind == sqlsplit.Op && toks[i].Text == text
	}
	depth, inSet := 0, false
	for i, t := range toks {
		if depth == 0 && t.Is("where") {
			return set, toks[i+1:]
		}
		if depth == 0 && inSet && (t.Is("from") || t.Is("returning")) {
			inSet = false
		}
		if depth == 0 && inSet && (toks[i-1].Is("set") || op(i-1, ",")) {
			if name, ok := t.Ident(); ok && (op(i+1, "=") || op(i+1, ".") || op(i+1, "[")) {
				set[name] = true
			}
			if op(i, "(") {
				for j := i + 1; j < len(toks) && !op(j, ")"); j++ {
					if name, ok := toks[j].Ident(); ok {
						set[name] = true
					}
				}
			}
		}
		if depth == 0 && t.Is("set") {
			inSet = true
		}
		switch {
		case op(i, "("):
			depth++
		case op(i, ")"):
			depth--
		}
	}
	return set, nil
}

// mentions reports whether toks name any of names.
func mentions(toks []sqlsplit.Token, names map[string]bool) bool {
	for _, t := range toks {
		if name, ok := t.Ident(); ok && names[name] {
			return true
		}
	}
	return false
}
