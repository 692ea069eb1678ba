package source

import (
	"crypto/sha256"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// directiveNoTransaction is the one directive waymark knows.
const directiveNoTransaction = "waymark:no-transaction"

// parseScript checks a script's text and splits it into statements. It
// returns every problem it finds, each an [*Error] naming path.
func parseScript(path string, data []byte, dir Direction) (*Script, []*Error) {
	sql := string(data)
	s := &Script{Path: path, Direction: dir, SQL: sql, Checksum: sha256.Sum256(data)}
	at := func(off int, err error, detail string) *Error {
		line, col := sqlsplit.Position(sql, off)
		return &Error{Path: path, Line: line, Column: col, Err: err, Detail: detail}
	}
	if off := invalidUTF8(sql); off >= 0 {
		return nil, []*Error{at(off, ErrEncoding, "not valid UTF-8")}
	}
	if strings.HasPrefix(sql, "\uFEFF") {
		return nil, []*Error{at(0, ErrEncoding, "starts with a byte order mark; save the file as UTF-8 without BOM")}
	}
	if off := strings.IndexByte(sql, 0); off >= 0 {
		return nil, []*Error{at(off, ErrEncoding, "contains a NUL byte")}
	}
	pieces, err := sqlsplit.Split(sql)
	if err != nil {
		var se *sqlsplit.Error
		if errors.As(err, &se) {
			return nil, []*Error{at(se.Offset, ErrSyntax, se.Msg)}
		}
		return nil, []*Error{{Path: path, Err: ErrSyntax, Detail: err.Error()}}
	}

	var errs []*Error
	n := 0
	for _, p := range pieces {
		if p.SQL != "" {
			n++
		}
	}
	s.Statements = make([]Statement, 0, n)
	header := headerEnd(sql)
	for _, p := range pieces {
		// Directives live in comments, which lie outside statements.
		lead := p.Start - p.Offset
		for off, text := range lineComments(p.Text[:lead]) {
			off += p.Offset
			body := strings.TrimSpace(text)
			if len(body) < len("waymark") || !strings.EqualFold(body[:len("waymark")], "waymark") {
				continue
			}
			switch {
			case body != directiveNoTransaction:
				errs = append(errs, at(off, ErrDirective, "unknown directive "+quote(body)+" (known: "+directiveNoTransaction+")"))
			case off > header:
				errs = append(errs, at(off, ErrDirective, directiveNoTransaction+" must come before the first statement"))
			default:
				s.NoTransaction = true
			}
		}
		if p.SQL == "" {
			continue
		}
		s.Statements = append(s.Statements, Statement{SQL: p.SQL, Offset: p.Start, Line: p.Line, Column: p.Column})
	}
	if dir == Up && len(s.Statements) == 0 {
		errs = append(errs, &Error{Path: path, Err: ErrEmpty, Detail: "the file holds only whitespace and comments"})
	}
	if !s.NoTransaction {
		for _, st := range s.Statements {
			if kw, ok := transactionControl(st.SQL); ok {
				errs = append(errs, &Error{Path: path, Line: st.Line, Column: st.Column, Err: ErrTransactionControl,
					Detail: kw + " would end waymark's transaction early; remove it, or run the script with -- " + directiveNoTransaction})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// headerEnd returns the byte offset at which a script's header ends: the
// start of its first line that is neither blank nor a "--" comment.
func headerEnd(sql string) int {
	off := 0
	for off < len(sql) {
		line, _, _ := strings.Cut(sql[off:], "\n")
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "--") {
			return off
		}
		off += len(line) + 1
	}
	return len(sql)
}

// lineComments yields, for each line of trivia (text outside statements:
// whitespace and comments) that begins with "--", the offset of the "--"
// and the comment's text after it.
func lineComments(trivia string) func(yield func(int, string) bool) {
	return func(yield func(int, string) bool) {
		off := 0
		for off < len(trivia) {
			line, _, _ := strings.Cut(trivia[off:], "\n")
			trimmed := strings.TrimLeft(line, " \t\r\f\v")
			if rest, ok := strings.CutPrefix(trimmed, "--"); ok {
				if !yield(off+len(line)-len(trimmed), rest) {
					return
				}
			}
			off += len(line) + 1
		}
	}
}

// transactionControl reports whether a statement starts or ends a
// transaction, and if so its keyword(s).
func transactionControl(stmt string) (string, bool) {
	w0, rest := nextWord(stmt)
	w1, rest := nextWord(rest)
	switch {
	case eq(w0, "BEGIN"), eq(w0, "COMMIT"), eq(w0, "END"), eq(w0, "ABORT"):
		return strings.ToUpper(w0), true
	case eq(w0, "START") && eq(w1, "TRANSACTION"):
		return "START TRANSACTION", true
	case eq(w0, "PREPARE") && eq(w1, "TRANSACTION"):
		return "PREPARE TRANSACTION", true
	case eq(w0, "ROLLBACK"):
		if eq(w1, "WORK") || eq(w1, "TRANSACTION") {
			w1, _ = nextWord(rest)
		}
		// ROLLBACK TO SAVEPOINT stays inside the transaction.
		return "ROLLBACK", !eq(w1, "TO")
	}
	return "", false
}

// nextWord returns the leading run of ASCII letters of s after any
// whitespace, and what follows it.
func nextWord(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t\r\n\f\v")
	n := 0
	for n < len(s) && (s[n]|0x20 >= 'a' && s[n]|0x20 <= 'z') {
		n++
	}
	return s[:n], s[n:]
}

var eq = strings.EqualFold

// invalidUTF8 returns the byte offset of the first invalid UTF-8 sequence
// in s, or -1.
func invalidUTF8(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}

// quote returns s in double quotes, shortened if long.
func quote(s string) string {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return `"` + s + `"`
}
