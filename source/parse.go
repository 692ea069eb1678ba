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

// ParseScript checks one script as [FromFS] would, splits it into
// statements and reads its directives. The error, if any, joins an [*Error]
// per problem, each naming path.
func ParseScript(path string, data []byte, dir Direction) (*Script, error) {
	s, errs := parseScript(path, data, dir)
	if errs != nil {
		return nil, join(errs)
	}
	return s, nil
}

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
	for _, p := range pieces {
		// Directives live in "--" comments, which lie outside statements;
		// they count only before the first statement.
		lead := p.Start - p.Offset
		for off, text := range lineComments(p.Text[:lead]) {
			body := strings.TrimSpace(text)
			if len(body) < len("waymark") || !strings.EqualFold(body[:len("waymark")], "waymark") {
				continue
			}
			switch {
			case body != directiveNoTransaction:
				errs = append(errs, at(p.Offset+off, ErrDirective, "unknown directive "+quote(body)+" (known: "+directiveNoTransaction+")"))
			case len(s.Statements) > 0:
				errs = append(errs, at(p.Offset+off, ErrDirective, directiveNoTransaction+" must come before the first statement"))
			default:
				s.NoTransaction = true
			}
		}
		if p.SQL != "" {
			s.Statements = append(s.Statements, Statement{SQL: p.SQL, Offset: p.Start, Line: p.Line, Column: p.Column})
		}
	}
	if dir == Up && len(s.Statements) == 0 {
		errs = append(errs, &Error{Path: path, Err: ErrEmpty, Detail: "the file holds only whitespace and comments"})
	}
	errs = append(errs, checkTransactionControl(s)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// checkTransactionControl refuses transaction control in a transactional
// script, where it would end waymark's transaction early, and a
// transaction left open by a no-transaction script, which would swallow the
// history writes that follow it.
func checkTransactionControl(s *Script) []*Error {
	var errs []*Error
	var open *Statement // the statement that opened a transaction
	for i := range s.Statements {
		st := &s.Statements[i]
		kw, ok := transactionControl(st.SQL)
		switch {
		case !ok:
		case !s.NoTransaction:
			errs = append(errs, &Error{Path: s.Path, Line: st.Line, Column: st.Column, Err: ErrTransactionControl,
				Detail: kw + " would end waymark's transaction early; remove it, or run the script with -- " + directiveNoTransaction})
		case kw == "BEGIN" || kw == "START TRANSACTION":
			open = st
		default:
			open = nil
		}
	}
	if open != nil {
		errs = append(errs, &Error{Path: s.Path, Line: open.Line, Column: open.Column, Err: ErrTransactionControl,
			Detail: "this transaction is never committed; waymark records the step after its last statement, outside any transaction"})
	}
	return errs
}

// lineComments yields, for each line of trivia (text outside statements:
// whitespace and comments) that begins with "--", the offset of the "--"
// and the comment's text after it.
func lineComments(trivia string) func(yield func(int, string) bool) {
	return func(yield func(int, string) bool) {
		off := 0
		for off < len(trivia) {
			line, _, _ := strings.Cut(trivia[off:], "\n")
			trimmed := strings.TrimLeftFunc(line, isSpace)
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
// whitespace and comments, and what follows it.
func nextWord(s string) (word, rest string) {
	for {
		s = strings.TrimLeftFunc(s, isSpace)
		if strings.HasPrefix(s, "--") {
			_, s, _ = strings.Cut(s, "\n")
		} else if strings.HasPrefix(s, "/*") {
			s = skipBlockComment(s)
		} else {
			break
		}
	}
	n := 0
	for n < len(s) && (s[n]|0x20 >= 'a' && s[n]|0x20 <= 'z') {
		n++
	}
	return s[:n], s[n:]
}

// skipBlockComment returns what follows the (nested) block comment that s
// starts with; the splitter has made sure it is closed.
func skipBlockComment(s string) string {
	depth := 0
	for i := 0; i+1 < len(s); i++ {
		switch s[i : i+2] {
		case "/*":
			depth++
			i++
		case "*/":
			depth--
			i++
			if depth == 0 {
				return s[i+1:]
			}
		}
	}
	return ""
}

var eq = strings.EqualFold

// isSpace reports whether r is whitespace to SQL.
func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v'
}

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
