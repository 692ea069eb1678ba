package sqlsplit

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Statement is one piece of a script: a statement together with the
// whitespace and comments before it.
type Statement struct {
	// Text is the exact slice of the script that the piece covers: the
	// whitespace and comments before the statement, the statement, and the
	// semicolon that ends it. Concatenating the Text of all pieces gives back
	// the script byte for byte.
	Text string

	// Offset is the byte offset of Text in the script.
	Offset int

	// SQL is the statement itself, from its first token through the
	// semicolon that ends it, or through its last token if the script ends
	// without one. Comments between its tokens are part of SQL; whitespace
	// and comments before or after it are not. SQL is empty when the piece
	// holds only whitespace, comments and perhaps a lone semicolon: an empty
	// statement, which PostgreSQL skips.
	SQL string

	// Start is the byte offset of SQL in the script. When SQL is empty it is
	// the end of the leading whitespace and comments: the offset of the lone
	// semicolon, or the end of the piece.
	Start int

	// Line and Column are the position of Start, as computed by [Position].
	Line, Column int
}

// ErrUnterminated is the error that every [*Error] wraps: the script has a
// string, quoted identifier or comment that is never closed. Use
// [errors.Is] to test for it.
var ErrUnterminated = errors.New("unterminated string, quoted identifier or comment")

// Error describes a script that [Split] cannot split. It wraps
// [ErrUnterminated].
type Error struct {
	// Offset is the byte offset of the unterminated construct's opening
	// delimiter: its quote, its $tag$, its /*, or the E of an escape string.
	// For a literal made of several strings (see the package doc) it is the
	// start of the literal.
	Offset int

	// Line and Column are the position of Offset, as computed by [Position].
	Line, Column int

	// Msg describes the problem, such as "unterminated quoted string".
	Msg string
}

// Error returns "line:col: msg". Callers that know the file name prefix it
// with "name:".
func (e *Error) Error() string {
	return strconv.Itoa(e.Line) + ":" + strconv.Itoa(e.Column) + ": " + e.Msg
}

// Unwrap returns [ErrUnterminated].
func (e *Error) Unwrap() error { return ErrUnterminated }

// Split splits src into pieces, one per statement, as described in the
// package documentation. On success the pieces cover src completely and in
// order; whitespace and comments after the last statement form a final
// piece whose SQL is empty. Empty input yields no pieces. The strings in the
// result share memory with src.
//
// If src has an unterminated string, quoted identifier or comment, Split
// returns a nil slice and an [*Error].
func Split(src string) ([]Statement, error) {
	if src == "" {
		return nil, nil
	}
	s := splitter{
		src: src,
		// At most one piece per semicolon, plus a final one.
		out:      make([]Statement, 0, strings.Count(src, ";")+1),
		pos:      posTracker{src: src, line: 1, col: 1},
		sqlStart: -1,
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s.out, nil
}

// head tracks the first words of a statement, far enough to tell whether it
// creates a function or procedure.
type head uint8

const (
	headNone            head = iota // no word yet
	headCreate                      // CREATE
	headCreateOr                    // CREATE OR
	headCreateOrReplace             // CREATE OR REPLACE
	headRoutine                     // CREATE [OR REPLACE] FUNCTION|PROCEDURE
	headOther                       // any other statement
)

// splitter holds the state of one call to Split.
type splitter struct {
	src string
	out []Statement
	pos posTracker

	// The current piece.
	pieceStart int  // offset of its Text
	sqlStart   int  // offset of its first token, or -1 before it
	lastEnd    int  // end of its last token so far
	parens     int  // parenthesis depth, never negative
	blocks     int  // depth of BEGIN ... END blocks in a routine body
	head       head // what its first words say about it
}

// run scans the script once, emitting a piece at each semicolon that ends a
// statement.
func (s *splitter) run() error {
	src := s.src
	i := 0
	for i < len(src) {
		c := src[i]
		if isSpace(c) {
			i++
			continue
		}
		var next byte
		if i+1 < len(src) {
			next = src[i+1]
		}
		if c == '-' && next == '-' {
			i = skipLineComment(src, i+2)
			continue
		}
		if c == '/' && next == '*' {
			end, ok := skipBlockComment(src, i+2)
			if !ok {
				return s.fail(i, "unterminated /* comment")
			}
			i = end
			continue
		}

		// A token starts at i.
		if s.sqlStart < 0 {
			s.sqlStart = i
		}
		start := i
		ok := true
		switch {
		case isIdentStart(c):
			if c|0x20 == 'e' && next == '\'' {
				if i, ok = skipString(src, i+2, true); !ok {
					return s.fail(start, "unterminated escape string")
				}
				break
			}
			i = skipIdent(src, i+1)
			s.word(src[start:i])
		case c == ';':
			i++
			if s.parens == 0 && s.blocks == 0 {
				s.emit(i)
				continue
			}
		case c == '(':
			s.parens++
			i++
		case c == ')':
			if s.parens > 0 {
				s.parens--
			}
			i++
		case c == '\'':
			if i, ok = skipString(src, i+1, false); !ok {
				return s.fail(start, "unterminated quoted string")
			}
		case c == '"':
			if i, ok = skipQuotedIdent(src, i+1); !ok {
				return s.fail(start, "unterminated quoted identifier")
			}
		case c == '$' && isDigit(next):
			i = skipParam(src, i)
		case c == '$':
			delim := dollarDelim(src, i)
			if delim == "" {
				// A lone '$'; what follows starts a new token.
				i++
				break
			}
			k := strings.Index(src[i+len(delim):], delim)
			if k < 0 {
				return s.fail(start, "unterminated dollar-quoted string "+abbrev(delim))
			}
			i += len(delim) + k + len(delim)
		case isDigit(c), c == '.' && isDigit(next):
			i = skipNumber(src, i)
		case c == '.' && next == '.':
			i += 2
		default:
			i++
		}
		s.lastEnd = i
	}
	s.finish()
	return nil
}

// word notes the unquoted identifier w, which the statement has at the
// current parenthesis depth.
func (s *splitter) word(w string) {
	switch s.head {
	case headNone:
		s.head = headOther
		if keyword(w, "create") {
			s.head = headCreate
		}
	case headCreate:
		switch {
		case keyword(w, "function"), keyword(w, "procedure"):
			s.head = headRoutine
		case keyword(w, "or"):
			s.head = headCreateOr
		default:
			s.head = headOther
		}
	case headCreateOr:
		s.head = headOther
		if keyword(w, "replace") {
			s.head = headCreateOrReplace
		}
	case headCreateOrReplace:
		s.head = headOther
		if keyword(w, "function") || keyword(w, "procedure") {
			s.head = headRoutine
		}
	case headRoutine:
		if s.parens > 0 {
			return
		}
		switch {
		case keyword(w, "begin"):
			s.blocks++
		case keyword(w, "case"):
			// CASE ... END matters only where END could close a block.
			if s.blocks > 0 {
				s.blocks++
			}
		case keyword(w, "end"):
			if s.blocks > 0 {
				s.blocks--
			}
		}
	}
}

// emit ends the current piece at end, just past the semicolon that ends
// its statement.
func (s *splitter) emit(end int) {
	st := Statement{
		Text:   s.src[s.pieceStart:end],
		Offset: s.pieceStart,
		Start:  s.sqlStart,
	}
	if s.sqlStart < end-1 { // not a lone semicolon
		st.SQL = s.src[s.sqlStart:end]
	}
	st.Line, st.Column = s.pos.advance(st.Start)
	s.out = append(s.out, st)

	s.pieceStart = end
	s.sqlStart = -1
	s.head = headNone
	// parens and blocks are zero here.
}

// finish emits whatever follows the last semicolon that ended a statement.
func (s *splitter) finish() {
	if s.pieceStart == len(s.src) {
		return
	}
	st := Statement{
		Text:   s.src[s.pieceStart:],
		Offset: s.pieceStart,
		Start:  len(s.src),
	}
	if s.sqlStart >= 0 {
		st.Start = s.sqlStart
		st.SQL = s.src[s.sqlStart:s.lastEnd]
	}
	st.Line, st.Column = s.pos.advance(st.Start)
	s.out = append(s.out, st)
}

// fail returns the error for an unterminated construct opening at off.
func (s *splitter) fail(off int, msg string) error {
	line, col := Position(s.src, off)
	return &Error{Offset: off, Line: line, Column: col, Msg: msg}
}

// abbrev shortens a long dollar-quote delimiter for an error message,
// cutting it at a character boundary.
func abbrev(delim string) string {
	const limit = 40
	if len(delim) <= limit {
		return delim
	}
	n := limit
	for n > limit-utf8.UTFMax+1 && !utf8.RuneStart(delim[n]) {
		n--
	}
	return delim[:n] + "..."
}
