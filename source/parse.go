package source

import (
	"crypto/sha256"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/internal/sqlstmt"
)

// directiveNoTransaction is the directive that runs a script outside a
// transaction, as it is written.
const directiveNoTransaction = "waymark:no-transaction"

// directiveEmpty is the directive that allows an up script without
// statements, as it is written (without its reason).
const directiveEmpty = "waymark:empty"

// ParseScript checks one script as [FromFS] would, splits it into
// statements and reads its directives. The error, if any, is an
// [ErrorList] whose problems name path.
func ParseScript(path string, data []byte, dir Direction) (*Script, error) {
	s, errs := parseScript(path, data, dir)
	if errs != nil {
		return nil, errs.Err()
	}
	return s, nil
}

// parseScript checks a script's text and splits it into statements. It
// returns every problem it finds, each an [*Error] naming path.
func parseScript(path string, data []byte, dir Direction) (*Script, ErrorList) {
	sql := string(data)
	s := &Script{Path: path, Direction: dir, SQL: sql, Checksum: sha256.Sum256(data)}
	at := func(pos sqlsplit.Pos, err error, detail string) *Error {
		return &Error{Pos: position(path, pos, 0), Err: err, Detail: detail}
	}
	if off := invalidUTF8(sql); off >= 0 {
		return nil, ErrorList{at(sqlsplit.Locate(sql, off), ErrEncoding, "not valid UTF-8")}
	}
	if strings.HasPrefix(sql, "\uFEFF") {
		return nil, ErrorList{at(sqlsplit.Locate(sql, 0), ErrEncoding, "starts with a byte order mark; save the file as UTF-8 without BOM")}
	}
	if off := strings.IndexByte(sql, 0); off >= 0 {
		return nil, ErrorList{at(sqlsplit.Locate(sql, off), ErrEncoding, "contains a NUL byte")}
	}
	pieces, err := sqlsplit.Split(sql)
	if err != nil {
		var se *sqlsplit.Error
		if errors.As(err, &se) {
			return nil, ErrorList{at(se.Pos, ErrSyntax, se.Msg)}
		}
		return nil, ErrorList{{Pos: Position{Path: path}, Err: ErrSyntax, Detail: err.Error()}}
	}

	var errs ErrorList
	var empty *Directive // the waymark:empty directive, if any
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
		trivia := p.Text[:p.Start.Offset-p.Offset]
		if !strings.Contains(trivia, "--") {
			trivia = "" // no line comment, so no directive: skip the scan
		}
		next := 0 // the statement the directives come before
		if p.SQL != "" {
			next = len(s.Statements) + 1
		}
		for c := range lineComments(trivia) {
			name, args, written, ok := readDirective(c.Text[len("--"):])
			if !ok {
				continue
			}
			pos := position(path, sqlsplit.Locate(sql, p.Offset+c.Offset), next)
			spec, known := directives[name]
			switch {
			case !known:
				errs = append(errs, &Error{Pos: pos, Err: ErrDirective, Detail: "unknown directive " + quote(written) + " (known: " + knownDirectives + ")"})
				continue
			case spec.fileLevel && len(s.Statements) > 0:
				errs = append(errs, &Error{Pos: pos, Err: ErrDirective, Detail: "waymark:" + name + " must come before the first statement"})
				continue
			}
			if problem := spec.check(args); problem != "" {
				errs = append(errs, &Error{Pos: pos, Err: ErrDirective, Detail: "waymark:" + name + ": " + problem})
				continue
			}
			if name == "empty" && dir != Up {
				errs = append(errs, &Error{Pos: pos, Err: ErrDirective, Detail: "waymark:empty is for up scripts: a down script may be empty without it"})
				continue
			}
			d := Directive{Name: name, Args: args, Pos: pos}
			s.Directives = append(s.Directives, d)
			switch name {
			case "no-transaction":
				s.NoTransaction = true
			case "allow":
				rule, reason, _ := parseAllow(args)
				s.Allows = append(s.Allows, Allow{Rule: rule, Reason: reason, Pos: pos})
			case "empty":
				empty = &d
			case "batch":
				b, _ := parseBatch(args)
				b.Pos = pos
				s.Batches = append(s.Batches, b)
			}
		}
		if p.SQL != "" {
			s.Statements = append(s.Statements, Statement{SQL: p.SQL, Pos: position(path, p.Start, len(s.Statements)+1)})
		}
	}
	switch {
	case dir == Up && len(s.Statements) == 0 && empty == nil:
		errs = append(errs, &Error{Pos: Position{Path: path}, Err: ErrEmpty,
			Detail: "the file holds only whitespace and comments (if the step is empty on purpose, say so: -- " + directiveEmpty + ` "<reason>")`})
	case empty != nil && len(s.Statements) > 0:
		errs = append(errs, &Error{Pos: empty.Pos, Err: ErrDirective, Detail: "waymark:empty, but the script has statements: remove the directive"})
	}
	errs = append(errs, checkBatches(s)...)
	// A misspelt or misplaced directive is most likely a no-transaction
	// directive gone wrong: say that, not what follows from it.
	directiveTrouble := len(errs) > 0
	errs = append(errs, checkTransactionControl(s, directiveTrouble)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// position makes the Position of pos in the file at path.
func position(path string, pos sqlsplit.Pos, statement int) Position {
	return Position{Path: path, Line: pos.Line, Column: pos.Column, Offset: pos.Offset, Statement: statement}
}

// checkTransactionControl refuses, in a transactional script, transaction
// control, which would end waymark's transaction early, and statements that
// cannot run in a transaction block, which the server would refuse half-way
// through a run; and, in a no-transaction script, a transaction left open,
// which would swallow the history writes that follow it.
func checkTransactionControl(s *Script, directiveTrouble bool) ErrorList {
	var errs ErrorList
	var open *Statement // the statement that opened a transaction
	for i := range s.Statements {
		st := &s.Statements[i]
		if !mayControl(st.SQL) {
			continue
		}
		if what, ok := sqlstmt.NoTransaction(st.SQL); ok && !s.NoTransaction && !directiveTrouble {
			errs = append(errs, &Error{Pos: st.Pos, Err: ErrNeedsNoTransaction,
				Detail: what + " cannot run inside a transaction block; put -- " + directiveNoTransaction + " at the top of the script (and keep the script to statements that can be re-run)"})
		}
		kw, ok := transactionControl(st.SQL)
		switch {
		case !ok:
		case !s.NoTransaction:
			errs = append(errs, &Error{Pos: st.Pos, Err: ErrTransactionControl,
				Detail: kw + " would end waymark's transaction early; remove it, or run the script with -- " + directiveNoTransaction})
		case kw == "BEGIN" || kw == "START TRANSACTION":
			open = st
		default:
			open = nil
		}
	}
	if open != nil {
		errs = append(errs, &Error{Pos: open.Pos, Err: ErrOpenTransaction,
			Detail: "this transaction is never committed; end it with COMMIT, because waymark records the step after the script's last statement, outside any transaction"})
	}
	return errs
}

// controlWords are the first words of every statement that
// checkTransactionControl looks at more closely.
var controlWords = []string{"begin", "commit", "end", "abort", "start", "prepare", "rollback",
	"create", "drop", "reindex", "vacuum", "alter", "discard", "cluster"}

// mayControl reports whether a statement's first word is one of
// controlWords; most statements (INSERT, UPDATE, SELECT, COMMENT ...) need
// no closer look.
func mayControl(stmt string) bool {
	sc := sqlsplit.NewScanner(stmt)
	t, _ := sc.Next()
	for _, w := range controlWords {
		if t.Is(w) {
			return true
		}
	}
	return false
}

// lineComments yields the "--" comments of trivia (text outside
// statements: whitespace and comments) that begin their line.
func lineComments(trivia string) func(yield func(sqlsplit.Token) bool) {
	return func(yield func(sqlsplit.Token) bool) {
		sc := sqlsplit.NewScanner(trivia)
		sc.Comments = true
		for {
			t, ok := sc.Next()
			if !ok {
				return
			}
			if t.Kind != sqlsplit.Comment || !strings.HasPrefix(t.Text, "--") {
				continue
			}
			lineStart := strings.LastIndexByte(trivia[:t.Offset], '\n') + 1
			if strings.TrimSpace(trivia[lineStart:t.Offset]) == "" && !yield(t) {
				return
			}
		}
	}
}

// transactionControl reports whether a statement starts or ends a
// transaction, and if so its key words.
func transactionControl(stmt string) (string, bool) {
	sc := sqlsplit.NewScanner(stmt)
	w0, _ := sc.Next()
	w1, _ := sc.Next()
	switch {
	case w0.Is("begin"), w0.Is("commit"), w0.Is("end"), w0.Is("abort"):
		return strings.ToUpper(w0.Text), true
	case w0.Is("start") && w1.Is("transaction"):
		return "START TRANSACTION", true
	case w0.Is("prepare") && w1.Is("transaction"):
		return "PREPARE TRANSACTION", true
	case w0.Is("rollback"):
		if w1.Is("work") || w1.Is("transaction") {
			w1, _ = sc.Next()
		}
		// ROLLBACK TO SAVEPOINT stays inside the transaction.
		return "ROLLBACK", !w1.Is("to")
	}
	return "", false
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
