package hazard

import (
	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// cursor walks the tokens of one statement (comments left out). Reading
// past the end yields the zero Token, which matches nothing.
type cursor struct {
	toks []sqlsplit.Token
	i    int
}

// newCursor reads the tokens of stmt, a statement that source has already
// split, so the scanner cannot fail on it; the final semicolon is dropped.
func newCursor(stmt string) *cursor {
	sc := sqlsplit.NewScanner(stmt)
	var toks []sqlsplit.Token
	for {
		t, ok := sc.Next()
		if !ok {
			break
		}
		toks = append(toks, t)
	}
	if n := len(toks); n > 0 && toks[n-1].Kind == sqlsplit.Op && toks[n-1].Text == ";" {
		toks = toks[:n-1]
	}
	return &cursor{toks: toks}
}

// at returns the token n places ahead.
func (c *cursor) at(n int) sqlsplit.Token {
	if c.i+n < len(c.toks) {
		return c.toks[c.i+n]
	}
	return sqlsplit.Token{}
}

func (c *cursor) peek() sqlsplit.Token { return c.at(0) }

// next consumes and returns the next token.
func (c *cursor) next() sqlsplit.Token {
	t := c.peek()
	if c.i < len(c.toks) {
		c.i++
	}
	return t
}

func (c *cursor) done() bool { return c.i >= len(c.toks) }

// is reports whether the next tokens are the key words kws, in order.
func (c *cursor) is(kws ...string) bool {
	for n, kw := range kws {
		if !c.at(n).Is(kw) {
			return false
		}
	}
	return true
}

// accept consumes the key words kws if they come next.
func (c *cursor) accept(kws ...string) bool {
	if !c.is(kws...) {
		return false
	}
	c.i += len(kws)
	return true
}

// isOp reports whether the next token is the operator op.
func (c *cursor) isOp(op string) bool {
	t := c.peek()
	return t.Kind == sqlsplit.Op && t.Text == op
}

// acceptOp consumes the operator op if it comes next.
func (c *cursor) acceptOp(op string) bool {
	if !c.isOp(op) {
		return false
	}
	c.i++
	return true
}

// ident consumes a name: a word or a quoted identifier.
func (c *cursor) ident() (string, bool) {
	s, ok := c.peek().Ident()
	if ok {
		c.i++
	}
	return s, ok
}

// name consumes a possibly qualified name: name, schema.name or
// catalog.schema.name.
func (c *cursor) name() (Name, bool) {
	first, ok := c.ident()
	if !ok {
		return Name{}, false
	}
	parts := []string{first}
	for c.isOp(".") {
		s, ok := c.at(1).Ident()
		if !ok {
			break
		}
		c.i += 2
		parts = append(parts, s)
	}
	n := len(parts)
	if n == 1 {
		return Name{Name: parts[0]}, true
	}
	return Name{Schema: parts[n-2], Name: parts[n-1]}, true
}

// skipGroup skips a parenthesized group (or bracketed, for arrays) that
// starts at the next token, and reports whether there was one.
func (c *cursor) skipGroup() bool {
	open, close := "(", ")"
	if c.isOp("[") {
		open, close = "[", "]"
	} else if !c.isOp("(") {
		return false
	}
	depth := 0
	for !c.done() {
		t := c.next()
		if t.Kind != sqlsplit.Op {
			continue
		}
		switch t.Text {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return true
			}
		}
	}
	return true
}

// group returns the tokens inside the parenthesized group that starts at
// the next token, and consumes the group; nil if none starts there.
func (c *cursor) group() []sqlsplit.Token {
	if !c.isOp("(") {
		return nil
	}
	start := c.i + 1
	c.skipGroup()
	end := c.i - 1
	if end < start {
		return nil
	}
	return c.toks[start:end]
}

// element consumes tokens up to (not including) the next comma or closing
// parenthesis at the current depth, or the end, and returns them.
// Parenthesized groups inside are consumed whole.
func (c *cursor) element() []sqlsplit.Token {
	start := c.i
	for !c.done() {
		if c.isOp(",") || c.isOp(")") {
			break
		}
		if !c.skipGroup() {
			c.i++
		}
	}
	return c.toks[start:c.i]
}

// sub returns a cursor over toks.
func sub(toks []sqlsplit.Token) *cursor { return &cursor{toks: toks} }

// split cuts toks at the commas outside parentheses.
func split(toks []sqlsplit.Token) [][]sqlsplit.Token {
	var out [][]sqlsplit.Token
	c := sub(toks)
	for !c.done() {
		out = append(out, c.element())
		if !c.acceptOp(",") {
			c.next() // a stray ")"
		}
	}
	return out
}

// identList reads a parenthesized list of plain column names, as in
// (a, b); ok is false when the group holds anything else (expressions).
func (c *cursor) identList() (names []string, ok bool) {
	g := c.group()
	if g == nil {
		return nil, false
	}
	for _, el := range split(g) {
		if len(el) != 1 {
			return names, false
		}
		s, isIdent := el[0].Ident()
		if !isIdent {
			return names, false
		}
		names = append(names, s)
	}
	return names, true
}
