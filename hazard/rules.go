package hazard

import (
	"fmt"
	"slices"
	"strings"
)

// Severity says how bad a hazard is.
type Severity int8

// The severities. Every finding fails [Report.Err] until it is fixed or
// accepted; the severity only says which kind of trouble it is.
const (
	// SeverityWarning: the statement may break the running release (a rename, a
	// drop) or may wait unboundedly (no lock timeout); whether it hurts
	// depends on facts outside the migration.
	SeverityWarning Severity = iota + 1
	// SeverityError: the statement blocks reads or writes of an existing table for
	// as long as it reads or rewrites the whole table.
	SeverityError
)

// String returns "warning" or "error".
func (s Severity) String() string {
	switch s {
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	}
	return fmt.Sprintf("Severity(%d)", int8(s))
}

// MarshalText encodes s as its String.
func (s Severity) MarshalText() ([]byte, error) {
	if s != SeverityWarning && s != SeverityError {
		return nil, fmt.Errorf("hazard: invalid severity %d", int8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes the form MarshalText writes.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "warning":
		*s = SeverityWarning
	case "error":
		*s = SeverityError
	default:
		return fmt.Errorf("hazard: unknown severity %q", b)
	}
	return nil
}

// Rule is one kind of hazard. Its ID is what a finding reports and what
// "-- waymark:allow <rule> "<reason>"" names.
type Rule struct {
	// ID is the rule's name: lower-case words joined by dashes.
	ID       string
	Severity Severity
	// Summary says in a line what the rule catches and why it hurts.
	Summary string
	// Safer is the pattern to use instead, in general terms; a finding
	// words it for its statement.
	Safer string
	// Measured rules are reported by a measurement (package
	// hazard/measure and hazard/review), never by [Check]: they name what
	// the server was seen doing that no static rule predicted.
	Measured bool
}

// The rule IDs.
const (
	RuleCreateIndex        = "create-index-not-concurrently"
	RuleDropIndex          = "drop-index-not-concurrently"
	RuleReindex            = "reindex-not-concurrently"
	RuleVolatileDefault    = "add-column-volatile-default"
	RuleAlterType          = "alter-column-type"
	RuleSetNotNull         = "set-not-null"
	RuleNotValid           = "constraint-missing-not-valid"
	RuleAddKey             = "add-key-not-using-index"
	RuleRenameColumn       = "rename-column"
	RuleRenameTable        = "rename-table"
	RuleDropColumn         = "drop-column"
	RuleDropTable          = "drop-table"
	RuleVacuumFull         = "vacuum-full"
	RuleCluster            = "cluster"
	RuleRewrite            = "table-rewrite"
	RuleDetachPartition    = "detach-partition-not-concurrently"
	RulePartitionOf        = "create-table-partition-of"
	RuleLockTimeout        = "missing-lock-timeout"
	RuleBatchUnbounded     = "batch-unbounded"
	RuleBatchEndless       = "batch-endless"
	RuleAttachPartition    = "attach-partition-scan"
	RuleNotAvailable       = "not-available"
	RuleUsesRepeatable     = "versioned-uses-repeatable"
	RuleMeasuredLock       = "measured-lock"
	RuleMeasuredRewrite    = "measured-rewrite"
	RuleMeasuredInvalidIdx = "measured-invalid-index"
)

var rules = []Rule{
	{ID: RuleCreateIndex, Severity: SeverityError,
		Summary: "CREATE INDEX without CONCURRENTLY on an existing table blocks writes to it (SHARE lock) while the whole index builds",
		Safer:   "CREATE INDEX CONCURRENTLY, alone in a script marked -- waymark:no-transaction; if it fails, drop the INVALID index it leaves and run it again"},
	{ID: RuleDropIndex, Severity: SeverityWarning,
		Summary: "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the index's table: brief, as it reads nothing, but queued behind a long transaction it stops every query on the table",
		Safer:   "DROP INDEX CONCURRENTLY, alone in a script marked -- waymark:no-transaction"},
	{ID: RuleReindex, Severity: SeverityError,
		Summary: "REINDEX without CONCURRENTLY blocks writes to the table, and reads that use the index, while it rebuilds",
		Safer:   "REINDEX ... CONCURRENTLY, alone in a script marked -- waymark:no-transaction"},
	{ID: RuleVolatileDefault, Severity: SeverityError,
		Summary: "ADD COLUMN with a volatile default (random(), clock_timestamp(), gen_random_uuid(), nextval(): serial and identity columns too) rewrites the table under ACCESS EXCLUSIVE",
		Safer:   "add the column without a default, ALTER COLUMN ... SET DEFAULT for new rows, and backfill the existing rows in batches"},
	{ID: RuleAlterType, Severity: SeverityError,
		Summary: "ALTER COLUMN ... TYPE rewrites the table and its indexes under ACCESS EXCLUSIVE, unless the old type converts without one (varchar(n) to a longer varchar or to text, numeric(p,s) to a larger precision)",
		Safer:   "add a column of the new type, fill it in batches (and from a trigger), switch readers over, then drop the old column in a later release"},
	{ID: RuleSetNotNull, Severity: SeverityError,
		Summary: "SET NOT NULL reads the whole table under ACCESS EXCLUSIVE, unless a validated CHECK (col IS NOT NULL) already proves it",
		Safer:   "ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT in a later step; then SET NOT NULL, which skips the scan; then drop the CHECK"},
	{ID: RuleNotValid, Severity: SeverityError,
		Summary: "ADD CONSTRAINT ... FOREIGN KEY or CHECK without NOT VALID checks every row while holding a lock that blocks writes (for a foreign key, on both tables)",
		Safer:   "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later step: it checks the rows under SHARE UPDATE EXCLUSIVE, which lets reads and writes through"},
	{ID: RuleAddKey, Severity: SeverityError,
		Summary: "ADD PRIMARY KEY or UNIQUE builds its index under ACCESS EXCLUSIVE",
		Safer:   "CREATE UNIQUE INDEX CONCURRENTLY in a no-transaction step, then ADD CONSTRAINT ... PRIMARY KEY (or UNIQUE) USING INDEX"},
	{ID: RuleRenameColumn, Severity: SeverityWarning,
		Summary: "renaming a column breaks the release that is still running, which uses the old name",
		Safer:   "add a column with the new name, write both, backfill, move readers over, and drop the old column in a later release"},
	{ID: RuleRenameTable, Severity: SeverityWarning,
		Summary: "renaming a table, or moving it to another schema, breaks the release that is still running",
		Safer:   "rename in two releases: first make the application use the new name through a view of the old one (or the other way round), then drop the view"},
	{ID: RuleDropColumn, Severity: SeverityWarning,
		Summary: "dropping a column breaks the release that is still running if it reads or writes the column",
		Safer:   "stop using the column in one release, drop it in the next"},
	{ID: RuleDropTable, Severity: SeverityWarning,
		Summary: "dropping a table breaks the release that is still running if it uses the table",
		Safer:   "stop using the table in one release, drop it in the next"},
	{ID: RuleVacuumFull, Severity: SeverityError,
		Summary: "VACUUM FULL rewrites the table under ACCESS EXCLUSIVE",
		Safer:   "plain VACUUM, which runs alongside reads and writes; to give space back online, an extension such as pg_repack"},
	{ID: RuleCluster, Severity: SeverityError,
		Summary: "CLUSTER rewrites the table and its indexes under ACCESS EXCLUSIVE",
		Safer:   "leave the order to the application, or rebuild online with an extension such as pg_repack"},
	{ID: RuleRewrite, Severity: SeverityError,
		Summary: "the statement rewrites the table under ACCESS EXCLUSIVE (a STORED generated column, SET LOGGED or UNLOGGED, SET ACCESS METHOD, SET TABLESPACE, REFRESH MATERIALIZED VIEW without CONCURRENTLY)",
		Safer:   "build the new form beside the old one and switch over, or run it in a maintenance window"},
	{ID: RuleDetachPartition, Severity: SeverityWarning,
		Summary: "DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the partitioned table: brief, as it reads nothing, but queued behind a long transaction it stops every query on every partition",
		Safer:   "DETACH PARTITION ... CONCURRENTLY, alone in a script marked -- waymark:no-transaction (not possible while a default partition exists)"},
	{ID: RulePartitionOf, Severity: SeverityWarning,
		Summary: "CREATE TABLE ... PARTITION OF takes ACCESS EXCLUSIVE on the partitioned table",
		Safer:   "CREATE TABLE ... (LIKE parent INCLUDING ALL), add a validated CHECK matching the bounds, then ATTACH PARTITION, which takes only SHARE UPDATE EXCLUSIVE on the parent"},
	{ID: RuleAttachPartition, Severity: SeverityError,
		Summary: "ATTACH PARTITION reads every row of the attached table (and of the parent's DEFAULT partition) under ACCESS EXCLUSIVE unless a validated CHECK matching the bounds proves them",
		Safer:   "before attaching, ADD CONSTRAINT ... CHECK (<the partition's bounds, key NOT NULL included>) NOT VALID and VALIDATE CONSTRAINT, which reads under SHARE UPDATE EXCLUSIVE; ATTACH PARTITION then skips the scan; drop the CHECK afterwards"},
	{ID: RuleNotAvailable, Severity: SeverityError,
		Summary: "the server refuses the statement: its syntax is not available on the target PostgreSQL version, or the server never accepts that form (CREATE INDEX CONCURRENTLY on a partitioned table)",
		Safer:   "use a form the target version accepts, or raise the target version (-server-version) if the scripts only ever run on a newer server"},
	{ID: RuleLockTimeout, Severity: SeverityWarning,
		Summary: "a statement takes ACCESS EXCLUSIVE on an existing table in a step without lock_timeout: queued behind a long transaction, it makes every query on the table queue behind it",
		Safer:   "SET LOCAL lock_timeout = '5s' at the top of the script (or have the runner set one), and run the migration again when it times out"},
	{ID: RuleBatchUnbounded, Severity: SeverityError,
		Summary: "a waymark:batch statement without a LIMIT touches every row it matches in its first run, in one transaction: the long lock and bloat that batches avoid",
		Safer:   "bound each run in the statement: UPDATE t SET ... WHERE id IN (SELECT id FROM t WHERE <not done> ORDER BY id LIMIT 10000)"},
	{ID: RuleBatchEndless, Severity: SeverityError,
		Summary: "a waymark:batch statement whose WHERE does not change as it runs finds rows every time and never reports 0 rows, so the step never ends",
		Safer:   "select only the rows not yet done, with a predicate on what the statement changes: WHERE new_col IS NULL (UPDATE), WHERE NOT EXISTS (SELECT FROM target ...) (INSERT)"},
	{ID: RuleUsesRepeatable, Severity: SeverityWarning,
		Summary: "a versioned migration uses a view, function, procedure or trigger that a repeatable script creates: the repeatable scripts run after every version, so the result depends on when the database was migrated",
		Safer:   "make the versioned migration self-contained: create what it needs itself (a function of its own, or the query inline), and leave the repeatable script to define the object for the application"},
	{ID: RuleMeasuredLock, Severity: SeverityError, Measured: true,
		Summary: "the measurement saw a lock that blocks writes (or reads) of an existing table, and no rule predicted it",
		Safer:   "read what the statement does on the documentation's lock table, and use a form that takes a weaker lock"},
	{ID: RuleMeasuredRewrite, Severity: SeverityError, Measured: true,
		Summary: "the measurement saw an existing table or index rewritten, and no rule predicted it",
		Safer:   "find a form of the change that keeps the table's files, or run it in a maintenance window"},
	{ID: RuleMeasuredInvalidIdx, Severity: SeverityError, Measured: true,
		Summary: "the statement left an INVALID index behind, which costs writes and serves no reads",
		Safer:   "drop the invalid index and build it again (CONCURRENTLY)"},
}

// Rules returns every rule, static ones first, each group sorted by ID.
func Rules() []Rule {
	out := slices.Clone(rules)
	slices.SortStableFunc(out, func(a, b Rule) int {
		if a.Measured != b.Measured {
			if a.Measured {
				return 1
			}
			return -1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// LookupRule returns the rule with the given ID.
func LookupRule(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// ruleIDs lists the rule IDs for messages.
func ruleIDs() string {
	ids := make([]string, 0, len(rules))
	for _, r := range Rules() {
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, ", ")
}

func mustRule(id string) Rule {
	r, ok := LookupRule(id)
	if !ok {
		panic("hazard: no rule " + id)
	}
	return r
}
