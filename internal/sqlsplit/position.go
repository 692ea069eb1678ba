package sqlsplit

import (
	"strings"
	"unicode/utf8"
)

// Position returns the 1-based line and column of byte offset off in src.
// Lines end at '\n'. The column counts characters (runes), not bytes: a tab
// is one character, and so is each byte that is not part of valid UTF-8.
// off may equal len(src), the position just past the last character; an
// offset outside [0, len(src)] is clamped to that range.
func Position(src string, off int) (line, col int) {
	off = max(0, min(off, len(src)))
	before := src[:off]
	lineStart := strings.LastIndexByte(before, '\n') + 1
	line = 1 + strings.Count(before, "\n")
	col = 1 + utf8.RuneCountInString(before[lineStart:])
	return line, col
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

// posTracker computes the positions of increasing offsets in one pass.
type posTracker struct {
	src       string
	off       int // offset of the last position computed
	line, col int // its position
}

// advance returns the position of off, which must not be less than the
// offset of the previous call. Like Position it counts runes, assuming no
// character straddles the previous offset, which holds for the token starts
// that Split asks about.
func (p *posTracker) advance(off int) (line, col int) {
	seg := p.src[p.off:off]
	if k := strings.LastIndexByte(seg, '\n'); k >= 0 {
		p.line += strings.Count(seg, "\n")
		p.col = 1 + utf8.RuneCountInString(seg[k+1:])
	} else {
		p.col += utf8.RuneCountInString(seg)
	}
	p.off = off
	return p.line, p.col
}
