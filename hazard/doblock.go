package hazard

import (
	"strings"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// doBlock reads the rest of DO [LANGUAGE plpgsql] 'body': the SQL that a
// PL/pgSQL body runs, statement by statement, as if each ran in turn,
// and the text of each EXECUTE of a string literal. Conditions and loops
// are not followed (each statement counts once, as if it ran), and SQL
// built at run time (EXECUTE of an expression, format()) is not known:
// the statement stays unknown ([Statement].Known false) but its effects
// are those of what it could read.
func (k *checker) doBlock(c *cursor) {
	k.st.Known = false
	var body string
	for !c.done() {
		t := c.next()
		if t.Kind == sqlsplit.String {
			body = stringValue(t.Text)
		}
		if t.Is("language") {
			lang, _ := c.ident()
			if lang != "plpgsql" {
				return
			}
		}
	}
	if body == "" {
		return
	}
	k.inner++
	defer func() { k.inner-- }()
	for _, stmt := range blockStatements(body) {
		k.dispatch(newCursor(stmt))
	}
	k.st.Known = false
}

// blockStatements returns the SQL statements of a PL/pgSQL body: each
// piece between semicolons, from the first word that starts a statement
// waymark reads after the block's own words (DECLARE ..., BEGIN, IF ...
// THEN, ELSE, LOOP), and the literal text of EXECUTE 'sql'.
func blockStatements(body string) []string {
	var out []string
	sc := sqlsplit.NewScanner(body)
	var piece []sqlsplit.Token
	flush := func() {
		defer func() { piece = piece[:0] }()
		start := -1
		for i, t := range piece {
			if t.Is("execute") && i+1 < len(piece) && piece[i+1].Kind == sqlsplit.String && (i+2 == len(piece) || piece[i+2].Is("using") || piece[i+2].Is("into")) {
				out = append(out, stringValue(piece[i+1].Text))
				return
			}
			if start < 0 && startsStatement(t) && (i == 0 || isAny(piece[i-1], "begin", "then", "else", "loop", "exception")) {
				start = i
			}
		}
		if start < 0 || len(piece) == 0 {
			return
		}
		first, last := piece[start], piece[len(piece)-1]
		out = append(out, body[first.Offset:last.End()])
	}
	for {
		t, ok := sc.Next()
		if !ok {
			break
		}
		if t.Kind == sqlsplit.Op && t.Text == ";" {
			flush()
			continue
		}
		piece = append(piece, t)
	}
	flush()
	return out
}

// startsStatement reports whether a word begins a statement whose locks
// waymark reads.
func startsStatement(t sqlsplit.Token) bool {
	return isAny(t, "alter", "create", "drop", "truncate", "lock", "reindex", "cluster", "refresh", "comment",
		"insert", "update", "delete", "analyze", "set")
}

// stringValue returns the text of a string literal: 'it”s', E'...',
// $tag$...$tag$.
func stringValue(s string) string {
	if strings.HasPrefix(s, "$") {
		if i := strings.Index(s[1:], "$"); i >= 0 {
			tag := s[:i+2]
			return strings.TrimSuffix(strings.TrimPrefix(s, tag), tag)
		}
		return s
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "E"), "e")
	return unquote(s)
}
