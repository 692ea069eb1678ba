// Package sqlstmt tells what a PostgreSQL statement does, as far as
// waymark needs to know before running it: whether it can run inside a
// transaction block, and whether it builds an index concurrently (an
// index such a statement leaves invalid when it fails).
//
// It reads statements with the tokens of internal/sqlsplit, one statement
// at a time, as split by sqlsplit.Split: key words are compared without
// regard to ASCII case, quoted identifiers, strings and comments never
// count as key words.
package sqlstmt

import (
	"strings"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// words reads the tokens of one statement, on demand, keeping the last few
// in a ring: most statements are decided by their first words, the
// classifiers look only a few tokens ahead and never back further than one,
// and classifying must not cost a migration set's load an allocation per
// statement.
type words struct {
	sc      sqlsplit.Scanner
	ring    [16]sqlsplit.Token
	fetched int  // tokens read from the scanner so far
	end     bool // the scanner is exhausted
	i       int  // the current token
}

func (w *words) init(stmt string) { w.sc = sqlsplit.NewScanner(stmt) }

// at returns token k, reading up to it; the zero Token past the end. k must
// not lie more than len(ring) tokens behind the furthest token read.
func (w *words) at(k int) sqlsplit.Token {
	for !w.end && w.fetched <= k {
		t, ok := w.sc.Next()
		if !ok {
			w.end = true
			break
		}
		w.ring[w.fetched%len(w.ring)] = t
		w.fetched++
	}
	if k < w.fetched && k >= w.fetched-len(w.ring) {
		return w.ring[k%len(w.ring)]
	}
	return sqlsplit.Token{}
}

// more reports whether a token is left.
func (w *words) more() bool { return w.at(w.i).Kind != 0 }

// peek returns the current token, or the zero Token at the end.
func (w *words) peek() sqlsplit.Token { return w.at(w.i) }

// is consumes the key words kws if the statement continues with them.
func (w *words) is(kws ...string) bool {
	for k, kw := range kws {
		if !w.at(w.i + k).Is(kw) {
			return false
		}
	}
	w.i += len(kws)
	return true
}

// options consumes a parenthesized option list, such as REINDEX's or
// VACUUM's, and reports whether it names option kw (not followed by false,
// off or 0).
func (w *words) options(kw string) (found bool) {
	if w.peek().Kind != sqlsplit.Op || w.peek().Text != "(" {
		return false
	}
	depth := 0
	for ; w.more(); w.i++ {
		t := w.peek()
		switch {
		case t.Kind == sqlsplit.Op && t.Text == "(":
			depth++
		case t.Kind == sqlsplit.Op && t.Text == ")":
			depth--
			if depth == 0 {
				w.i++
				return found
			}
		case depth == 1 && t.Is(kw):
			next := w.at(w.i + 1)
			found = !(next.Is("false") || next.Is("off") || next.Kind == sqlsplit.Number && next.Text == "0")
		}
	}
	return found
}

// name consumes a possibly schema-qualified name and returns it as
// written, or "" if none follows.
func (w *words) name() string {
	var parts []string
	for {
		t := w.peek()
		if t.Kind != sqlsplit.Word && t.Kind != sqlsplit.QuotedIdent {
			break
		}
		parts = append(parts, t.Text)
		w.i++
		if dot := w.peek(); dot.Kind != sqlsplit.Op || dot.Text != "." {
			break
		}
		w.i++
	}
	return strings.Join(parts, ".")
}

// NoTransaction reports whether stmt cannot run inside a transaction
// block, and if so names what it is ("CREATE INDEX CONCURRENTLY", "VACUUM",
// ...). It knows CREATE/DROP INDEX CONCURRENTLY, REINDEX ... CONCURRENTLY
// and REINDEX SCHEMA/DATABASE/SYSTEM, VACUUM, CREATE/DROP DATABASE, ALTER
// DATABASE ... SET TABLESPACE, CREATE/DROP TABLESPACE, ALTER SYSTEM,
// CLUSTER without a table, ALTER TABLE ... DETACH PARTITION ...
// CONCURRENTLY and DISCARD ALL.
func NoTransaction(stmt string) (string, bool) {
	var w words
	w.init(stmt)
	switch {
	case w.is("create", "unique", "index", "concurrently"), w.is("create", "index", "concurrently"):
		return "CREATE INDEX CONCURRENTLY", true
	case w.is("drop", "index", "concurrently"):
		return "DROP INDEX CONCURRENTLY", true
	case w.is("reindex"):
		if w.options("concurrently") {
			return "REINDEX (CONCURRENTLY)", true
		}
		switch {
		case w.is("schema"), w.is("database"), w.is("system"):
			return "REINDEX " + strings.ToUpper(w.at(w.i-1).Text), true
		case w.is("index", "concurrently"), w.is("table", "concurrently"):
			return "REINDEX CONCURRENTLY", true
		}
	case w.is("vacuum"):
		return "VACUUM", true
	case w.is("create", "database"):
		return "CREATE DATABASE", true
	case w.is("drop", "database"):
		return "DROP DATABASE", true
	case w.is("create", "tablespace"):
		return "CREATE TABLESPACE", true
	case w.is("drop", "tablespace"):
		return "DROP TABLESPACE", true
	case w.is("alter", "system"):
		return "ALTER SYSTEM", true
	case w.is("alter", "database"):
		w.name()
		if w.is("set", "tablespace") {
			return "ALTER DATABASE ... SET TABLESPACE", true
		}
	case w.is("discard", "all"):
		return "DISCARD ALL", true
	case w.is("cluster"):
		w.options("verbose")
		w.is("verbose")
		if t := w.peek(); t.Kind == 0 || t.Kind == sqlsplit.Op && t.Text == ";" {
			return "CLUSTER without a table", true
		}
	case w.is("alter", "table"):
		for ; w.more(); w.i++ {
			if w.is("detach", "partition") {
				w.name()
				if w.is("concurrently") {
					return "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY", true
				}
			}
		}
	}
	return "", false
}

// IndexBuild is a statement that builds indexes concurrently.
type IndexBuild struct {
	// Index is the index it builds or rebuilds, as written (possibly
	// schema-qualified and quoted), or "" when the statement does not name
	// it (CREATE INDEX CONCURRENTLY without a name, REINDEX TABLE).
	Index string
	// Table is the table whose indexes it builds, as written, or "" for
	// REINDEX INDEX.
	Table string
}

// BuildsIndexConcurrently reports whether stmt is CREATE [UNIQUE] INDEX
// CONCURRENTLY or REINDEX INDEX|TABLE CONCURRENTLY, which leave an invalid
// index behind when they fail, and what they build.
func BuildsIndexConcurrently(stmt string) (IndexBuild, bool) {
	var w words
	w.init(stmt)
	switch {
	case w.is("create", "unique", "index", "concurrently"), w.is("create", "index", "concurrently"):
		var b IndexBuild
		w.is("if", "not", "exists")
		if !w.peek().Is("on") {
			b.Index = w.name()
		}
		if !w.is("on") {
			return IndexBuild{}, false
		}
		w.is("only")
		b.Table = w.name()
		return b, b.Table != ""
	case w.is("reindex"):
		concurrently := w.options("concurrently")
		switch {
		case w.is("index"):
			concurrently = w.is("concurrently") || concurrently
			if idx := w.name(); concurrently && idx != "" {
				return IndexBuild{Index: idx}, true
			}
		case w.is("table"):
			concurrently = w.is("concurrently") || concurrently
			if table := w.name(); concurrently && table != "" {
				return IndexBuild{Table: table}, true
			}
		}
	}
	return IndexBuild{}, false
}
