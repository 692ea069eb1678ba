package source

import "strconv"

// Position is a place in a migration file. It is the one way waymark
// locates anything in a script: a problem found when loading a set, a
// statement of a script, and the failure of a statement on the server
// (see backend.ScriptError and execute.StepError).
type Position struct {
	// Path names the file, as the set names it (see [Script.Path]). It is
	// empty for a place in SQL text that is not (yet) tied to a file.
	Path string
	// Line and Column are 1-based; the column counts characters, not
	// bytes, as PostgreSQL does in its error positions. Line is 0 when the
	// position is the file as a whole, or a place that is not known.
	Line, Column int
	// Offset is the byte offset from the start of the file. It is
	// meaningful only when Line is not 0.
	Offset int
	// Statement is the 1-based number of the statement the place is in,
	// counting the script's statements ([Script.Statements]), or 0 when it
	// is not in a statement or not known.
	Statement int
}

// IsValid reports whether the position is a place inside the file (Line
// is not 0), rather than the file as a whole.
func (p Position) IsValid() bool { return p.Line > 0 }

// String returns "path:line:col", or "path" when the position is the file
// as a whole. Without a path it returns "line:col", or "-" when nothing is
// known.
func (p Position) String() string {
	s := p.Path
	if p.IsValid() {
		if s != "" {
			s += ":"
		}
		s += strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Column)
	}
	if s == "" {
		s = "-"
	}
	return s
}
