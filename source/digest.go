package source

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Digest sums up a history: the versions a database has applied and the
// checksums of their up scripts, in version order. Comparing one digest
// tells whether a database holds exactly the first versions of a set, with
// no file changed since, without reading the whole history.
//
// The digest of no versions is the zero Digest; the digest after version v
// with checksum c is SHA-256(previous digest || v as 8 bytes big-endian ||
// c), the same computation the PostgreSQL backend makes with
// sha256(prev || int8send(v) || checksum).
type Digest [sha256.Size]byte

// Chain returns the digest of a history whose digest before version v was
// prev, after v with checksum c.
func Chain(prev Digest, v int64, c Checksum) Digest {
	var buf [sha256.Size + 8 + sha256.Size]byte
	copy(buf[:], prev[:])
	binary.BigEndian.PutUint64(buf[sha256.Size:], uint64(v))
	copy(buf[sha256.Size+8:], c[:])
	return sha256.Sum256(buf[:])
}

// String returns the digest as 64 lower-case hex digits.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is the digest of no versions.
func (d Digest) IsZero() bool { return d == Digest{} }

// ParseDigest decodes the 64-digit hex form that [Digest.String] returns.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != hex.EncodedLen(len(d)) {
		return d, fmt.Errorf("source: digest %q: want %d hex digits", s, hex.EncodedLen(len(d)))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("source: digest %q: %w", s, err)
	}
	return d, nil
}

// Digest returns the digest of the set's versions up to and including v,
// as a database that applied exactly those would have it, and whether v is
// a version of the set (or 0, the empty history). The set computes its
// digests once, on first use.
func (s *Set) Digest(v int64) (Digest, bool) {
	if v == 0 {
		return Digest{}, true
	}
	s.digestOnce.Do(func() {
		s.digests = make([]Digest, len(s.migrations))
		var d Digest
		for i, m := range s.migrations {
			d = Chain(d, m.Version, m.Up.Checksum)
			s.digests[i] = d
		}
	})
	i, ok := s.index(v)
	if !ok {
		return Digest{}, false
	}
	return s.digests[i], true
}
