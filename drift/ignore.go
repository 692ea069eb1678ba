package drift

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// IgnoreFile is the name of the ignore file that the waymark command
// reads from the migrations' directory when there is one.
const IgnoreFile = "drift.ignore"

// Kinds are the kinds of object an ignore rule may name (besides "*", any
// kind), as written in an ignore file: a kind of several words is written
// with hyphens ("default-privileges").
var Kinds = []string{
	"schema", "extension", "type", "table", "partitioned table", "foreign table", "view",
	"materialized view", "column", "attribute", "constraint", "index", "trigger", "rule", "policy",
	"sequence", "function", "procedure", "aggregate", "window", "default privileges",
	// the kinds of schema.Object, as pg_identify_object names them
	"collation", "statistics object", "operator", "operator class", "operator family", "cast",
	"conversion", "text search parser", "text search dictionary", "text search template",
	"text search configuration", "foreign-data wrapper", "server", "event trigger", "publication",
	"transform", "language", "access method",
}

// IgnoreRule is one line of an ignore file: the differences of objects of
// Kind whose name matches Pattern are not reported.
type IgnoreRule struct {
	// Kind is one of Kinds, or "*".
	Kind string `json:"kind"`
	// Pattern matches the Name of a [Difference] as path.Match does: "*"
	// matches any run of characters (dots included), "?" one, "[a-z]" a
	// class.
	Pattern string `json:"pattern"`
	// Reason says why: required.
	Reason string `json:"reason"`
	// Line is the rule's line in its file (0 when made in code).
	Line int `json:"line,omitempty"`
}

// String returns "line 3: extension * (installed by the platform)".
func (r IgnoreRule) String() string {
	s := fmt.Sprintf("%s %s (%s)", strings.ReplaceAll(r.Kind, " ", "-"), r.Pattern, r.Reason)
	if r.Line > 0 {
		s = fmt.Sprintf("line %d: %s", r.Line, s)
	}
	return s
}

// matches reports whether the rule covers d.
func (r IgnoreRule) matches(d Difference) bool {
	if r.Kind != "*" && r.Kind != d.Kind {
		return false
	}
	ok, _ := path.Match(r.Pattern, d.Name)
	return ok
}

// IgnoreList is the differences not to report.
type IgnoreList struct {
	Rules []IgnoreRule
}

// ParseIgnore reads an ignore file: one rule a line,
//
//	KIND PATTERN REASON...
//
// where KIND is one of [Kinds] with hyphens for spaces, or "*"; PATTERN
// is a path.Match pattern for the object's name (see [Difference].Name),
// in double quotes when it holds spaces; and REASON, the rest of the
// line, is required. Blank lines and lines starting with # are skipped.
// Every bad line is reported, in an [*IgnoreError] naming file.
func ParseIgnore(file string, r io.Reader) (*IgnoreList, error) {
	l := &IgnoreList{}
	e := &IgnoreError{File: file}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kind, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		var pattern string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				e.Problems = append(e.Problems, fmt.Sprintf("%d: unterminated quoted pattern", n))
				continue
			}
			pattern, rest = rest[1:end+1], rest[end+2:]
		} else {
			pattern, rest, _ = strings.Cut(rest, " ")
		}
		reason := strings.TrimSpace(rest)
		kind = strings.ReplaceAll(kind, "-", " ")
		if kind == "foreign data wrapper" {
			kind = "foreign-data wrapper"
		}
		switch {
		case pattern == "":
			e.Problems = append(e.Problems, fmt.Sprintf("%d: want KIND PATTERN REASON, got %q", n, line))
		case kind != "*" && !slices.Contains(Kinds, kind):
			e.Problems = append(e.Problems, fmt.Sprintf("%d: unknown kind %q; want * or one of %s", n, kind, kindList()))
		case reason == "":
			e.Problems = append(e.Problems, fmt.Sprintf("%d: %s %s: no reason given; say why it is not drift", n, kind, pattern))
		default:
			if _, err := path.Match(pattern, ""); err != nil {
				e.Problems = append(e.Problems, fmt.Sprintf("%d: pattern %q: %v", n, pattern, err))
				continue
			}
			l.Rules = append(l.Rules, IgnoreRule{Kind: kind, Pattern: pattern, Reason: reason, Line: n})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("drift: %s: %w", file, err)
	}
	if len(e.Problems) > 0 {
		return nil, e
	}
	return l, nil
}

func kindList() string {
	ks := make([]string, len(Kinds))
	for i, k := range Kinds {
		ks[i] = strings.ReplaceAll(k, " ", "-")
	}
	return strings.Join(ks, ", ")
}

// LoadIgnore reads the ignore file IgnoreFile in directory dir of fsys;
// a missing file is an empty list.
func LoadIgnore(fsys fs.FS, dir string) (*IgnoreList, error) {
	name := path.Join(dir, IgnoreFile)
	f, err := fsys.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return &IgnoreList{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	defer f.Close()
	return ParseIgnore(name, f)
}

// ReadIgnoreFile reads the ignore file at path name (see [ParseIgnore]).
func ReadIgnoreFile(name string) (*IgnoreList, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	defer f.Close()
	return ParseIgnore(name, f)
}

// apply returns the differences no rule matches, how many were matched,
// and the rules that matched none.
func (l *IgnoreList) apply(diffs []Difference) (kept []Difference, ignored int, unused []IgnoreRule) {
	if l == nil {
		return diffs, 0, nil
	}
	used := make([]bool, len(l.Rules))
	for _, d := range diffs {
		hit := false
		for i, r := range l.Rules {
			if r.matches(d) {
				used[i], hit = true, true
			}
		}
		if hit {
			ignored++
		} else {
			kept = append(kept, d)
		}
	}
	for i, r := range l.Rules {
		if !used[i] {
			unused = append(unused, r)
		}
	}
	return kept, ignored, unused
}
