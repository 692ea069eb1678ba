package hazard_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/internal/testsets"
)

// setupTables is the schema most rule cases start from: a version 1 that
// creates it, so that version 2's statements find existing tables.
const setupTables = `CREATE TABLE users (id int PRIMARY KEY, email varchar(100), name text, created timestamp, ip cidr);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id int,
    status varchar(20),
    total numeric(10, 2),
    note text,
    code char(4),
    tags text[]
);
CREATE INDEX orders_status_idx ON orders (status);
CREATE UNIQUE INDEX orders_id_key ON orders (id);
CREATE TABLE events (id bigint NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE MATERIALIZED VIEW order_totals AS SELECT user_id, sum(total) FROM orders GROUP BY user_id;
`

// ruleCase is a version 2 script checked after setup (setupTables when
// empty) and the rules it must report, in order.
type ruleCase struct {
	// about names the rules the case is about: it must fire or must not.
	about string
	name  string
	setup string
	sql   string
	opts  *hazard.Options
	want  []string
	// repeatable, if set, is the set's repeatable script r_case.sql.
	repeatable string
}

// timeout starts a script with a lock timeout, so that cases about other
// rules do not also report missing-lock-timeout.
const timeout = "SET LOCAL lock_timeout = '5s';\n"

// noTx marks a script that runs outside a transaction.
const noTx = "-- waymark:no-transaction\n"

func v18() *hazard.Options { return &hazard.Options{ServerVersion: 180000} }

var ruleCases = []ruleCase{
	// Functions the scripts create have the volatility they declare.
	{about: "add-column-volatile-default", name: "default of a function created STABLE",
		setup: setupTables + "CREATE FUNCTION order_code() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'A' $$;",
		sql:   timeout + "ALTER TABLE orders ADD COLUMN code text DEFAULT order_code();"},
	{about: "add-column-volatile-default", name: "default of a function created without a volatility",
		setup: setupTables + "CREATE FUNCTION order_code() RETURNS text LANGUAGE sql AS $$ SELECT 'A' $$;",
		sql:   timeout + "ALTER TABLE orders ADD COLUMN code text DEFAULT order_code();", want: []string{"add-column-volatile-default"}},
	// attach-partition-scan
	{about: "attach-partition-scan", name: "attach an existing table", setup: setupTables + "CREATE TABLE events_2025 (id bigint NOT NULL, at timestamptz NOT NULL);",
		sql: timeout + "ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');", want: []string{"attach-partition-scan"}},
	{about: "attach-partition-scan", name: "attach a table with a validated check on the key",
		setup: setupTables + "CREATE TABLE events_2025 (id bigint NOT NULL, at timestamptz NOT NULL);\nALTER TABLE events_2025 ADD CONSTRAINT in_2025 CHECK (at >= '2025-01-01' AND at < '2026-01-01') NOT VALID;\nALTER TABLE events_2025 VALIDATE CONSTRAINT in_2025;",
		sql:   timeout + "ALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"},
	{about: "attach-partition-scan", name: "attach a table made in the same script",
		sql: timeout + "CREATE TABLE events_2025 (id bigint NOT NULL, at timestamptz NOT NULL);\nALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"},
	{about: "attach-partition-scan", name: "attach beside a default partition reads the default",
		setup: setupTables + "CREATE TABLE events_other PARTITION OF events DEFAULT;",
		sql:   timeout + "CREATE TABLE events_2025 (id bigint NOT NULL, at timestamptz NOT NULL);\nALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');", want: []string{"attach-partition-scan"}},
	// not-available
	{about: "not-available", name: "create index concurrently on a partitioned table", sql: noTx + "CREATE INDEX CONCURRENTLY events_id_idx ON events (id);", want: []string{"not-available"}},
	{about: "not-available", name: "create index concurrently on a partition", sql: noTx + "CREATE INDEX CONCURRENTLY events_2024_id_idx ON events_2024 (id);"},
	{about: "not-available", name: "not null not valid on 18", sql: timeout + "ALTER TABLE orders ADD CONSTRAINT user_nn NOT NULL user_id NOT VALID;", opts: v18()},
	// A table is new only if this plan made it; temporary tables are no
	// one else's.
	{about: "create-index-not-concurrently", name: "create table if not exists of an existing table",
		sql: timeout + "CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY);\nCREATE INDEX orders_user_idx ON orders (user_id);", want: []string{"create-index-not-concurrently"}},
	{about: "create-index-not-concurrently", name: "create index if not exists of an existing index",
		sql: timeout + "CREATE INDEX IF NOT EXISTS orders_status_idx ON orders (status);"},
	{about: "create-index-not-concurrently, drop-table", name: "temporary table",
		sql: "CREATE TEMP TABLE scratch (id int);\nCREATE INDEX ON scratch (id);\nDROP TABLE scratch;"},
	// create-index-not-concurrently
	{about: "create-index-not-concurrently", name: "create index on existing table", sql: timeout + "CREATE INDEX orders_user_idx ON orders (user_id);", want: []string{"create-index-not-concurrently"}},
	{about: "create-index-not-concurrently", name: "create unique index if not exists, qualified", sql: timeout + "CREATE UNIQUE INDEX IF NOT EXISTS u_email ON public.users USING btree (lower(email));", want: []string{"create-index-not-concurrently"}},
	{about: "create-index-not-concurrently", name: "create index on partitioned table", sql: timeout + "CREATE INDEX ON events (id);", want: []string{"create-index-not-concurrently"}},
	{about: "create-index-not-concurrently", name: "create index concurrently", sql: noTx + "CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);"},
	{about: "create-index-not-concurrently", name: "create index on a table the script creates", sql: "CREATE TABLE fresh (a int);\nCREATE INDEX ON fresh (a);"},
	{about: "create-index-not-concurrently", name: "create index on only a partitioned table builds nothing", sql: timeout + "CREATE INDEX events_id_idx ON ONLY events (id);"},

	// drop-index-not-concurrently
	{about: "drop-index-not-concurrently", name: "drop index", sql: timeout + "DROP INDEX orders_status_idx;", want: []string{"drop-index-not-concurrently"}},
	{about: "drop-index-not-concurrently", name: "drop index concurrently", sql: noTx + "DROP INDEX CONCURRENTLY IF EXISTS orders_status_idx;"},
	{about: "drop-index-not-concurrently", name: "drop an index the script creates", sql: "CREATE TABLE fresh (a int);\nCREATE INDEX fresh_a ON fresh (a);\nDROP INDEX fresh_a;"},

	// reindex-not-concurrently
	{about: "reindex-not-concurrently", name: "reindex index", sql: timeout + "REINDEX INDEX orders_status_idx;", want: []string{"reindex-not-concurrently"}},
	{about: "reindex-not-concurrently", name: "reindex table", sql: timeout + "REINDEX TABLE orders;", want: []string{"reindex-not-concurrently"}},
	{about: "reindex-not-concurrently", name: "reindex schema", sql: noTx + "SET lock_timeout = '5s';\nREINDEX SCHEMA public;", want: []string{"reindex-not-concurrently"}},
	{about: "reindex-not-concurrently", name: "reindex concurrently", sql: noTx + "REINDEX INDEX CONCURRENTLY orders_status_idx;"},
	{about: "reindex-not-concurrently", name: "reindex with the concurrently option", sql: noTx + "REINDEX (CONCURRENTLY, VERBOSE) TABLE orders;"},

	// add-column-volatile-default
	{about: "add-column-volatile-default", name: "default random()", sql: timeout + "ALTER TABLE orders ADD COLUMN r float8 DEFAULT random();", want: []string{"add-column-volatile-default"}},
	{about: "add-column-volatile-default", name: "default clock_timestamp()", sql: timeout + "ALTER TABLE orders ADD COLUMN seen timestamptz NOT NULL DEFAULT clock_timestamp();", want: []string{"add-column-volatile-default"}},
	{about: "add-column-volatile-default", name: "default gen_random_uuid()", sql: timeout + "ALTER TABLE orders ADD COLUMN IF NOT EXISTS uid uuid DEFAULT gen_random_uuid();", want: []string{"add-column-volatile-default"}},
	{about: "add-column-volatile-default", name: "default nextval", sql: timeout + "CREATE SEQUENCE s;\nALTER TABLE orders ADD COLUMN n bigint DEFAULT nextval('s');", want: []string{"add-column-volatile-default"}},
	{about: "add-column-volatile-default", name: "bigserial column", sql: timeout + "ALTER TABLE orders ADD COLUMN n bigserial;", want: []string{"add-column-volatile-default"}},
	{about: "add-column-volatile-default", name: "identity column", sql: timeout + "ALTER TABLE orders ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;", want: []string{"add-column-volatile-default"}},
	{about: "add-column-volatile-default", name: "default calls an unknown function", sql: timeout + "ALTER TABLE orders ADD COLUMN x int DEFAULT app.next_code();", want: []string{"add-column-volatile-default"}},
	{about: "add-column-volatile-default", name: "default constant", sql: timeout + "ALTER TABLE orders ADD COLUMN x int NOT NULL DEFAULT 0;"},
	{about: "add-column-volatile-default", name: "default now()", sql: timeout + "ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT now();"},
	{about: "add-column-volatile-default", name: "default current_timestamp", sql: timeout + "ALTER TABLE orders ADD COLUMN at timestamptz DEFAULT CURRENT_TIMESTAMP;"},
	{about: "add-column-volatile-default", name: "default cast constant", sql: timeout + "ALTER TABLE orders ADD COLUMN meta jsonb DEFAULT '{}'::jsonb;"},
	{about: "add-column-volatile-default", name: "default cast to a type with modifiers", sql: timeout + "ALTER TABLE orders ADD COLUMN c varchar(10) DEFAULT 'x'::varchar(10);"},
	{about: "add-column-volatile-default", name: "default stable function", sql: timeout + "ALTER TABLE orders ADD COLUMN c text DEFAULT lower('X') || current_setting('app.x');"},
	{about: "add-column-volatile-default", name: "no default", sql: timeout + "ALTER TABLE orders ADD COLUMN c text;"},
	{about: "add-column-volatile-default", name: "volatile default on a table the script creates", sql: "CREATE TABLE fresh (a int);\nALTER TABLE fresh ADD COLUMN r float8 DEFAULT random();"},

	// alter-column-type
	{about: "alter-column-type", name: "int to bigint", sql: timeout + "ALTER TABLE orders ALTER COLUMN user_id TYPE bigint;", want: []string{"alter-column-type"}},
	{about: "alter-column-type", name: "varchar shorter", sql: timeout + "ALTER TABLE orders ALTER COLUMN status TYPE varchar(10);", want: []string{"alter-column-type"}},
	{about: "alter-column-type", name: "text to varchar(n)", sql: timeout + "ALTER TABLE orders ALTER COLUMN note TYPE varchar(50);", want: []string{"alter-column-type"}},
	{about: "alter-column-type", name: "numeric scale change", sql: timeout + "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 3);", want: []string{"alter-column-type"}},
	{about: "alter-column-type", name: "char length change", sql: timeout + "ALTER TABLE orders ALTER COLUMN code TYPE char(8);", want: []string{"alter-column-type"}},
	{about: "alter-column-type", name: "array to scalar", sql: timeout + "ALTER TABLE orders ALTER COLUMN tags TYPE text USING array_to_string(tags, ',');", want: []string{"alter-column-type"}},
	{about: "alter-column-type", name: "widening with a real USING expression", sql: timeout + "ALTER TABLE orders ALTER COLUMN status TYPE varchar(40) USING upper(status);", want: []string{"alter-column-type"}},
	{about: "alter-column-type", name: "unknown column", setup: "CREATE TABLE t AS SELECT 1 AS a;", sql: timeout + "ALTER TABLE t ALTER COLUMN a TYPE text;", want: []string{"alter-column-type"}},
	{about: "alter-column-type", name: "timestamp to timestamptz", sql: timeout + "ALTER TABLE users ALTER COLUMN created TYPE timestamptz;", want: []string{"alter-column-type"}},
	{about: "alter-column-type", name: "timestamp to timestamptz in UTC", sql: timeout + "SET LOCAL TimeZone = 'UTC';\nALTER TABLE users ALTER COLUMN created TYPE timestamptz;"},
	{about: "alter-column-type", name: "timestamp to timestamptz after TimeZone is reset", sql: timeout + "SET TIME ZONE 'Etc/UTC';\nRESET ALL;\nSET LOCAL lock_timeout = '1s';\nALTER TABLE users ALTER COLUMN created TYPE timestamptz;", want: []string{"alter-column-type"}},
	{about: "alter-column-type", name: "varchar longer", sql: timeout + "ALTER TABLE orders ALTER COLUMN status TYPE varchar(40);"},
	{about: "alter-column-type", name: "varchar to text", sql: timeout + "ALTER TABLE users ALTER COLUMN email SET DATA TYPE text;"},
	{about: "alter-column-type", name: "varchar to unlimited varchar", sql: timeout + "ALTER TABLE users ALTER COLUMN email TYPE character varying;"},
	{about: "alter-column-type", name: "text to unlimited varchar", sql: timeout + "ALTER TABLE users ALTER COLUMN name TYPE varchar;"},
	{about: "alter-column-type", name: "numeric larger precision", sql: timeout + "ALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 2);"},
	{about: "alter-column-type", name: "numeric unconstrained", sql: timeout + "ALTER TABLE orders ALTER COLUMN total TYPE decimal;"},
	{about: "alter-column-type", name: "cidr to inet", sql: timeout + "ALTER TABLE users ALTER COLUMN ip TYPE inet;"},
	{about: "alter-column-type", name: "same type", sql: timeout + "ALTER TABLE orders ALTER user_id TYPE integer;"},
	{about: "alter-column-type", name: "widening with USING the column", sql: timeout + "ALTER TABLE orders ALTER COLUMN status TYPE text USING status::text;"},
	{about: "alter-column-type", name: "type change after a widening in an earlier script", setup: setupTables + "ALTER TABLE orders ALTER COLUMN status TYPE varchar(40);", sql: timeout + "ALTER TABLE orders ALTER COLUMN status TYPE varchar(30);", want: []string{"alter-column-type"}},

	// set-not-null
	{about: "set-not-null", name: "set not null", sql: timeout + "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;", want: []string{"set-not-null"}},
	{about: "set-not-null", name: "set not null with a check not yet validated", sql: timeout + "ALTER TABLE orders ADD CONSTRAINT user_nn CHECK (user_id IS NOT NULL) NOT VALID;\nALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;", want: []string{"set-not-null"}},
	{about: "set-not-null", name: "set not null with a check on another column", setup: setupTables + "ALTER TABLE orders ADD CONSTRAINT s_nn CHECK (status IS NOT NULL) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT s_nn;", sql: timeout + "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;", want: []string{"set-not-null"}},
	{about: "set-not-null", name: "not null constraint without not valid", sql: timeout + "ALTER TABLE orders ADD CONSTRAINT user_nn NOT NULL user_id;", opts: v18(), want: []string{"set-not-null"}},
	{about: "set-not-null", name: "primary key using index on a nullable column", sql: noTx + "CREATE UNIQUE INDEX CONCURRENTLY orders_user_key ON orders (user_id);\nSET lock_timeout = '5s';\nALTER TABLE orders ADD CONSTRAINT orders_user_pk PRIMARY KEY USING INDEX orders_user_key;", want: []string{"set-not-null"}},
	{about: "set-not-null", name: "set not null after a validated check in earlier steps", setup: setupTables + "ALTER TABLE orders ADD CONSTRAINT user_nn CHECK ((user_id IS NOT NULL)) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT user_nn;", sql: timeout + "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;"},
	{about: "set-not-null", name: "set not null after a validated not null constraint", setup: setupTables + "ALTER TABLE orders ADD CONSTRAINT user_nn NOT NULL user_id NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT user_nn;", sql: timeout + "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;", opts: v18()},
	{about: "set-not-null", name: "not null constraint not valid", sql: timeout + "ALTER TABLE orders ADD CONSTRAINT user_nn NOT NULL user_id NOT VALID;", opts: v18()},
	{about: "set-not-null", name: "set not null on a not null column", sql: timeout + "ALTER TABLE events ALTER COLUMN id SET NOT NULL;"},
	{about: "set-not-null", name: "set not null on a table the script creates", sql: "CREATE TABLE fresh (a int);\nALTER TABLE fresh ALTER COLUMN a SET NOT NULL;"},

	// constraint-missing-not-valid
	{about: "constraint-missing-not-valid", name: "foreign key", sql: timeout + "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);", want: []string{"constraint-missing-not-valid"}},
	{about: "constraint-missing-not-valid", name: "check", sql: timeout + "ALTER TABLE orders ADD CHECK (total >= 0);", want: []string{"constraint-missing-not-valid"}},
	{about: "constraint-missing-not-valid", name: "new column with a check", sql: timeout + "ALTER TABLE orders ADD COLUMN qty int CHECK (qty > 0);", want: []string{"constraint-missing-not-valid"}},
	{about: "constraint-missing-not-valid", name: "new column with a default and a foreign key", sql: timeout + "ALTER TABLE orders ADD COLUMN buyer int DEFAULT 1 REFERENCES users (id);", want: []string{"constraint-missing-not-valid"}},
	{about: "constraint-missing-not-valid", name: "foreign key not valid", sql: timeout + "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;"},
	{about: "constraint-missing-not-valid", name: "check not valid", sql: timeout + "ALTER TABLE orders ADD CONSTRAINT total_ok CHECK (total >= 0) NOT VALID;"},
	{about: "constraint-missing-not-valid", name: "validate constraint", setup: setupTables + "ALTER TABLE orders ADD CONSTRAINT total_ok CHECK (total >= 0) NOT VALID;", sql: "ALTER TABLE orders VALIDATE CONSTRAINT total_ok;"},
	{about: "constraint-missing-not-valid", name: "new column with a foreign key and no default", sql: timeout + "ALTER TABLE orders ADD COLUMN buyer int REFERENCES users (id);"},
	{about: "constraint-missing-not-valid", name: "check not enforced", sql: timeout + "ALTER TABLE orders ADD CONSTRAINT total_ok CHECK (total >= 0) NOT ENFORCED;", opts: v18()},
	{about: "constraint-missing-not-valid", name: "foreign key on a table the script creates", sql: "CREATE TABLE fresh (u int);\nALTER TABLE fresh ADD FOREIGN KEY (u) REFERENCES users (id);"},

	// add-key-not-using-index
	{about: "add-key-not-using-index", name: "add primary key", setup: "CREATE TABLE t (id int NOT NULL);", sql: timeout + "ALTER TABLE t ADD PRIMARY KEY (id);", want: []string{"add-key-not-using-index"}},
	{about: "add-key-not-using-index", name: "add unique", sql: timeout + "ALTER TABLE orders ADD CONSTRAINT orders_note_key UNIQUE (note);", want: []string{"add-key-not-using-index"}},
	{about: "add-key-not-using-index", name: "add column unique", sql: timeout + "ALTER TABLE orders ADD COLUMN ref text UNIQUE;", want: []string{"add-key-not-using-index"}},
	{about: "add-key-not-using-index", name: "add exclude", sql: timeout + "ALTER TABLE orders ADD EXCLUDE USING gist (id WITH =);", want: []string{"add-key-not-using-index"}},
	{about: "add-key-not-using-index", name: "unique using index", sql: timeout + "ALTER TABLE orders ADD CONSTRAINT orders_id_uniq UNIQUE USING INDEX orders_id_key;"},
	{about: "add-key-not-using-index", name: "primary key using index on not null columns", setup: "CREATE TABLE t (id int NOT NULL);\nCREATE UNIQUE INDEX t_id ON t (id);", sql: timeout + "ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_id;"},

	// rename-column, rename-table
	{about: "rename-column, rename-table", name: "rename column", sql: timeout + "ALTER TABLE users RENAME COLUMN name TO full_name;", want: []string{"rename-column"}},
	{about: "rename-column, rename-table", name: "rename column without the key word", sql: timeout + "ALTER TABLE IF EXISTS users RENAME name TO full_name;", want: []string{"rename-column"}},
	{about: "rename-column, rename-table", name: "rename table", sql: timeout + "ALTER TABLE users RENAME TO accounts;", want: []string{"rename-table"}},
	{about: "rename-column, rename-table", name: "set schema", sql: timeout + "CREATE SCHEMA archive;\nALTER TABLE users SET SCHEMA archive;", want: []string{"rename-table"}},
	{about: "rename-column, rename-table", name: "rename constraint", setup: setupTables + "ALTER TABLE orders ADD CONSTRAINT c CHECK (total > 0);", sql: timeout + "ALTER TABLE orders RENAME CONSTRAINT c TO total_positive;"},
	{about: "rename-column, rename-table", name: "rename a table the script creates", sql: "CREATE TABLE fresh (a int);\nALTER TABLE fresh RENAME TO fresher;\nALTER TABLE fresher RENAME COLUMN a TO b;"},

	// drop-column, drop-table
	{about: "drop-column, drop-table", name: "drop column", sql: timeout + "ALTER TABLE orders DROP COLUMN note;", want: []string{"drop-column"}},
	{about: "drop-column, drop-table", name: "drop tables", sql: timeout + "DROP TABLE IF EXISTS order_totals_old, users CASCADE;", want: []string{"drop-table", "drop-table"}},
	{about: "drop-column, drop-table", name: "drop a table the script creates", sql: "CREATE TABLE fresh (a int);\nALTER TABLE fresh DROP COLUMN a;\nDROP TABLE fresh;"},

	// vacuum-full, cluster
	{about: "vacuum-full, cluster", name: "vacuum full", sql: noTx + "SET lock_timeout = '5s';\nVACUUM FULL orders;", want: []string{"vacuum-full"}},
	{about: "vacuum-full, cluster", name: "vacuum with the full option", sql: noTx + "SET lock_timeout = '5s';\nVACUUM (FULL, ANALYZE) orders;", want: []string{"vacuum-full"}},
	{about: "vacuum-full, cluster", name: "vacuum full everything", sql: noTx + "VACUUM FULL;", want: []string{"vacuum-full"}},
	{about: "vacuum-full, cluster", name: "cluster", sql: timeout + "CLUSTER orders USING orders_status_idx;", want: []string{"cluster"}},
	{about: "vacuum-full, cluster", name: "vacuum", sql: noTx + "VACUUM ANALYZE orders;"},
	{about: "vacuum-full, cluster", name: "vacuum full off", sql: noTx + "VACUUM (FULL false) orders;"},

	// table-rewrite
	{about: "table-rewrite", name: "set unlogged", sql: timeout + "ALTER TABLE orders SET UNLOGGED;", want: []string{"table-rewrite"}},
	{about: "table-rewrite", name: "stored generated column", sql: timeout + "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;", want: []string{"table-rewrite"}},
	{about: "table-rewrite", name: "stored generated column on 18", sql: timeout + "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;", opts: v18(), want: []string{"table-rewrite"}},
	{about: "table-rewrite", name: "refresh materialized view", sql: timeout + "REFRESH MATERIALIZED VIEW order_totals;", want: []string{"table-rewrite"}},
	{about: "table-rewrite", name: "set tablespace", sql: timeout + "ALTER TABLE orders SET TABLESPACE pg_default;", want: []string{"table-rewrite"}},
	{about: "table-rewrite", name: "virtual generated column on 18", sql: timeout + "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) VIRTUAL;", opts: v18()},
	{about: "table-rewrite", name: "generated column on 18 is virtual", sql: timeout + "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100);", opts: v18()},
	{about: "table-rewrite", name: "refresh materialized view concurrently", sql: "REFRESH MATERIALIZED VIEW CONCURRENTLY order_totals;"},
	{about: "table-rewrite", name: "set storage parameters", sql: "ALTER TABLE orders SET (fillfactor = 70);"},

	// detach-partition-not-concurrently, create-table-partition-of
	{about: "detach-partition-not-concurrently, create-table-partition-of", name: "detach partition", sql: timeout + "ALTER TABLE events DETACH PARTITION events_2024;", want: []string{"detach-partition-not-concurrently"}},
	{about: "detach-partition-not-concurrently, create-table-partition-of", name: "detach partition concurrently", sql: noTx + "SET lock_timeout = '5s';\nALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;"},
	{about: "detach-partition-not-concurrently, create-table-partition-of", name: "detach partition concurrently locks the partition", sql: noTx + "ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;", want: []string{"missing-lock-timeout"}},
	{about: "detach-partition-not-concurrently, create-table-partition-of", name: "create partition of an existing table", sql: timeout + "CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');", want: []string{"create-table-partition-of"}},
	{about: "detach-partition-not-concurrently, create-table-partition-of", name: "attach partition", sql: timeout + "CREATE TABLE events_2025 (LIKE events INCLUDING ALL);\nALTER TABLE events ATTACH PARTITION events_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"},
	{about: "detach-partition-not-concurrently, create-table-partition-of", name: "create partition of a table the script creates", sql: "CREATE TABLE logs (at date) PARTITION BY RANGE (at);\nCREATE TABLE logs_1 PARTITION OF logs FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"},

	// missing-lock-timeout
	{about: "missing-lock-timeout", name: "access exclusive without a timeout, reported once", sql: "ALTER TABLE orders ADD COLUMN a int;\nALTER TABLE orders ADD COLUMN b int;", want: []string{"missing-lock-timeout"}},
	{about: "missing-lock-timeout", name: "timeout reset", sql: timeout + "RESET lock_timeout;\nALTER TABLE orders ADD COLUMN a int;", want: []string{"missing-lock-timeout"}},
	{about: "missing-lock-timeout", name: "timeout set to 0", sql: "SET lock_timeout = 0;\nALTER TABLE orders ADD COLUMN a int;", opts: &hazard.Options{LockTimeout: 5 * time.Second}, want: []string{"missing-lock-timeout"}},
	{about: "missing-lock-timeout", name: "timeout set to '0s' with set_config", sql: "SELECT set_config('lock_timeout', '0s', false);\nALTER TABLE orders ADD COLUMN a int;", opts: &hazard.Options{LockTimeout: 5 * time.Second}, want: []string{"missing-lock-timeout"}},
	{about: "missing-lock-timeout", name: "set local outside a transaction does nothing", sql: noTx + "SET LOCAL lock_timeout = '5s';\nALTER TABLE orders ADD COLUMN a int;", want: []string{"missing-lock-timeout"}},
	{about: "missing-lock-timeout", name: "set local ends with the script's transaction", sql: noTx + "BEGIN;\nSET LOCAL lock_timeout = '5s';\nALTER TABLE orders ADD COLUMN a int;\nCOMMIT;\nALTER TABLE orders ADD COLUMN b int;", want: []string{"missing-lock-timeout"}},
	{about: "missing-lock-timeout", name: "timeout set with set local", sql: "SET LOCAL lock_timeout = '5s';\nALTER TABLE orders ADD COLUMN a int;"},
	{about: "missing-lock-timeout", name: "timeout set with to", sql: "SET lock_timeout TO 5000;\nALTER TABLE orders ADD COLUMN a int;"},
	{about: "missing-lock-timeout", name: "timeout set with set_config", sql: "SELECT set_config('lock_timeout', '3s', true);\nALTER TABLE orders ADD COLUMN a int;"},
	{about: "missing-lock-timeout", name: "timeout set by the runner", sql: "ALTER TABLE orders ADD COLUMN a int;", opts: &hazard.Options{LockTimeout: time.Second}},
	{about: "missing-lock-timeout", name: "set local inside the script's own transaction", sql: noTx + "BEGIN;\nSET LOCAL lock_timeout = '5s';\nALTER TABLE orders ADD COLUMN a int;\nCOMMIT;"},
	{about: "missing-lock-timeout", name: "weaker locks need no timeout", sql: "CREATE TRIGGER t BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();\nCOMMENT ON TABLE orders IS 'x';"},
	{about: "missing-lock-timeout", name: "new tables need no timeout", sql: "CREATE TABLE fresh (a int REFERENCES fresh (a));\nALTER TABLE fresh ADD COLUMN b int;"},

	// waymark:batch statements must be bounded and must change what they
	// find.
	{about: "batch-unbounded, batch-endless", name: "batch update with a limit on what is not done", sql: noTx + "-- waymark:batch\nUPDATE orders SET note = status WHERE id IN (SELECT id FROM orders WHERE note IS NULL LIMIT 1000);"},
	{about: "batch-unbounded, batch-endless", name: "batch update of a row-value list", sql: noTx + "-- waymark:batch\nUPDATE orders o SET (note, code) = (o.status, 'x') FROM users u WHERE u.id = o.user_id AND o.id IN (SELECT id FROM orders WHERE code IS NULL FETCH FIRST 500 ROWS ONLY);"},
	{about: "batch-unbounded", name: "batch update without a limit", sql: noTx + "-- waymark:batch\nUPDATE orders SET note = status WHERE note IS NULL;", want: []string{"batch-unbounded"}},
	{about: "batch-endless", name: "batch update whose where does not change", sql: noTx + "-- waymark:batch\nUPDATE orders SET note = status WHERE id IN (SELECT id FROM orders WHERE status = 'new' LIMIT 1000);", want: []string{"batch-endless"}},
	{about: "batch-unbounded, batch-endless", name: "batch update with neither", sql: noTx + "-- waymark:batch\nUPDATE orders SET \"note\" = status;", want: []string{"batch-unbounded", "batch-endless"}},
	{about: "batch-endless", name: "batch insert that reads its target", sql: noTx + "-- waymark:batch\nINSERT INTO users (id) SELECT o.user_id FROM orders o WHERE NOT EXISTS (SELECT FROM users u WHERE u.id = o.user_id) LIMIT 100;"},
	{about: "batch-endless", name: "batch insert that never reads its target", sql: noTx + "-- waymark:batch\nINSERT INTO public.users (id) SELECT user_id FROM orders LIMIT 100;", want: []string{"batch-endless"}},
	{about: "batch-unbounded, batch-endless", name: "batch delete", sql: noTx + "-- waymark:batch\nDELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE status = 'gone' LIMIT 100);"},
	{about: "batch-unbounded", name: "the same update without the directive is no batch", sql: "UPDATE orders SET note = status;"},

	// Statements that cannot run in a transaction are refused by package
	// source when the set loads (source.ErrNeedsNoTransaction); in a
	// no-transaction script they are fine.
	{about: "no-transaction", name: "concurrently in a no-transaction script", sql: noTx + "SET lock_timeout = '5s';\nCREATE INDEX CONCURRENTLY i ON orders (note);\nREINDEX INDEX CONCURRENTLY i;\nDROP INDEX CONCURRENTLY i;\nVACUUM orders;"},
	{about: "no-transaction", name: "cluster with a table in a transaction", sql: timeout + "CLUSTER orders USING orders_pkey;", want: []string{"cluster"}},
	// versioned-uses-repeatable
	{about: "versioned-uses-repeatable", name: "select from a repeatable view", repeatable: "CREATE OR REPLACE VIEW big_orders AS SELECT id FROM orders WHERE total > 100;",
		sql: "INSERT INTO orders (id) SELECT id + 1000 FROM big_orders;", want: []string{"versioned-uses-repeatable"}},
	{about: "versioned-uses-repeatable", name: "drop a repeatable view", repeatable: "CREATE OR REPLACE VIEW big_orders AS SELECT id FROM orders WHERE total > 100;",
		sql: "SET LOCAL lock_timeout = '5s';\nDROP VIEW big_orders;"},
	{about: "versioned-uses-repeatable", name: "a name inside a string", repeatable: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
		sql: "COMMENT ON TABLE orders IS 'see f';"},

	{about: "no-transaction", name: "detach concurrently in a no-transaction script", sql: noTx + "SET lock_timeout = '5s';\nALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;"},
}

// ruleSet builds the set of a case: version 1 its setup, version 2 its
// script.
func ruleSet(t *testing.T, tc ruleCase) *hazard.Report {
	t.Helper()
	setup := tc.setup
	if setup == "" {
		setup = setupTables
	}
	files := map[string]string{"v1_setup.up.sql": setup, "v2_case.up.sql": tc.sql}
	if tc.repeatable != "" {
		files["r_case.sql"] = tc.repeatable
	}
	set := testsets.Map(t, files)
	r, err := hazard.Check(set, tc.opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRules(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.name, func(t *testing.T) {
			r := ruleSet(t, tc)
			var got []string
			for _, f := range r.Findings() {
				if f.Pos.Path == "m/v2_case.up.sql" {
					got = append(got, f.Rule)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rules found in\n%s\n(-want +got):\n%s\nreport:\n%s", tc.sql, diff, r)
			}
		})
	}
}

// TestEveryRuleHasCases checks that every static rule has a case where it
// fires and one, near enough to fire, where it must not.
func TestEveryRuleHasCases(t *testing.T) {
	fires, quiet := map[string]int{}, map[string]int{}
	for _, tc := range ruleCases {
		for _, id := range strings.Split(tc.about, ", ") {
			if slices.Contains(tc.want, id) {
				fires[id]++
			} else {
				quiet[id]++
			}
		}
	}
	for _, r := range hazard.Rules() {
		if r.Measured {
			continue
		}
		if fires[r.ID] == 0 || quiet[r.ID] == 0 {
			t.Errorf("rule %s: %d cases fire it, %d must not; want some of each", r.ID, fires[r.ID], quiet[r.ID])
		}
	}
}

func TestRuleDocs(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range hazard.Rules() {
		if seen[r.ID] {
			t.Errorf("rule %s listed twice", r.ID)
		}
		seen[r.ID] = true
		if r.Summary == "" || r.Safer == "" || r.Severity.String() == "" {
			t.Errorf("rule %s: missing summary, safer pattern or severity", r.ID)
		}
		if got, ok := hazard.LookupRule(r.ID); !ok || got.ID != r.ID {
			t.Errorf("LookupRule(%q) = %v, %v", r.ID, got, ok)
		}
		if strings.ToLower(r.ID) != r.ID || strings.ContainsAny(r.ID, " _") {
			t.Errorf("rule ID %q: want lower-case words joined by dashes", r.ID)
		}
	}
	if _, ok := hazard.LookupRule("no-such-rule"); ok {
		t.Error("LookupRule found a rule that does not exist")
	}
}

// TestVersionVerdicts checks the verdicts that differ between server
// versions, on each supported one.
func TestVersionVerdicts(t *testing.T) {
	tests := []struct {
		name  string
		setup string
		sql   string
		// want maps a server version to the rules reported.
		want map[int][]string
		// safer, when set, must be in the first finding's safer pattern
		// for the versions in saferOn.
		safer   string
		saferOn []int
	}{
		{name: "generated column without STORED",
			sql:  timeout + "ALTER TABLE orders ADD COLUMN c bigint GENERATED ALWAYS AS (total * 100);",
			want: map[int][]string{140000: {"table-rewrite"}, 150000: {"table-rewrite"}, 160000: {"table-rewrite"}, 170000: {"table-rewrite"}, 180000: nil}},
		{name: "not null constraint not valid",
			sql:  timeout + "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;",
			want: map[int][]string{140000: {"set-not-null"}, 180000: {"set-not-null"}}, safer: "NOT NULL user_id NOT VALID", saferOn: []int{180000}},
		{name: "check pattern before 18",
			sql:  timeout + "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;",
			want: map[int][]string{140000: {"set-not-null"}, 170000: {"set-not-null"}}, safer: "CHECK (user_id IS NOT NULL) NOT VALID", saferOn: []int{140000, 170000}},
		{name: "foreign key on a partitioned table",
			sql:  timeout + "ALTER TABLE events ADD FOREIGN KEY (id) REFERENCES orders (id);",
			want: map[int][]string{140000: {"constraint-missing-not-valid"}, 170000: {"constraint-missing-not-valid"}}, safer: "to each partition", saferOn: []int{140000, 170000}},
		{name: "check not enforced is not available before 18",
			sql:  timeout + "ALTER TABLE orders ADD CONSTRAINT total_ok CHECK (total >= 0) NOT ENFORCED;",
			want: map[int][]string{170000: {"not-available"}, 180000: nil}, safer: "raise the target version", saferOn: []int{170000}},
		{name: "not null not valid is not available before 18",
			sql:  timeout + "ALTER TABLE orders ADD CONSTRAINT user_nn NOT NULL user_id NOT VALID;",
			want: map[int][]string{140000: {"not-available"}, 170000: {"not-available"}, 180000: nil}},
		{name: "set expression is not available before 17",
			setup: "CREATE TABLE orders (id int, total int, cents int GENERATED ALWAYS AS (total * 100) STORED);",
			sql:   timeout + "ALTER TABLE orders ALTER COLUMN cents SET EXPRESSION AS (total * 1000);",
			want:  map[int][]string{160000: {"not-available"}, 170000: {"table-rewrite"}, 180000: {"table-rewrite"}}},
		{name: "virtual generated column is not available before 18",
			sql:  timeout + "ALTER TABLE orders ADD COLUMN c bigint GENERATED ALWAYS AS (total * 100) VIRTUAL;",
			want: map[int][]string{140000: {"not-available"}, 170000: {"not-available"}, 180000: nil}},
		{name: "virtual generated column in a new table",
			sql:  "CREATE TABLE t (a int, b int GENERATED ALWAYS AS (a * 2) VIRTUAL);",
			want: map[int][]string{170000: {"not-available"}, 180000: nil}},
	}
	for _, tt := range tests {
		for v, want := range tt.want {
			r := ruleSet(t, ruleCase{setup: tt.setup, sql: tt.sql, opts: &hazard.Options{ServerVersion: v}})
			var got []string
			var safer string
			for _, f := range r.Findings() {
				if f.Pos.Path == "m/v2_case.up.sql" {
					got = append(got, f.Rule)
					if safer == "" {
						safer = f.Safer
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s on %d (-want +got):\n%s", tt.name, v, diff)
			}
			if slices.Contains(tt.saferOn, v) && !strings.Contains(safer, tt.safer) {
				t.Errorf("%s on %d: safer pattern %q does not mention %q", tt.name, v, safer, tt.safer)
			}
		}
	}
}
