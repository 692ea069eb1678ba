package hazard

import "fmt"

// LockMode is one of PostgreSQL's eight table-level lock modes, in the
// server's order from weakest to strongest. The zero LockMode means "no
// lock".
type LockMode int8

// The lock modes, named as pg_locks.mode names them without the "Lock"
// suffix.
const (
	AccessShare          LockMode = iota + 1 // SELECT
	RowShare                                 // SELECT FOR UPDATE, the referenced table of a foreign key check
	RowExclusive                             // INSERT, UPDATE, DELETE
	ShareUpdateExclusive                     // VACUUM, CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT
	Share                                    // CREATE INDEX: blocks writes
	ShareRowExclusive                        // CREATE TRIGGER, ADD FOREIGN KEY: blocks writes
	Exclusive                                // REFRESH MATERIALIZED VIEW CONCURRENTLY: blocks writes
	AccessExclusive                          // most ALTER TABLE forms, DROP: blocks reads and writes
)

var lockNames = [...]string{
	AccessShare:          "AccessShareLock",
	RowShare:             "RowShareLock",
	RowExclusive:         "RowExclusiveLock",
	ShareUpdateExclusive: "ShareUpdateExclusiveLock",
	Share:                "ShareLock",
	ShareRowExclusive:    "ShareRowExclusiveLock",
	Exclusive:            "ExclusiveLock",
	AccessExclusive:      "AccessExclusiveLock",
}

// conflicts[m] is the set of modes m conflicts with, one bit per mode
// (PostgreSQL's conflict table, "Conflicting Lock Modes").
var conflicts = [...]uint16{
	AccessShare:          bits(AccessExclusive),
	RowShare:             bits(Exclusive, AccessExclusive),
	RowExclusive:         bits(Share, ShareRowExclusive, Exclusive, AccessExclusive),
	ShareUpdateExclusive: bits(ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
	Share:                bits(RowExclusive, ShareUpdateExclusive, ShareRowExclusive, Exclusive, AccessExclusive),
	ShareRowExclusive:    bits(RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
	Exclusive:            bits(RowShare, RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
	AccessExclusive:      bits(AccessShare, RowShare, RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
}

func bits(modes ...LockMode) uint16 {
	var b uint16
	for _, m := range modes {
		b |= 1 << m
	}
	return b
}

// Valid reports whether m is one of the eight modes.
func (m LockMode) Valid() bool { return AccessShare <= m && m <= AccessExclusive }

// String returns the mode as pg_locks spells it, such as
// "AccessExclusiveLock".
func (m LockMode) String() string {
	if !m.Valid() {
		return fmt.Sprintf("LockMode(%d)", int8(m))
	}
	return lockNames[m]
}

// SQL returns the mode as SQL writes it, such as "ACCESS EXCLUSIVE".
func (m LockMode) SQL() string {
	switch m {
	case AccessShare:
		return "ACCESS SHARE"
	case RowShare:
		return "ROW SHARE"
	case RowExclusive:
		return "ROW EXCLUSIVE"
	case ShareUpdateExclusive:
		return "SHARE UPDATE EXCLUSIVE"
	case Share:
		return "SHARE"
	case ShareRowExclusive:
		return "SHARE ROW EXCLUSIVE"
	case Exclusive:
		return "EXCLUSIVE"
	case AccessExclusive:
		return "ACCESS EXCLUSIVE"
	}
	return m.String()
}

// ParseLockMode reads a mode as pg_locks spells it ("ShareLock").
func ParseLockMode(s string) (LockMode, error) {
	for m := AccessShare; m <= AccessExclusive; m++ {
		if lockNames[m] == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("hazard: unknown lock mode %q", s)
}

// MarshalText encodes m as its String.
func (m LockMode) MarshalText() ([]byte, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("hazard: invalid lock mode %d", int8(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText decodes the form MarshalText writes.
func (m *LockMode) UnmarshalText(b []byte) error {
	v, err := ParseLockMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Conflicts reports whether a lock in mode m and a lock in mode o on the
// same relation cannot be held at once by different transactions.
func (m LockMode) Conflicts(o LockMode) bool {
	return m.Valid() && o.Valid() && conflicts[m]&(1<<o) != 0
}

// Covers reports whether m blocks everything o blocks: every mode that
// conflicts with o also conflicts with m. ShareUpdateExclusive and Share
// do not cover each other.
func (m LockMode) Covers(o LockMode) bool {
	if !m.Valid() || !o.Valid() {
		return !o.Valid()
	}
	return conflicts[o]&^conflicts[m] == 0
}

// BlocksWrites reports whether m conflicts with the lock that INSERT,
// UPDATE and DELETE take: while it is held or awaited, writers wait.
func (m LockMode) BlocksWrites() bool { return m.Conflicts(RowExclusive) }

// BlocksReads reports whether m conflicts with the lock that SELECT takes:
// only AccessExclusive does.
func (m LockMode) BlocksReads() bool { return m.Conflicts(AccessShare) }
