package sqlsplit

import (
	"strings"
	"unicode/utf8"
)

// Pos is a place in a script.
type Pos struct {
	// Offset is the byte offset from the start of the script.
	Offset int
	// Line and Column are 1-based; Column counts characters (see the
	// package doc).
	Line, Column int
}

// Locate returns the position of byte offset off in src. Lines end at
// '\n'. The column counts characters (runes), not bytes: a tab is one
// character, and so is each byte that is not part of valid UTF-8. off may
// equal len(src), the position just past the last character; an offset
// outside [0, len(src)] is clamped to that range.
func Locate(src string, off int) Pos {
	off = max(0, min(off, len(src)))
	before := src[:off]
	lineStart := strings.LastIndexByte(before, '\n') + 1
	return Pos{
		Offset: off,
		Line:   1 + strings.Count(before, "\n"),
		Column: 1 + utf8.RuneCountInString(before[lineStart:]),
	}
}

// CharOffset returns the byte offset in s of its n-th character (rune),
// counting from 1; each byte that is not part of valid UTF-8 counts as one
// character. An n beyond the last character gives len(s), and an n below 1
// gives 0.
//
// PostgreSQL reports the position of an error in a statement as a 1-based
// character count; CharOffset turns it into a byte offset in the statement.
func CharOffset(s string, n int) int {
	if n <= 1 {
		return 0
	}
	count := 0
	for i := range s {
		count++
		if count == n {
			return i
		}
	}
	return len(s)
}

// tracker computes the positions of increasing offsets in one pass.
type tracker struct {
	src string
	at  Pos // the last position computed
}

// advance returns the position of off, which must not be less than the
// offset of the previous call. Like Locate it counts runes, assuming no
// character straddles the previous offset, which holds for the token starts
// that Split asks about.
func (p *tracker) advance(off int) Pos {
	seg := p.src[p.at.Offset:off]
	if k := strings.LastIndexByte(seg, '\n'); k >= 0 {
		p.at.Line += strings.Count(seg, "\n")
		p.at.Column = 1 + utf8.RuneCountInString(seg[k+1:])
	} else {
		p.at.Column += utf8.RuneCountInString(seg)
	}
	p.at.Offset = off
	return p.at
}
