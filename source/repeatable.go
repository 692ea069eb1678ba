package source

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
)

// Repeatable is a repeatable script: one file per view, function,
// procedure or trigger, edited in place. It is applied after the versioned
// migrations whenever its checksum differs from the one the database
// recorded (see package plan).
type Repeatable struct {
	// Name is the words after "r_" in the file name ("active_users" for
	// r_active_users.sql); it identifies the script in the history.
	Name string
	// Script is the file; its Direction is Up.
	Script *Script
}

// isRepeatableName reports whether a directory entry names a repeatable
// script: it starts with "r_" (or is meant to, "R__" from another tool).
func isRepeatableName(name string) bool {
	return strings.HasPrefix(name, "r_") || strings.HasPrefix(name, "R_")
}

// parseRepeatableName parses a repeatable script's file name,
//
//	repeatable = "r_" words ".sql"
//
// and returns its name. On failure it returns an [*Error] without its
// position.
func parseRepeatableName(name string) (string, *Error) {
	const want = `want r_<name>.sql for a repeatable script`
	if strings.HasPrefix(name, "R_") {
		return "", &Error{Err: ErrBadName, Detail: want + ` (lower-case "r_")`}
	}
	words, ok := strings.CutSuffix(strings.TrimPrefix(name, "r_"), ".sql")
	switch {
	case !ok:
		return "", &Error{Err: ErrBadName, Detail: want + ` (lower-case ".sql")`}
	case words == "":
		return "", &Error{Err: ErrBadName, Detail: want + ` (a name after "r_")`}
	case !all(words, isWordChar):
		return "", &Error{Err: ErrBadName, Detail: want + ` (the name may use only A-Z a-z 0-9 _ -)`}
	}
	return words, nil
}

// Repeatables returns the set's repeatable scripts in name order (byte
// order), the order an up plan applies them in. The slice is the caller's.
func (s *Set) Repeatables() []*Repeatable { return slices.Clone(s.repeatables) }

// LookupRepeatable returns the repeatable script named name.
func (s *Set) LookupRepeatable(name string) (*Repeatable, bool) {
	i, ok := slices.BinarySearchFunc(s.repeatables, name, func(r *Repeatable, n string) int { return strings.Compare(r.Name, n) })
	if !ok {
		return nil, false
	}
	return s.repeatables[i], true
}

// RepeatablesDigest returns the digest of the set's repeatable scripts
// (see [DigestRepeatables]): what a database that applied exactly these,
// unchanged, has recorded. The set computes it once, on first use.
func (s *Set) RepeatablesDigest() Digest {
	s.repDigestOnce.Do(func() {
		sums := make([]NamedChecksum, len(s.repeatables))
		for i, r := range s.repeatables {
			sums[i] = NamedChecksum{Name: r.Name, Checksum: r.Script.Checksum}
		}
		s.repDigest = DigestRepeatables(sums)
	})
	return s.repDigest
}

// NamedChecksum is a repeatable script's name and checksum.
type NamedChecksum struct {
	Name     string
	Checksum Checksum
}

// DigestRepeatables sums up repeatable scripts, in any order: the zero
// Digest for none, else SHA-256 of, for each in byte order of names, the
// name's length as 4 bytes big-endian, the name and the checksum. The
// PostgreSQL backend computes the same with sha256(string_agg(int4send(
// octet_length(name)) || convert_to(name, 'UTF8') || checksum ORDER BY name
// COLLATE "C")).
func DigestRepeatables(sums []NamedChecksum) Digest {
	if len(sums) == 0 {
		return Digest{}
	}
	sorted := slices.Clone(sums)
	slices.SortFunc(sorted, func(a, b NamedChecksum) int { return cmp.Compare(a.Name, b.Name) })
	h := sha256.New()
	for _, s := range sorted {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s.Name)))
		h.Write(n[:])
		h.Write([]byte(s.Name))
		h.Write(s.Checksum[:])
	}
	var d Digest
	h.Sum(d[:0])
	return d
}

// WithoutRepeatables returns a set of the same versions without the
// repeatable scripts, sharing s's migrations.
func (s *Set) WithoutRepeatables() *Set {
	return &Set{migrations: s.migrations}
}
