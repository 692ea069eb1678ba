package hazard_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/hazard"
)

// effectsSetup has foreign keys, a partitioned table with a DEFAULT
// partition, views over views and indexes on the columns the cases
// change.
const effectsSetup = `CREATE TABLE users (id int PRIMARY KEY, email text, created timestamp);
CREATE INDEX users_created_idx ON users (created);
CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users (id), status text);
CREATE INDEX orders_user_id_idx ON orders (user_id);
CREATE TABLE items (id int PRIMARY KEY, order_id int REFERENCES orders);
CREATE VIEW user_ids AS SELECT id FROM users;
CREATE VIEW user_ids_2 AS SELECT u.id FROM user_ids u JOIN orders o ON o.user_id = u.id;
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_other PARTITION OF events DEFAULT;
CREATE TABLE events_2026 (id bigint NOT NULL, at date NOT NULL);
`

// TestEffects checks the relations each statement is expected to lock,
// rewrite and scan: every one of them, not only the table it names.
func TestEffectsOnEveryRelation(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{"type of a foreign key column locks the referenced table", "ALTER TABLE orders ALTER COLUMN user_id TYPE bigint;",
			[]string{"AccessExclusiveLock on orders", "AccessExclusiveLock on users", "rewrites orders", "scans orders"}},
		{"type of a referenced column locks and reads the referencing tables", "ALTER TABLE users ALTER COLUMN id TYPE bigint;",
			[]string{"AccessExclusiveLock on users", "AccessExclusiveLock on orders", "scans orders", "rewrites users", "scans users"}},
		{"truncate cascade empties the referencing tables", "TRUNCATE users CASCADE;",
			[]string{"AccessExclusiveLock on users", "rewrites users", "AccessExclusiveLock on items", "rewrites items", "AccessExclusiveLock on orders", "rewrites orders"}},
		{"truncate without cascade", "TRUNCATE items;", []string{"AccessExclusiveLock on items", "rewrites items"}},
		{"attach beside a default partition", "ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');",
			[]string{"ShareUpdateExclusiveLock on events", "AccessExclusiveLock on events_2026", "scans events_2026", "AccessExclusiveLock on events_other", "scans events_other"}},
		{"index on a partitioned table names each partition", "CREATE INDEX events_id_idx ON events (id);",
			[]string{"ShareLock on events", "ShareLock on events_2024", "scans events_2024", "ShareLock on events_2025", "scans events_2025", "ShareLock on events_other", "scans events_other"}},
		{"reindex table rebuilds the indexes, not the table", "REINDEX TABLE orders;",
			[]string{"AccessExclusiveLock on orders", "rewrites orders_pkey", "rewrites orders_user_id_idx", "scans orders"}},
		{"timestamptz under UTC rebuilds the column's index", "SET LOCAL TimeZone = 'UTC';\nALTER TABLE users ALTER COLUMN created TYPE timestamptz;",
			[]string{"AccessExclusiveLock on users", "rewrites users_created_idx", "scans users"}},
		{"drop table cascade locks the views it drops", "DROP TABLE users CASCADE;",
			[]string{"AccessExclusiveLock on users", "AccessExclusiveLock on orders", "AccessExclusiveLock on user_ids", "AccessExclusiveLock on user_ids_2"}},
		{"drop column of a foreign key locks the referenced table", "ALTER TABLE orders DROP COLUMN user_id;",
			[]string{"AccessExclusiveLock on orders", "AccessExclusiveLock on users"}},
		{"create index if not exists of an existing index builds nothing", "CREATE INDEX IF NOT EXISTS orders_user_id_idx ON orders (user_id);",
			[]string{"ShareLock on orders"}},
		{"create table if not exists of an existing table leaves it old", "CREATE TABLE IF NOT EXISTS items (id int);\nCREATE INDEX items_order_idx ON items (order_id);",
			[]string{"ShareLock on items", "scans items"}},
		{"a DO block's EXECUTE", "DO $$ BEGIN EXECUTE 'ALTER TABLE orders ADD COLUMN legacy_id int'; END $$;",
			[]string{"AccessExclusiveLock on orders"}},
		{"a DO block's statements", "DO $do$\nDECLARE n int;\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'items_order_idx') THEN\n    CREATE INDEX items_order_idx ON items (order_id);\n  END IF;\nEND\n$do$;",
			[]string{"ShareLock on items", "scans items"}},
		{"a DO block that builds its SQL", "DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN x int', 'orders'); END $$;", nil},
		{"a temporary table is nobody else's", "CREATE TEMP TABLE items_new (id int);\nCREATE INDEX ON items_new (id);", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ruleSet(t, ruleCase{setup: effectsSetup, sql: tt.sql})
			sts := r.Scripts[1].Statements
			var got []string
			for _, e := range sts[len(sts)-1].Effects {
				got = append(got, e.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("effects of %s (-want +got):\n%s", tt.sql, diff)
			}
		})
	}
}

// TestSeverityFollowsTheDefinition checks that a brief ACCESS EXCLUSIVE
// that reads nothing is a warning, and reading a table under it an error;
// and that the UTC advice for timestamptz says the index rebuild stays.
func TestSeverityFollowsTheDefinition(t *testing.T) {
	tests := []struct {
		sql, rule string
		severity  hazard.Severity
		safer     string
	}{
		{"DROP INDEX orders_user_id_idx;", hazard.RuleDropIndex, hazard.SeverityWarning, ""},
		{"ALTER TABLE events DETACH PARTITION events_2025;", hazard.RuleDetachPartition, hazard.SeverityWarning, ""},
		{"ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');", hazard.RuleAttachPartition, hazard.SeverityError, "CHECK"},
		{"ALTER TABLE users ALTER COLUMN created TYPE timestamptz;", hazard.RuleAlterType, hazard.SeverityError, "still builds the indexes on the column again"},
		{"SET LOCAL TimeZone = 'UTC';\nALTER TABLE users ALTER COLUMN created TYPE timestamptz;", hazard.RuleAlterType, hazard.SeverityError, "CREATE INDEX CONCURRENTLY"},
	}
	for _, tt := range tests {
		r := ruleSet(t, ruleCase{setup: effectsSetup, sql: "SET LOCAL lock_timeout = '5s';\n" + tt.sql})
		var got *hazard.Finding
		for _, f := range r.Findings() {
			if f.Rule == tt.rule && f.Pos.Path == "m/v2_case.up.sql" {
				got = f
			}
		}
		if got == nil {
			t.Errorf("%s: no %s finding:\n%s", tt.sql, tt.rule, r)
			continue
		}
		if got.Severity != tt.severity || !strings.Contains(got.Safer, tt.safer) {
			t.Errorf("%s: %s %s, safer %q; want %s and %q", tt.sql, got.Rule, got.Severity, got.Safer, tt.severity, tt.safer)
		}
	}
}
