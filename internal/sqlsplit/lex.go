package sqlsplit

import (
	"strings"
	"unicode/utf8"
)

// Character classes of single bytes. Bytes 0x80-0xff are letters: they
// belong to multibyte characters, which PostgreSQL accepts in identifiers.
const (
	clSpace  = 1 << iota // space, \t, \n, \r, \f, \v
	clLetter             // A-Z, a-z, _ and 0x80-0xff: may start an identifier
	clDigit              // 0-9
	clDollar             // $: may continue an identifier
)

var class = func() (t [256]uint8) {
	for _, c := range []byte(" \t\n\r\f\v") {
		t[c] = clSpace
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clLetter
		t[c-'a'+'A'] = clLetter
	}
	t['_'] = clLetter
	for c := 0x80; c <= 0xff; c++ {
		t[c] = clLetter
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = clDigit
	}
	t['$'] = clDollar
	return t
}()

func isSpace(c byte) bool      { return class[c]&clSpace != 0 }
func isDigit(c byte) bool      { return class[c]&clDigit != 0 }
func isIdentStart(c byte) bool { return class[c]&clLetter != 0 }

// isIdentCont reports whether c may continue an identifier.
func isIdentCont(c byte) bool { return class[c]&(clLetter|clDigit|clDollar) != 0 }

// isTagCont reports whether c may continue a dollar-quote tag, which unlike an
// identifier cannot contain '$'.
func isTagCont(c byte) bool { return class[c]&(clLetter|clDigit) != 0 }

// The scanning functions below take the input and the offset just past what
// the caller has already recognized, and return the offset just past the
// construct. Those that can fail report false when the input ends first.

// skipIdent skips the rest of an identifier.
func skipIdent(src string, i int) int {
	for i < len(src) && isIdentCont(src[i]) {
		i++
	}
	return i
}

// skipLineComment skips the rest of a -- comment, stopping at (not past) the
// \n or \r that ends it.
func skipLineComment(src string, i int) int {
	for i < len(src) && src[i] != '\n' && src[i] != '\r' {
		i++
	}
	return i
}

// skipBlockComment skips the rest of a /* comment, whose opening /* the
// caller has consumed. Block comments nest.
func skipBlockComment(src string, i int) (int, bool) {
	depth := 1
	for i+1 < len(src) {
		switch {
		case src[i] == '*' && src[i+1] == '/':
			i += 2
			depth--
			if depth == 0 {
				return i, true
			}
		case src[i] == '/' && src[i+1] == '*':
			i += 2
			depth++
		default:
			i++
		}
	}
	return len(src), false
}

// skipString skips the rest of a single-quoted string literal whose opening
// quote the caller has consumed. Two adjacent quotes stand for one. If esc
// is set (an E'...' string) a backslash escapes the byte after it. As in
// PostgreSQL, a literal continues after its closing quote when only
// whitespace containing a newline separates it from another quote; the
// continuation keeps the literal's kind.
func skipString(src string, i int, esc bool) (int, bool) {
	stops := "'"
	if esc {
		stops = `'\`
	}
	for {
		k := strings.IndexAny(src[i:], stops)
		if k < 0 {
			return len(src), false
		}
		i += k + 1
		if src[i-1] == '\\' {
			if i == len(src) {
				return len(src), false
			}
			i++
			continue
		}
		if i < len(src) && src[i] == '\'' {
			i++
			continue
		}
		if j, ok := continuation(src, i); ok {
			i = j + 1
			continue
		}
		return i, true
	}
}

// continuation reports whether the quote that closed a string literal just
// before offset i is followed by whitespace containing a newline and then
// another quote, which PostgreSQL treats as a continuation of the same
// literal. The whitespace may include -- comments. It returns the offset of
// the continuing quote.
func continuation(src string, i int) (int, bool) {
	n := len(src)
	// Spaces and comments on the rest of the line.
	for i < n {
		if c := src[i]; c == ' ' || c == '\t' || c == '\f' || c == '\v' {
			i++
		} else if c == '-' && i+1 < n && src[i+1] == '-' {
			i = skipLineComment(src, i+2)
		} else {
			break
		}
	}
	if i == n || (src[i] != '\n' && src[i] != '\r') {
		return 0, false
	}
	i++
	// Any whitespace, and comments that end with a newline.
	for i < n {
		if isSpace(src[i]) {
			i++
		} else if src[i] == '-' && i+1 < n && src[i+1] == '-' {
			i = skipLineComment(src, i+2)
			if i == n {
				return 0, false
			}
			i++
		} else {
			break
		}
	}
	return i, i < n && src[i] == '\''
}

// skipQuotedIdent skips the rest of a "quoted identifier" whose opening
// double quote the caller has consumed. Two adjacent double quotes stand for
// one.
func skipQuotedIdent(src string, i int) (int, bool) {
	for {
		k := strings.IndexByte(src[i:], '"')
		if k < 0 {
			return len(src), false
		}
		i += k + 1
		if i < len(src) && src[i] == '"' {
			i++
			continue
		}
		return i, true
	}
}

// dollarDelim returns the opening delimiter of a dollar-quoted string ($$ or
// $tag$) that starts at the '$' at src[i], or "" if none starts there.
func dollarDelim(src string, i int) string {
	j := i + 1
	if j < len(src) && isIdentStart(src[j]) {
		j++
		for j < len(src) && isTagCont(src[j]) {
			j++
		}
	}
	if j < len(src) && src[j] == '$' {
		return src[i : j+1]
	}
	return ""
}

// skipDigits skips an unsigned decimal integer starting at src[i], which
// must be a digit. Single underscores may separate digits (PostgreSQL 16).
func skipDigits(src string, i int) int {
	i++
	for i < len(src) {
		if isDigit(src[i]) {
			i++
		} else if src[i] == '_' && i+1 < len(src) && isDigit(src[i+1]) {
			i += 2
		} else {
			break
		}
	}
	return i
}

// skipNumber skips a numeric constant starting at src[i], which is a digit
// or a '.' followed by a digit. Letters that follow a number directly belong
// to it, as PostgreSQL's "trailing junk" rules say (1e'x' is the junk number
// 1e followed by a plain string; 0x1F is one token), while "1..2" is 1, ".."
// and 2. The exact extent matters because a token boundary decides whether
// the next E' or $ opens a string.
func skipNumber(src string, i int) int {
	n := len(src)
	if src[i] == '.' {
		i = skipDigits(src, i+1)
	} else {
		i = skipDigits(src, i)
		if i < n && src[i] == '.' {
			if i+1 < n && src[i+1] == '.' {
				return i
			}
			i++
			if i < n && isDigit(src[i]) {
				i = skipDigits(src, i)
			}
		}
	}
	// A signed exponent; an unsigned one is covered by the junk rule.
	if i+2 < n && src[i]|0x20 == 'e' && (src[i+1] == '+' || src[i+1] == '-') && isDigit(src[i+2]) {
		i = skipDigits(src, i+2)
	}
	if i < n && isIdentStart(src[i]) {
		i = skipIdent(src, i+1)
	}
	return i
}

// skipParam skips a positional parameter ($1) whose '$' is at src[i] and is
// followed by a digit, including any letters directly after it.
func skipParam(src string, i int) int {
	i++
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	if i < len(src) && isIdentStart(src[i]) {
		i = skipIdent(src, i+1)
	}
	return i
}

// keyword reports whether the identifier w is the keyword kw, which must be
// lower case. Like PostgreSQL, it folds ASCII letters only.
func keyword(w, kw string) bool {
	if len(w) != len(kw) {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != kw[i] {
			return false
		}
	}
	return true
}

// Kind is the kind of a [Token].
type Kind uint8

// The kinds of token. A B, X, N or U& prefix of a string is a Word of its
// own, followed by the String.
const (
	Word        Kind = iota + 1 // an unquoted identifier or key word: CREATE, users, e
	QuotedIdent                 // "Users", with its quotes
	String                      // 'text', E'text' or $tag$text$tag$, continuations included
	Number                      // 42, 1.5e3, 0x1F, with any letters that follow
	Param                       // $1
	Op                          // any other byte: ; ( ) , = and so on; ".." is one token
	Comment                     // -- text or /* text */, only from a Scanner with Comments set
)

// Token is one token of a script.
type Token struct {
	Kind Kind
	// Text is the token as written, quotes and delimiters included.
	Text string
	// Offset is the byte offset of Text in the script.
	Offset int
}

// End returns the byte offset just past the token.
func (t Token) End() int { return t.Offset + len(t.Text) }

// Is reports whether t is the unquoted word kw, which must be lower case.
// Like PostgreSQL it folds ASCII letters only: Is("create") is true for
// CREATE and Create.
func (t Token) Is(kw string) bool { return t.Kind == Word && keyword(t.Text, kw) }

// Ident returns the identifier t stands for, as PostgreSQL reads it: a Word
// folded to lower case (ASCII letters only, like Is), or a QuotedIdent
// without its quotes and with each doubled quote made one. For any other
// kind of token it returns false.
func (t Token) Ident() (string, bool) {
	switch t.Kind {
	case Word:
		return lower(t.Text), true
	case QuotedIdent:
		if len(t.Text) < 2 {
			return "", false
		}
		return strings.ReplaceAll(t.Text[1:len(t.Text)-1], `""`, `"`), true
	}
	return "", false
}

// lower folds the ASCII letters of w to lower case.
func lower(w string) string {
	for i := 0; i < len(w); i++ {
		if 'A' <= w[i] && w[i] <= 'Z' {
			b := []byte(w)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return w
}

// Scanner reads the tokens of a script in order, by the rules in the
// package doc. The zero Scanner reads an empty script; use [NewScanner].
// A Scanner is a small value: keep it in a variable, and it costs no
// allocation.
type Scanner struct {
	src string
	off int
	err *Error
	// Comments makes Next return comments as tokens of kind Comment
	// instead of skipping them.
	Comments bool
}

// NewScanner returns a Scanner positioned at the start of src.
func NewScanner(src string) Scanner { return Scanner{src: src} }

// Err returns the error that stopped the scanner, an [*Error] wrapping
// [ErrUnterminated], or nil if it reached the end of the script.
func (s *Scanner) Err() error {
	if s.err == nil {
		return nil
	}
	return s.err
}

// Next returns the next token. It returns false at the end of the script,
// and at an unterminated string, quoted identifier or comment, which Err
// then reports.
func (s *Scanner) Next() (Token, bool) {
	src, i := s.src, s.off
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
		start := i
		kind := Op
		switch {
		case c == '-' && next == '-':
			i = skipLineComment(src, i+2)
			if !s.Comments {
				continue
			}
			kind = Comment
		case c == '/' && next == '*':
			end, ok := skipBlockComment(src, i+2)
			if !ok {
				return s.fail(start, "unterminated /* comment")
			}
			i = end
			if !s.Comments {
				continue
			}
			kind = Comment
		case isIdentStart(c):
			if c|0x20 == 'e' && next == '\'' {
				end, ok := skipString(src, i+2, true)
				if !ok {
					return s.fail(start, "unterminated escape string")
				}
				i, kind = end, String
				break
			}
			i, kind = skipIdent(src, i+1), Word
		case c == '\'':
			end, ok := skipString(src, i+1, false)
			if !ok {
				return s.fail(start, "unterminated quoted string")
			}
			i, kind = end, String
		case c == '"':
			end, ok := skipQuotedIdent(src, i+1)
			if !ok {
				return s.fail(start, "unterminated quoted identifier")
			}
			i, kind = end, QuotedIdent
		case c == '$' && isDigit(next):
			i, kind = skipParam(src, i), Param
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
			i, kind = i+len(delim)+k+len(delim), String
		case isDigit(c), c == '.' && isDigit(next):
			i, kind = skipNumber(src, i), Number
		case c == '.' && next == '.':
			i += 2
		default:
			i++
		}
		s.off = i
		return Token{Kind: kind, Text: src[start:i], Offset: start}, true
	}
	s.off = len(src)
	return Token{}, false
}

// fail stops the scanner at an unterminated construct opening at off.
func (s *Scanner) fail(off int, msg string) (Token, bool) {
	s.err = &Error{Pos: Locate(s.src, off), Msg: msg}
	s.off = len(s.src)
	return Token{}, false
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
