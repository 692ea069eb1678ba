package pgxbackend

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waymarkdb/waymark/backend"
)

// DefaultTable is the history table's name when Options.Table is empty.
const DefaultTable = "waymark_history"

// LeaseTable is the name of the table that holds leases (see [LockLease]),
// in the history table's schema.
const LeaseTable = "waymark_lease"

// DefaultLeaseTTL is how long a lease lasts without renewal when
// Options.LeaseTTL is zero.
const DefaultLeaseTTL = 30 * time.Second

// maxAppKey is the longest AppKey, in bytes. The key is part of the
// history table's primary key and of every record.
const maxAppKey = 256

// LockMode chooses how the migration lock is held (see the package doc).
type LockMode int8

const (
	// LockAuto takes a session-level advisory lock on a direct connection,
	// and a lease when a connection pooler (such as PgBouncer) sits between
	// waymark and PostgreSQL. It finds out once per Backend, with one query.
	LockAuto LockMode = iota
	// LockAdvisory always takes a session-level advisory lock. Behind a
	// transaction-mode pooler, the steps' fences refuse to run
	// (backend.ErrLockLost).
	LockAdvisory
	// LockLease always takes a lease: a row in the lease table with a
	// holder and an expiry, renewed while the run lasts, which works
	// through transaction-mode poolers.
	LockLease
)

// String returns "auto", "advisory" or "lease".
func (m LockMode) String() string {
	switch m {
	case LockAuto:
		return "auto"
	case LockAdvisory:
		return "advisory"
	case LockLease:
		return "lease"
	}
	return fmt.Sprintf("LockMode(%d)", int8(m))
}

// Options configure a Backend. A nil *Options means the defaults.
type Options struct {
	// Schema holds the history table (and the lease table). If it does
	// not exist, it is created under the lock, before the first step's
	// SQL runs (see "Schemas" in the package doc). Default "": the first
	// schema of SearchPath when that is set; otherwise the table is looked
	// up through the search_path, and created in the current schema (the
	// first existing schema of the search_path).
	Schema string
	// Table is the history table's name. Default [DefaultTable].
	Table string
	// AppKey tells apart independent migration sets that share one database
	// (and one history table): each key has its own history and its own
	// lock. At most 256 bytes. Default "".
	AppKey string
	// Lock chooses how the migration lock is held. Default [LockAuto].
	Lock LockMode
	// LeaseTTL is how long a lease lasts without being renewed: after a
	// holder dies, others wait this long before they take over. It is
	// renewed every third of it while a run lasts, and by every step.
	// Between 1s and 1h. Default [DefaultLeaseTTL].
	LeaseTTL time.Duration
	// SearchPath, if set, is the search_path every step's SQL runs with,
	// set after the session reset of each step (see "Search path" in the
	// package doc): a schema per tenant runs the same set with its own
	// schema first. Each name is quoted as an identifier. Its first
	// schema, where every step's unqualified objects are created, is
	// created if it does not exist, like Schema. Default nil: the
	// connection's own search_path.
	SearchPath []string
}

// OptionError reports an invalid option. It unwraps to
// backend.ErrBadOptions.
type OptionError struct {
	// Option names the field, such as "Options.Table".
	Option string
	// Value is the value given, shortened for the message.
	Value string
	// Reason says what is wrong with it.
	Reason string
}

// Error formats the problem as "pgxbackend: Options.X "value": reason".
func (e *OptionError) Error() string {
	return fmt.Sprintf("pgxbackend: %s %q: %s", e.Option, e.Value, e.Reason)
}

// Unwrap returns backend.ErrBadOptions.
func (e *OptionError) Unwrap() error { return backend.ErrBadOptions }

// check validates the options, defaults filled in.
func (o *Options) check() error {
	if err := checkName("Options.Table", o.Table); err != nil {
		return err
	}
	if err := o.checkSearchPath(); err != nil {
		return err
	}
	if o.Schema != "" {
		if err := checkName("Options.Schema", o.Schema); err != nil {
			return err
		}
	}
	switch {
	case len(o.AppKey) > maxAppKey:
		return &OptionError{"Options.AppKey", short(o.AppKey), fmt.Sprintf("is %d bytes long; at most %d", len(o.AppKey), maxAppKey)}
	case strings.IndexByte(o.AppKey, 0) >= 0:
		return &OptionError{"Options.AppKey", short(o.AppKey), "contains a NUL byte"}
	case !utf8.ValidString(o.AppKey):
		return &OptionError{"Options.AppKey", short(o.AppKey), "is not valid UTF-8"}
	case strings.HasSuffix(o.AppKey, RepeatableKeySuffix):
		return &OptionError{"Options.AppKey", short(o.AppKey), fmt.Sprintf("ends in %q, which marks the rows of repeatable scripts", RepeatableKeySuffix)}
	case o.Lock < LockAuto || o.Lock > LockLease:
		return &OptionError{"Options.Lock", o.Lock.String(), "want LockAuto, LockAdvisory or LockLease"}
	case o.LeaseTTL < time.Second || o.LeaseTTL > time.Hour:
		return &OptionError{"Options.LeaseTTL", o.LeaseTTL.String(), "want between 1s and 1h"}
	}
	return nil
}

// checkName rejects names PostgreSQL would not keep as given.
func checkName(option, name string) error {
	switch {
	case name == "":
		return &OptionError{option, name, "is empty"}
	case strings.IndexByte(name, 0) >= 0:
		return &OptionError{option, short(name), "contains a NUL byte"}
	case !utf8.ValidString(name):
		return &OptionError{option, short(name), "is not valid UTF-8"}
	case len(name) > 63:
		return &OptionError{option, short(name), fmt.Sprintf("is %d bytes long; PostgreSQL keeps names of at most 63 bytes", len(name))}
	}
	return nil
}

// short shortens a value for a message.
func short(s string) string {
	if len(s) <= 40 {
		return s
	}
	n := 40
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
