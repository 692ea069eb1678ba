package source

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Direction says which way a script moves the schema.
type Direction int8

// The two directions. The zero Direction means "neither": a no-op plan, or
// a clean history record.
const (
	Up   Direction = 1
	Down Direction = 2
)

// String returns "up", "down" or "none".
func (d Direction) String() string {
	switch d {
	case Up:
		return "up"
	case Down:
		return "down"
	case 0:
		return "none"
	}
	return fmt.Sprintf("Direction(%d)", int8(d))
}

// MarshalText encodes d as its String.
func (d Direction) MarshalText() ([]byte, error) {
	if d != 0 && d != Up && d != Down {
		return nil, fmt.Errorf("source: invalid direction %d", int8(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes "up", "down" or "none".
func (d *Direction) UnmarshalText(b []byte) error {
	switch string(b) {
	case "up":
		*d = Up
	case "down":
		*d = Down
	case "none", "":
		*d = 0
	default:
		return fmt.Errorf("source: invalid direction %q", b)
	}
	return nil
}

// Checksum is the SHA-256 of a script file's bytes.
type Checksum [sha256.Size]byte

// ChecksumOf returns the checksum of a script's text.
func ChecksumOf(sql string) Checksum { return sha256.Sum256([]byte(sql)) }

// ParseChecksum decodes the 64-digit hex form that [Checksum.String] returns.
func ParseChecksum(s string) (Checksum, error) {
	var c Checksum
	if len(s) != hex.EncodedLen(len(c)) {
		return c, fmt.Errorf("source: checksum %q: want %d hex digits", s, hex.EncodedLen(len(c)))
	}
	if _, err := hex.Decode(c[:], []byte(s)); err != nil {
		return c, fmt.Errorf("source: checksum %q: %w", s, err)
	}
	return c, nil
}

// String returns the checksum as 64 lower-case hex digits.
func (c Checksum) String() string { return hex.EncodeToString(c[:]) }

// Short returns the first 8 hex digits, enough to tell scripts apart in a
// dry run.
func (c Checksum) Short() string { return hex.EncodeToString(c[:4]) }

// IsZero reports whether c is the zero value (no checksum).
func (c Checksum) IsZero() bool { return c == Checksum{} }

// MarshalText encodes c as hex.
func (c Checksum) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText decodes the hex form.
func (c *Checksum) UnmarshalText(b []byte) error {
	v, err := ParseChecksum(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Migration is one version of the schema: its up script and, unless the
// version is irreversible, its down script.
type Migration struct {
	Version int64
	// Name is the words after the version in the file name
	// ("create_users" for v001_create_users.up.sql), or "".
	Name string
	Up   *Script
	// Down is nil when the version has no down file (irreversible).
	Down *Script
}

// Script is one migration file. A Script belongs to its [Set] and must not
// be modified.
type Script struct {
	// Path names the file: the directory given to FromFS (or FromDir)
	// joined with the file name, e.g. "migrations/v001_init.up.sql".
	Path      string
	Direction Direction
	// SQL is the file's text, exactly as read.
	SQL      string
	Checksum Checksum
	// NoTransaction is set by the -- waymark:no-transaction directive.
	NoTransaction bool
	// Directives lists the script's directives in order.
	Directives []Directive
	// Allows lists the hazards the script's author accepted with
	// -- waymark:allow, in order.
	Allows []Allow
	// Batches lists the statements marked -- waymark:batch, in order.
	Batches []Batch
	// Statements lists the statements of SQL in order, without the empty
	// ones (whitespace, comments, lone semicolons). A no-transaction script
	// is run one statement at a time, in this order.
	Statements []Statement
}

// Statement is one statement of a script.
type Statement struct {
	// SQL is the statement from its first token through its terminating
	// semicolon (if any), as written; comments inside it are kept.
	SQL string
	// Pos is where SQL starts in the file; Pos.Statement is the
	// statement's 1-based number in the script.
	Pos Position
}
