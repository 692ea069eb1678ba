package source

import (
	"strconv"
	"strings"
)

// fileName is a parsed migration file name.
type fileName struct {
	version   int64
	name      string // the words after "_", or ""
	stem      string // everything before ".up.sql" / ".down.sql"
	direction Direction
}

// isSQLName reports whether a directory entry is a migration candidate:
// not hidden and ending in ".sql" in any case.
func isSQLName(name string) bool {
	return !strings.HasPrefix(name, ".") &&
		len(name) >= 4 && strings.EqualFold(name[len(name)-4:], ".sql")
}

// parseName parses a migration file name (see the package doc for the
// grammar). On failure it returns an [*Error] without its position.
func parseName(name string) (fileName, *Error) {
	const want = `want v<version>[_<name>].up.sql or .down.sql`
	var f fileName
	rest, ok := strings.CutSuffix(name, ".sql")
	if !ok {
		return f, &Error{Err: ErrBadName, Detail: want + ` (lower-case ".sql")`}
	}
	switch {
	case strings.HasSuffix(rest, ".up"):
		f.direction, f.stem = Up, rest[:len(rest)-len(".up")]
	case strings.HasSuffix(rest, ".down"):
		f.direction, f.stem = Down, rest[:len(rest)-len(".down")]
	default:
		return f, &Error{Err: ErrBadName, Detail: want + ` (lower-case ".up" or ".down" before ".sql")`}
	}
	if !strings.HasPrefix(f.stem, "v") {
		return f, &Error{Err: ErrBadName, Detail: want + ` (starting with lower-case "v")`}
	}
	digits, words, hasWords := strings.Cut(f.stem[1:], "_")
	if n := leadingDigits(digits); n == 0 {
		return f, &Error{Err: ErrBadName, Detail: want + ` (digits after "v")`}
	} else if n < len(digits) {
		// v6-bad, v6.1: the version is there, what follows it is not.
		return f, &Error{Err: ErrBadName, Detail: want + ` ("_" between the version and the name, not ` + strconv.Quote(digits[n:n+1]) + `)`}
	}
	if hasWords {
		if words == "" || !all(words, isWordChar) {
			return f, &Error{Err: ErrBadName, Detail: want + ` (the name may use only A-Z a-z 0-9 _ -)`}
		}
		f.name = words
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return f, &Error{Err: ErrBadVersion, Detail: "version " + digits + " does not fit in a signed 64-bit integer"}
	}
	if v == 0 {
		return f, &Error{Err: ErrBadVersion, Detail: "version 0 stands for the empty schema and cannot be a file"}
	}
	f.version = v
	return f, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isWordChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_' || c == '-'
}

// leadingDigits returns how many bytes at the start of s are digits.
func leadingDigits(s string) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

// all reports whether every byte of s satisfies ok.
func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}
