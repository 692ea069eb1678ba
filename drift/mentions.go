package drift

import (
	"strings"

	"github.com/waymarkdb/waymark/source"
)

// mentions finds the last version whose up script names an object.
type mentions struct {
	versions []int64
	sql      []string // lower-cased up scripts, in the order of versions
}

// newMentions indexes the up scripts of set up to version.
func newMentions(set *source.Set, version int64) *mentions {
	m := &mentions{}
	for _, mg := range set.Migrations() {
		if mg.Version > version {
			break
		}
		m.versions = append(m.versions, mg.Version)
		m.sql = append(m.sql, strings.ToLower(mg.Up.SQL))
	}
	return m
}

// last returns the last version naming d's object, else the table or type
// it belongs to; 0 when none does. Names are matched as whole words,
// without case.
func (m *mentions) last(d Difference) int64 {
	for _, word := range candidates(d) {
		if v := m.lastWord(word); v > 0 {
			return v
		}
	}
	return 0
}

// candidates returns the unqualified names to look for: the object's own,
// then its parent's.
func candidates(d Difference) []string {
	name := d.Name
	if i := strings.IndexByte(name, '('); i >= 0 { // a function's arguments
		name = name[:i]
	}
	if d.Kind == "default privileges" || strings.ContainsAny(name, " ") && !strings.Contains(name, ".") {
		return nil
	}
	parts := strings.Split(name, ".")
	var out []string
	for i := len(parts) - 1; i >= 0 && len(out) < 2; i-- {
		if i == 0 && len(parts) > 1 {
			break // the schema name says little
		}
		out = append(out, parts[i])
	}
	return out
}

func (m *mentions) lastWord(word string) int64 {
	word = strings.ToLower(strings.Trim(word, `"`))
	if word == "" {
		return 0
	}
	for i := len(m.sql) - 1; i >= 0; i-- {
		if containsWord(m.sql[i], word) {
			return m.versions[i]
		}
	}
	return 0
}

// containsWord reports whether s has word with no identifier character
// on either side.
func containsWord(s, word string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], word)
		if i < 0 {
			return false
		}
		i += off
		end := i + len(word)
		if (i == 0 || !identChar(s[i-1])) && (end == len(s) || !identChar(s[end])) {
			return true
		}
		off = i + 1
	}
}

func identChar(c byte) bool {
	return c == '_' || c == '$' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c >= 0x80
}
