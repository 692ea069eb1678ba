package sqlsplit

import (
	"errors"
	"strconv"
	"strings"
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

	// Start is where SQL starts in the script. When SQL is empty it is the
	// end of the leading whitespace and comments: the lone semicolon, or
	// the end of the piece.
	Start Pos
}

// ErrUnterminated is the error that every [*Error] wraps: the script has a
// string, quoted identifier or comment that is never closed. Use
// [errors.Is] to test for it.
var ErrUnterminated = errors.New("unterminated string, quoted identifier or comment")

// Error describes a script that [Split] cannot split. It wraps
// [ErrUnterminated].
type Error struct {
	// Pos is where the unterminated construct opens: its quote, its $tag$,
	// its /*, or the E of an escape string. For a literal made of several
	// strings (see the package doc) it is the start of the literal.
	Pos Pos

	// Msg describes the problem, such as "unterminated quoted string".
	Msg string
}

// Error returns "line:col: msg". Callers that know the file name prefix it
// with "name:".
func (e *Error) Error() string {
	return strconv.Itoa(e.Pos.Line) + ":" + strconv.Itoa(e.Pos.Column) + ": " + e.Msg
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
		pos:      tracker{src: src, at: Pos{Line: 1, Column: 1}},
		sqlStart: -1,
	}
	sc := Scanner{src: src}
	for {
		tok, ok := sc.Next()
		if !ok {
			break
		}
		s.token(tok)
	}
	if sc.err != nil {
		return nil, sc.err
	}
	s.finish()
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
	pos tracker

	// The current piece.
	pieceStart int  // offset of its Text
	sqlStart   int  // offset of its first token, or -1 before it
	lastEnd    int  // end of its last token so far
	parens     int  // parenthesis depth, never negative
	blocks     int  // depth of BEGIN ... END blocks in a routine body
	head       head // what its first words say about it
}

// token takes the next token of the script, emitting a piece at each
// semicolon that ends a statement.
func (s *splitter) token(t Token) {
	if s.sqlStart < 0 {
		s.sqlStart = t.Offset
	}
	s.lastEnd = t.End()
	switch {
	case t.Kind == Word:
		s.word(t.Text)
	case t.Kind != Op:
	case t.Text == ";":
		if s.parens == 0 && s.blocks == 0 {
			s.emit(t.End())
		}
	case t.Text == "(":
		s.parens++
	case t.Text == ")":
		if s.parens > 0 {
			s.parens--
		}
	}
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
	}
	if s.sqlStart < end-1 { // not a lone semicolon
		st.SQL = s.src[s.sqlStart:end]
	}
	st.Start = s.pos.advance(s.sqlStart)
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
	}
	start := len(s.src)
	if s.sqlStart >= 0 {
		start = s.sqlStart
		st.SQL = s.src[s.sqlStart:s.lastEnd]
	}
	st.Start = s.pos.advance(start)
	s.out = append(s.out, st)
}
