package review_test

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/execute"
	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/hazard/measure"
	"github.com/waymarkdb/waymark/hazard/review"
	"github.com/waymarkdb/waymark/internal/pgtest"
	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// corpusBase is version 1 of every corpus case: a small shop's schema
// with rows in its tables.
const corpusBase = `CREATE TABLE users (id int PRIMARY KEY, email text, name varchar(100), created timestamp NOT NULL DEFAULT now());
CREATE TABLE orders (id int PRIMARY KEY, user_id int, status varchar(32), total numeric(12, 2), note text);
CREATE INDEX orders_status_idx ON orders (status);
CREATE TABLE accounts (id int NOT NULL, name text);
CREATE TABLE audit_log (id bigint, at timestamptz, what text);
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO users SELECT g, 'u' || g || '@example.com', 'user ' || g FROM generate_series(1, 500) g;
INSERT INTO orders SELECT g, 1 + g % 500, 'new', g, NULL FROM generate_series(1, 2000) g;
INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 500) g;
INSERT INTO events SELECT g, DATE '2024-01-01' + g % 700 FROM generate_series(1, 2000) g;
CREATE MATERIALIZED VIEW user_domains AS SELECT split_part(email, '@', 2) AS domain, count(*) AS users FROM users GROUP BY 1;
CREATE UNIQUE INDEX user_domains_domain_idx ON user_domains (domain);
CREATE VIEW big_accounts AS SELECT id FROM accounts WHERE id > 100;
CREATE FUNCTION order_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION order_code() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'A' $$;
CREATE FUNCTION order_token() RETURNS text LANGUAGE sql AS $$ SELECT md5(random()::text) $$;
ANALYZE; -- fixed statistics, so that the plans (and the scans measured) do not vary
`

// corpusCase is one statement of the agreement corpus: its last
// statement is judged (those before it prepare it in the same script).
type corpusCase struct {
	name  string
	setup string // appended to version 1
	sql   string // version 2
	// minVersion is the first server version that has the syntax.
	minVersion int
	// explain says why the static check and the measurement disagree,
	// for a case where they do; it must be empty where they agree.
	explain string
}

const nt = "-- waymark:no-transaction\n"

// fkSetup gives orders a foreign key to users.
const fkSetup = "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);"

// serialSetup makes a table whose serial column owns a sequence.
const serialSetup = "CREATE TABLE tickets (id serial PRIMARY KEY, title text);\nINSERT INTO tickets (title) SELECT 't' || g FROM generate_series(1, 100) g;"

var corpus = []corpusCase{
	{name: "add column", sql: "ALTER TABLE orders ADD COLUMN coupon text;"},
	{name: "add column, constant default", sql: "ALTER TABLE orders ADD COLUMN currency char(3) NOT NULL DEFAULT 'EUR';"},
	{name: "add column, now()", sql: "ALTER TABLE orders ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();"},
	{name: "add column, gen_random_uuid()", sql: "ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();"},
	{name: "add column, random()", sql: "ALTER TABLE orders ADD COLUMN sample float8 DEFAULT random();"},
	{name: "add column, bigserial", sql: "ALTER TABLE orders ADD COLUMN seq bigserial;"},
	{name: "add column, identity", sql: "ALTER TABLE accounts ADD COLUMN number bigint GENERATED ALWAYS AS IDENTITY;"},
	{name: "add column, stored generated", sql: "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;"},
	{name: "add column, virtual generated", minVersion: 180000, sql: "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) VIRTUAL;"},
	{name: "add column, foreign key", sql: "ALTER TABLE orders ADD COLUMN buyer_id int REFERENCES users (id);"},
	{name: "add column, check", sql: "ALTER TABLE orders ADD COLUMN qty int CHECK (qty > 0);"},
	{name: "add column, stable function default", sql: "ALTER TABLE orders ADD COLUMN code text DEFAULT order_code();"},
	{name: "add column, volatile function default", sql: "ALTER TABLE orders ADD COLUMN token text DEFAULT order_token();"},
	{name: "int to bigint", sql: "ALTER TABLE orders ALTER COLUMN user_id TYPE bigint;"},
	{name: "varchar(32) to varchar(64)", sql: "ALTER TABLE orders ALTER COLUMN status TYPE varchar(64);"},
	{name: "varchar(32) to text", sql: "ALTER TABLE orders ALTER COLUMN status TYPE text;"},
	{name: "varchar(32) to varchar(8)", sql: "ALTER TABLE orders ALTER COLUMN status TYPE varchar(8);"},
	{name: "numeric(12,2) to numeric(14,2)", sql: "ALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 2);"},
	{name: "numeric(12,2) to numeric(12,4)", sql: "ALTER TABLE orders ALTER COLUMN total TYPE numeric(12, 4);"},
	{name: "timestamp to timestamptz in UTC", sql: "SET LOCAL TimeZone = 'UTC';\nALTER TABLE users ALTER COLUMN created TYPE timestamptz;"},
	{name: "set not null", sql: "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;"},
	{name: "check not null, not valid", sql: "ALTER TABLE orders ADD CONSTRAINT orders_user_id_nn CHECK (user_id IS NOT NULL) NOT VALID;"},
	{name: "validate the check", setup: "ALTER TABLE orders ADD CONSTRAINT orders_user_id_nn CHECK (user_id IS NOT NULL) NOT VALID;",
		sql: "ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_nn;"},
	{name: "set not null after the check", setup: "ALTER TABLE orders ADD CONSTRAINT orders_user_id_nn CHECK (user_id IS NOT NULL) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_nn;",
		sql: "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;"},
	{name: "not null constraint, not valid", minVersion: 180000, sql: "ALTER TABLE orders ADD CONSTRAINT orders_user_id_nn NOT NULL user_id NOT VALID;"},
	{name: "drop not null", setup: "ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;", sql: "ALTER TABLE orders ALTER COLUMN user_id DROP NOT NULL;"},
	{name: "set default", sql: "ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'new';"},
	{name: "foreign key", sql: "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);"},
	{name: "foreign key, not valid", sql: "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;"},
	{name: "validate the foreign key", setup: "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
		sql: "ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;"},
	{name: "check", sql: "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);"},
	{name: "check, not valid", sql: "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0) NOT VALID;"},
	{name: "create index", sql: "CREATE INDEX orders_user_id_idx ON orders (user_id);"},
	{name: "create index concurrently", sql: nt + "CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);"},
	{name: "create unique index concurrently", sql: nt + "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);"},
	{name: "create index on a partitioned table", sql: "CREATE INDEX events_id_idx ON events (id);"},
	{name: "add unique", sql: "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);"},
	{name: "add unique using index", setup: "CREATE UNIQUE INDEX users_email_idx ON users (email);",
		sql: "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;"},
	{name: "add primary key", sql: "ALTER TABLE accounts ADD PRIMARY KEY (id);"},
	{name: "primary key using index", setup: "CREATE UNIQUE INDEX accounts_id_idx ON accounts (id);",
		sql: "ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX accounts_id_idx;"},
	{name: "drop index", sql: "DROP INDEX orders_status_idx;"},
	{name: "drop index concurrently", sql: nt + "DROP INDEX CONCURRENTLY orders_status_idx;"},
	{name: "reindex index", sql: "REINDEX INDEX orders_status_idx;"},
	{name: "reindex index concurrently", sql: nt + "REINDEX INDEX CONCURRENTLY orders_status_idx;"},
	{name: "rename column", sql: "ALTER TABLE orders RENAME COLUMN note TO comment;"},
	{name: "rename table", sql: "ALTER TABLE audit_log RENAME TO audit_events;"},
	{name: "drop column", sql: "ALTER TABLE orders DROP COLUMN note;"},
	{name: "drop table", sql: "DROP TABLE audit_log;"},
	{name: "vacuum full", sql: nt + "VACUUM FULL orders;"},
	{name: "cluster", sql: "CLUSTER orders USING orders_pkey;"},
	{name: "refresh materialized view", sql: "REFRESH MATERIALIZED VIEW user_domains;"},
	{name: "refresh materialized view concurrently", sql: "REFRESH MATERIALIZED VIEW CONCURRENTLY user_domains;"},
	{name: "detach partition", sql: "ALTER TABLE events DETACH PARTITION events_2024;"},
	{name: "detach partition concurrently", sql: nt + "ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;"},
	{name: "create a partition", sql: "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"},
	{name: "attach a partition", setup: "CREATE TABLE events_2026 (id bigint NOT NULL, at date NOT NULL);",
		sql: "ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"},
	{name: "create a table that references another", sql: "CREATE TABLE order_items (id bigint PRIMARY KEY, order_id int NOT NULL REFERENCES orders (id), sku text);"},
	{name: "create trigger", sql: "CREATE TRIGGER orders_audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION order_audit();"},
	{name: "comment on column", sql: "COMMENT ON COLUMN orders.note IS 'free text from the buyer';"},
	{name: "set fillfactor", sql: "ALTER TABLE orders SET (fillfactor = 80);"},
	{name: "replace a view", sql: "CREATE OR REPLACE VIEW big_accounts AS SELECT id FROM accounts WHERE id > 200;"},
	{name: "backfill", sql: "UPDATE orders SET note = 'imported' WHERE note IS NULL;"},
	{name: "lock table", sql: "LOCK TABLE orders IN SHARE MODE;"},
	{name: "truncate", sql: "TRUNCATE audit_log;"},
	// The relations a statement locks beyond the one it names.
	{name: "int to bigint of a foreign key column", setup: fkSetup, sql: "ALTER TABLE orders ALTER COLUMN user_id TYPE bigint;"},
	{name: "int to bigint of a referenced column", setup: fkSetup, sql: "ALTER TABLE users ALTER COLUMN id TYPE bigint;"},
	{name: "varchar widening of a foreign key column", setup: "CREATE TABLE codes (code varchar(8) PRIMARY KEY);\nINSERT INTO codes VALUES ('new');\nALTER TABLE orders ADD CONSTRAINT orders_status_fk FOREIGN KEY (status) REFERENCES codes (code);",
		sql: "ALTER TABLE orders ALTER COLUMN status TYPE varchar(64);"},
	{name: "truncate cascade", setup: fkSetup + "\nCREATE TABLE order_lines (id int PRIMARY KEY, order_id int REFERENCES orders (id));", sql: "TRUNCATE users CASCADE;"},
	{name: "drop a foreign key column", setup: fkSetup, sql: "ALTER TABLE orders DROP COLUMN user_id;"},
	{name: "drop a foreign key", setup: fkSetup, sql: "ALTER TABLE orders DROP CONSTRAINT orders_user_fk;"},
	{name: "attach beside a default partition", setup: "CREATE TABLE events_other PARTITION OF events DEFAULT;\nCREATE TABLE events_2026 (id bigint NOT NULL, at date NOT NULL);",
		sql: "ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"},
	{name: "attach with a validated check", setup: "CREATE TABLE events_2026 (id bigint NOT NULL, at date NOT NULL);\nALTER TABLE events_2026 ADD CONSTRAINT events_2026_in CHECK (at >= '2026-01-01' AND at < '2027-01-01');",
		sql: "ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"},
	{name: "attach as the default partition", setup: "CREATE TABLE events_other (id bigint NOT NULL, at date NOT NULL);",
		sql: "ALTER TABLE events ATTACH PARTITION events_other DEFAULT;"},
	{name: "create a default partition", sql: "CREATE TABLE events_other PARTITION OF events DEFAULT;"},
	{name: "create index on a partitioned table with a default partition", setup: "CREATE TABLE events_other PARTITION OF events DEFAULT;", sql: "CREATE INDEX events_at_idx ON events (at);"},
	{name: "create index on only the partitioned table", sql: "CREATE INDEX events_id_idx ON ONLY events (id);"},
	{name: "create index concurrently on a partition", setup: "CREATE INDEX events_id_idx ON ONLY events (id);", sql: nt + "CREATE INDEX CONCURRENTLY events_2024_id_idx ON events_2024 (id);"},
	{name: "attach a partition's index", setup: "CREATE INDEX events_id_idx ON ONLY events (id);\nCREATE INDEX events_2024_id_idx ON events_2024 (id);",
		sql: "ALTER INDEX events_id_idx ATTACH PARTITION events_2024_id_idx;"},
	{name: "reindex table", sql: "REINDEX TABLE orders;"},
	{name: "reindex table concurrently", sql: nt + "REINDEX TABLE CONCURRENTLY orders;"},
	{name: "timestamp to timestamptz in UTC, indexed", setup: "CREATE INDEX users_created_idx ON users (created);",
		sql: "SET LOCAL TimeZone = 'UTC';\nALTER TABLE users ALTER COLUMN created TYPE timestamptz;"},
	{name: "timestamp to timestamptz in Berlin", sql: "SET LOCAL TimeZone = 'Europe/Berlin';\nALTER TABLE users ALTER COLUMN created TYPE timestamptz;"},
	{name: "drop table cascade with views", setup: "CREATE VIEW big_account_ids AS SELECT b.id FROM big_accounts b;", sql: "DROP TABLE accounts CASCADE;"},
	{name: "drop view", sql: "DROP VIEW big_accounts;"},
	{name: "drop materialized view", sql: "DROP MATERIALIZED VIEW user_domains;"},
	{name: "detach partition concurrently, indexed", setup: "CREATE INDEX events_id_idx ON events (id);", sql: nt + "ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY;"},
	// A table is new only if this plan made it.
	{name: "create table if not exists of an existing table, then index it", sql: "CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY);\nCREATE INDEX orders_user_id_idx ON orders (user_id);"},
	{name: "create index if not exists of an existing index", sql: "CREATE INDEX IF NOT EXISTS orders_status_idx ON orders (status);"},
	{name: "temporary table", sql: "CREATE TEMP TABLE import_rows (id int, note text);\nCREATE INDEX ON import_rows (id);\nDROP TABLE import_rows;"},
	{name: "index a temporary table", sql: "CREATE TEMP TABLE import_rows (id int, note text);\nCREATE INDEX ON import_rows (id);"},
	// Locks that add nothing.
	{name: "drop a table with a serial column", setup: serialSetup, sql: "DROP TABLE tickets;"},
	{name: "alter sequence after the owning column", setup: serialSetup, sql: "ALTER TABLE tickets ALTER COLUMN id TYPE bigint;\nALTER SEQUENCE tickets_id_seq AS bigint;"},
	{name: "add an identity to an existing column", sql: "ALTER TABLE orders ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;"},
	// Relations named as they are called when the statement runs.
	{name: "index a table renamed in the same step", sql: "ALTER TABLE audit_log RENAME TO audit_events;\nCREATE INDEX audit_events_at_idx ON audit_events (at);"},
	{name: "backfill a table renamed in the same step", sql: "ALTER TABLE audit_log RENAME TO audit_events;\nALTER TABLE audit_events ALTER COLUMN what SET NOT NULL;"},
	// More of what migrations do.
	{name: "add column, not null, constant default", sql: "ALTER TABLE orders ADD COLUMN priority int NOT NULL DEFAULT 0;"},
	{name: "drop default", setup: "ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'new';", sql: "ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;"},
	{name: "set statistics", sql: "ALTER TABLE orders ALTER COLUMN status SET STATISTICS 500;"},
	{name: "set storage", sql: "ALTER TABLE orders ALTER COLUMN note SET STORAGE EXTERNAL;"},
	{name: "column options", sql: "ALTER TABLE orders ALTER COLUMN status SET (n_distinct = 100);"},
	{name: "rename constraint", setup: "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);", sql: "ALTER TABLE orders RENAME CONSTRAINT orders_total_check TO orders_total_nonneg;"},
	{name: "drop check constraint", setup: "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);", sql: "ALTER TABLE orders DROP CONSTRAINT orders_total_check;"},
	{name: "rename index", sql: "ALTER INDEX orders_status_idx RENAME TO orders_by_status;"},
	{name: "enable row level security", sql: "ALTER TABLE orders ENABLE ROW LEVEL SECURITY;"},
	{name: "create policy", sql: "CREATE POLICY orders_own ON orders USING (user_id = 1);"},
	{name: "replica identity full", sql: "ALTER TABLE orders REPLICA IDENTITY FULL;"},
	{name: "set unlogged", sql: "ALTER TABLE audit_log SET UNLOGGED;"},
	{name: "set logged", setup: "ALTER TABLE audit_log SET UNLOGGED;", sql: "ALTER TABLE audit_log SET LOGGED;"},
	{name: "disable a trigger", setup: "CREATE TRIGGER orders_audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION order_audit();", sql: "ALTER TABLE orders DISABLE TRIGGER orders_audit;"},
	{name: "drop trigger", setup: "CREATE TRIGGER orders_audit AFTER UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION order_audit();", sql: "DROP TRIGGER orders_audit ON orders;"},
	{name: "text to varchar(200)", sql: "ALTER TABLE orders ALTER COLUMN note TYPE varchar(200);"},
	{name: "int to bigint with USING", sql: "ALTER TABLE orders ALTER COLUMN user_id TYPE bigint USING user_id::bigint;"},
	{name: "vacuum", sql: nt + "VACUUM orders;"},
	{name: "vacuum analyze", sql: nt + "VACUUM (ANALYZE) users;"},
	{name: "analyze", sql: "ANALYZE orders;"},
	{name: "create statistics", sql: "CREATE STATISTICS orders_stats (dependencies) ON user_id, status FROM orders;"},
	{name: "comment on table", sql: "COMMENT ON TABLE orders IS 'what users bought';"},
	{name: "create view", sql: "CREATE VIEW open_orders AS SELECT id FROM orders WHERE status = 'new';"},
	{name: "create materialized view", sql: "CREATE MATERIALIZED VIEW order_counts AS SELECT status, count(*) FROM orders GROUP BY status;"},
	{name: "validate a check", setup: "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0) NOT VALID;", sql: "ALTER TABLE orders VALIDATE CONSTRAINT orders_total_check;"},
	{name: "partial index", sql: "CREATE INDEX orders_open_idx ON orders (user_id) WHERE status = 'new';"},
	{name: "unique index", sql: "CREATE UNIQUE INDEX users_email_idx ON users (email);"},
	{name: "lock table access exclusive", sql: "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;"},
	{name: "lock table row exclusive", sql: "LOCK TABLE orders IN ROW EXCLUSIVE MODE;"},
	{name: "exclusion constraint", sql: "ALTER TABLE accounts ADD CONSTRAINT accounts_id_excl EXCLUDE USING btree (id WITH =);"},
	{name: "set not null of a not null column", sql: "ALTER TABLE accounts ALTER COLUMN id SET NOT NULL;"},
	{name: "create table like", sql: "CREATE TABLE orders_archive (LIKE orders INCLUDING ALL);"},
	{name: "create table as", sql: "CREATE TABLE orders_copy AS SELECT * FROM orders;"},
	{name: "delete", sql: "DELETE FROM orders WHERE id > 1900;"},
	{name: "insert select", sql: "INSERT INTO audit_log SELECT id, now(), 'order' FROM orders;"},
	{name: "add column with a foreign key and a default", sql: "ALTER TABLE orders ADD COLUMN seller_id int DEFAULT 1 REFERENCES users (id);"},
	{name: "alter constraint deferrable", setup: fkSetup, sql: "ALTER TABLE orders ALTER CONSTRAINT orders_user_fk DEFERRABLE;"},
	{name: "set schema", setup: "CREATE SCHEMA archive;", sql: "ALTER TABLE audit_log SET SCHEMA archive;"},
	{name: "set expression", minVersion: 170000, setup: "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;",
		sql: "ALTER TABLE orders ALTER COLUMN total_cents SET EXPRESSION AS (total * 1000);"},
	{name: "check not enforced", minVersion: 180000, sql: "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0) NOT ENFORCED;"},
	{name: "create index concurrently if not exists of an existing index", sql: nt + "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_status_idx ON orders (status);"},
	{name: "varchar(32) to varchar(32)", sql: "ALTER TABLE orders ALTER COLUMN status TYPE varchar(32);"},
	{name: "numeric(12,2) to numeric", sql: "ALTER TABLE orders ALTER COLUMN total TYPE numeric;"},
	{name: "numeric(12,2) to numeric(10,2)", sql: "ALTER TABLE orders ALTER COLUMN total TYPE numeric(10, 2);"},
	{name: "varchar(100) to text", sql: "ALTER TABLE users ALTER COLUMN name TYPE text;"},
	{name: "varchar(100) to varchar(50)", sql: "ALTER TABLE users ALTER COLUMN name TYPE varchar(50);"},
	{name: "bigint to int", sql: "ALTER TABLE audit_log ALTER COLUMN id TYPE int;"},
	{name: "timestamp to timestamp(3)", sql: "ALTER TABLE users ALTER COLUMN created TYPE timestamp(3);"},
	{name: "timestamptz to timestamp", sql: "SET LOCAL TimeZone = 'America/New_York';\nALTER TABLE audit_log ALTER COLUMN at TYPE timestamp;"},
	{name: "add column, constant cast default", sql: "ALTER TABLE orders ADD COLUMN source text DEFAULT 'web'::text;"},
	{name: "add column, jsonb default", sql: "ALTER TABLE orders ADD COLUMN meta jsonb NOT NULL DEFAULT '{}';"},
	{name: "add column, array default", sql: "ALTER TABLE users ADD COLUMN flags int[] DEFAULT '{}';"},
	{name: "add column, clock_timestamp()", sql: "ALTER TABLE orders ADD COLUMN created_at timestamptz DEFAULT clock_timestamp();"},
	{name: "add column, uuid not null", sql: "ALTER TABLE orders ADD COLUMN uid uuid NOT NULL DEFAULT gen_random_uuid();"},
	{name: "add column if not exists of an existing column", sql: "ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;"},
	{name: "unique constraint, deferrable", sql: "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email) DEFERRABLE;"},
	{name: "foreign key on delete cascade, not valid", sql: "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE NOT VALID;"},
	{name: "validate a constraint that is valid", setup: "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);", sql: "ALTER TABLE orders VALIDATE CONSTRAINT orders_total_check;"},
	{name: "drop column if exists of a missing column", sql: "ALTER TABLE orders DROP COLUMN IF EXISTS legacy;"},
	{name: "drop the primary key", sql: "ALTER TABLE orders DROP CONSTRAINT orders_pkey;"},
	{name: "create unique index concurrently on the key", sql: nt + "CREATE UNIQUE INDEX CONCURRENTLY orders_id_key ON orders (id);"},
	{name: "cluster on", sql: "ALTER TABLE orders CLUSTER ON orders_pkey;"},
	{name: "set without cluster", setup: "ALTER TABLE orders CLUSTER ON orders_pkey;", sql: "ALTER TABLE orders SET WITHOUT CLUSTER;"},
	{name: "reset a storage parameter", setup: "ALTER TABLE orders SET (fillfactor = 80);", sql: "ALTER TABLE orders RESET (fillfactor);"},
	{name: "set compression", sql: "ALTER TABLE orders ALTER COLUMN note SET COMPRESSION pglz;"},
	{name: "owner to current user", sql: "ALTER TABLE orders OWNER TO CURRENT_USER;"},
	{name: "force row level security", sql: "ALTER TABLE orders FORCE ROW LEVEL SECURITY;"},
	{name: "check on a partition", sql: "ALTER TABLE events_2024 ADD CONSTRAINT events_2024_id_check CHECK (id > 0);"},
	{name: "add column to a partitioned table", sql: "ALTER TABLE events ADD COLUMN note text;"},
	{name: "int to bigint on a partitioned table", sql: "ALTER TABLE events ALTER COLUMN id TYPE numeric;"},
	{name: "set not null on a partitioned table", sql: "ALTER TABLE events ALTER COLUMN id DROP NOT NULL;"},
	{name: "drop a partition", sql: "DROP TABLE events_2024;"},
	{name: "truncate a partition", sql: "TRUNCATE events_2024;"},
	{name: "truncate a partitioned table", sql: "TRUNCATE events;"},
	{name: "vacuum full of a table with a TOAST table", sql: nt + "VACUUM FULL users;"},
	{name: "cluster users", sql: "CLUSTER users USING users_pkey;"},
	{name: "refresh with no data", sql: "REFRESH MATERIALIZED VIEW user_domains WITH NO DATA;"},
	{name: "comment on index", sql: "COMMENT ON INDEX orders_status_idx IS 'by status';"},
	{name: "comment on materialized view", sql: "COMMENT ON MATERIALIZED VIEW user_domains IS 'domains';"},
	{name: "grant", sql: "GRANT SELECT ON orders TO PUBLIC;"},
	{name: "create sequence", sql: "CREATE SEQUENCE invoice_numbers START 1000;"},
	{name: "alter a standalone sequence", setup: "CREATE SEQUENCE invoice_numbers;", sql: "ALTER SEQUENCE invoice_numbers RESTART WITH 5000;"},
	{name: "create an enum", sql: "CREATE TYPE order_state AS ENUM ('new', 'paid');"},
	{name: "add an enum value", setup: "CREATE TYPE order_state AS ENUM ('new', 'paid');", sql: nt + "ALTER TYPE order_state ADD VALUE 'shipped';"},
	{name: "set_config lock_timeout", sql: "SELECT set_config('lock_timeout', '5s', true);"},
	{name: "update from another table", sql: "UPDATE orders o SET note = u.name FROM users u WHERE u.id = o.user_id AND o.id < 100;"},
	{name: "index with include", sql: "CREATE INDEX orders_user_id_incl_idx ON orders (user_id) INCLUDE (status);"},
	{name: "hash index", sql: "CREATE INDEX orders_status_hash_idx ON orders USING hash (status);"},
	{name: "expression index", sql: "CREATE INDEX users_lower_email_idx ON users (lower(email));"},
	{name: "drop index concurrently if exists", sql: nt + "DROP INDEX CONCURRENTLY IF EXISTS orders_status_idx;"},
	{name: "reindex the primary key", sql: "REINDEX INDEX orders_pkey;"},
	{name: "foreign key on delete set null, not valid", sql: "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL NOT VALID;"},
	{name: "rename a column of users", sql: "ALTER TABLE users RENAME COLUMN email TO mail;"},
	{name: "index storage parameter", sql: "ALTER INDEX orders_status_idx SET (fillfactor = 70);"},
	{name: "index reset storage parameter", sql: "ALTER INDEX orders_status_idx RESET (fillfactor);"},
	{name: "create table with a foreign key and an index", sql: "CREATE TABLE payments (id bigint PRIMARY KEY, order_id int NOT NULL REFERENCES orders (id));\nCREATE INDEX payments_order_id_idx ON payments (order_id);"},
	{name: "create a table in a new schema", sql: "CREATE SCHEMA billing;\nCREATE TABLE billing.invoices (id bigint PRIMARY KEY, user_id int REFERENCES public.users (id));"},
	{name: "drop a table that references another", setup: "CREATE TABLE payments (id bigint PRIMARY KEY, order_id int NOT NULL REFERENCES orders (id));", sql: "DROP TABLE payments;"},
	{name: "insert a row", sql: "INSERT INTO users (id, email, name) VALUES (1001, 'new@example.com', 'new');"},
	{name: "delete with a subquery", sql: "DELETE FROM orders WHERE user_id IN (SELECT id FROM users WHERE id > 490);"},
	{name: "analyze a partitioned table", sql: "ANALYZE events;"},
	{name: "vacuum a partition", sql: nt + "VACUUM events_2024;"},
	{name: "add a nullable column to users", sql: "ALTER TABLE users ADD COLUMN phone text;"},
	{name: "add a boolean with a default", sql: "ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;"},
	{name: "add a column with now() default to users", sql: "ALTER TABLE users ADD COLUMN seen_at timestamptz DEFAULT now();"},
	{name: "set a default of now()", sql: "ALTER TABLE audit_log ALTER COLUMN at SET DEFAULT now();"},
	{name: "drop a column of users", sql: "ALTER TABLE users DROP COLUMN name;"},
	{name: "index on a timestamp", sql: "CREATE INDEX users_created_idx ON users (created);"},
	{name: "index concurrently on a timestamp", sql: nt + "CREATE INDEX CONCURRENTLY users_created_idx ON users (created);"},
	{name: "check on users, not valid", sql: "ALTER TABLE users ADD CONSTRAINT users_email_check CHECK (email LIKE '%@%') NOT VALID;"},
	{name: "set not null on users", sql: "ALTER TABLE users ALTER COLUMN email SET NOT NULL;"},
	{name: "rename a materialized view", sql: "ALTER MATERIALIZED VIEW user_domains RENAME TO email_domains;"},
	{name: "rename a view", sql: "ALTER VIEW big_accounts RENAME TO large_accounts;"},
	{name: "do block", sql: "DO $$ BEGIN EXECUTE 'ALTER TABLE orders ADD COLUMN legacy_id int'; END $$;"},
	{name: "do block with a condition", sql: "DO $do$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'orders_user_id_idx') THEN CREATE INDEX orders_user_id_idx ON orders (user_id); END IF; END $do$;"},
	{name: "do block that builds its SQL", sql: "DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN legacy_id int', 'orders'); END $$;",
		explain: "waymark does not run PL/pgSQL: SQL built at run time (format, ||) is unknown to the rules, and the measurement shows the ACCESS EXCLUSIVE lock that its ALTER TABLE takes"},
}

// corpusRow is one line of the agreement table.
type corpusRow struct {
	name, sql, rules, predicted, measured, verdict string
	agrees, exact                                  bool
	dangerous, alarmed                             bool
}

func TestAgreementCorpus(t *testing.T) {
	version := serverVersion(t)
	rows := make([]corpusRow, len(corpus))
	ran := make([]bool, len(corpus))
	var mu sync.Mutex
	t.Run("cases", func(t *testing.T) {
		for i, tc := range corpus {
			if tc.minVersion > version {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				r := reviewCase(t, tc, version)
				st := lastStatement(r)
				row := corpusRow{name: tc.name, sql: tc.sql, agrees: st.Agrees(), exact: exactLocks(st),
					dangerous: dangerous(st), alarmed: alarmed(st)}
				row.rules, row.predicted, row.measured, row.verdict = describe(st)
				if row.agrees != (tc.explain == "") {
					t.Errorf("agrees %v, explained %q:\n%s", row.agrees, tc.explain, r)
				}
				if !row.agrees {
					row.verdict = "no: " + tc.explain
				}
				mu.Lock()
				rows[i], ran[i] = row, true
				mu.Unlock()
			})
		}
	})
	var table strings.Builder
	agree, total, explained, exact := 0, 0, 0, 0
	danger, caught, falseAlarms := 0, 0, 0
	fmt.Fprintf(&table, "| statement | rules | predicted | measured | agree | locked relations |\n|---|---|---|---|---|---|\n")
	for i, row := range rows {
		if !ran[i] {
			continue
		}
		total++
		if row.agrees {
			agree++
		} else {
			explained++
		}
		if row.dangerous {
			danger++
			if row.alarmed {
				caught++
			} else {
				t.Logf("missed: %s", row.name)
			}
		} else if row.alarmed {
			falseAlarms++
			t.Logf("false alarm: %s", row.name)
		}
		same := "same"
		if row.exact {
			exact++
		} else {
			same = "differ"
		}
		fmt.Fprintf(&table, "| `%s` | %s | %s | %s | %s | %s |\n", oneLine(lastSQL(row.sql)), row.rules, row.predicted, row.measured, row.verdict, same)
	}
	fmt.Fprintf(&table, "\n%d statements on PostgreSQL %d: %d agree, %d disagree (explained above); the static check names exactly the relations locked on %d.\n",
		total, version/10000, agree, explained, exact)
	fmt.Fprintf(&table, "The measurement finds %d of them dangerous (a rewrite, or a full scan under a lock that blocks writes, of a table that existed, or an index left invalid): the static check reports an error on %d of those, and on %d of the others.\n",
		danger, caught, falseAlarms)
	if total < 100 {
		t.Errorf("the corpus has %d statements for this version; want at least 100", total)
	}
	golden(t, fmt.Sprintf("agreement/pg%d.md", version/10000), table.String())
}

// reviewCase runs one corpus case on a database of its own.
func reviewCase(t *testing.T, tc corpusCase, version int) *review.Review {
	t.Helper()
	set := testsets.Map(t, map[string]string{"v1_base.up.sql": corpusBase + tc.setup, "v2_case.up.sql": tc.sql})
	ctx := t.Context()
	conn := pgtest.Conn(t)
	db := pgxbackend.New(conn, nil)
	if _, err := execute.Migrate(ctx, db, set, plan.To(1), nil); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(ctx, db, set, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The runner sets a lock timeout, so that the table shows the other
	// rules.
	return reviewPlan(t, conn, set, p, hazard.Options{ServerVersion: version, LockTimeout: 5 * time.Second})
}

func lastStatement(r *review.Review) *review.Statement {
	st := r.Steps[len(r.Steps)-1].Statements
	return &st[len(st)-1]
}

// describe sums a statement up for the agreement table.
func describe(st *review.Statement) (rules, predicted, measured, verdict string) {
	var rs []string
	for _, f := range st.Findings {
		if !strings.HasPrefix(f.Rule, "measured-") && !slices.Contains(rs, f.Rule) {
			rs = append(rs, f.Rule)
		}
	}
	rules = strings.Join(rs, ", ")
	switch {
	case !st.Static.Known && rules == "":
		rules = "(unknown statement)"
	case !st.Static.Known:
		rules += " (partly read)"
	}
	var ps []string
	for _, v := range st.Verdicts {
		s := short(v.Effect)
		if v.Status != review.Confirmed {
			s += " (" + v.Status.String() + ")"
		}
		ps = append(ps, s)
	}
	predicted = strings.Join(ps, ", ")
	m := st.Measured
	var ms []string
	order, strongest, _ := measuredLocks(st)
	for _, table := range order {
		ms = append(ms, strings.TrimSuffix(strongest[table].String(), "Lock")+" "+table)
	}
	// Rewrites name what was written anew: a table (with its indexes
	// and TOAST table) or, when the table was not, each index.
	var rewritten []string
	tables := map[string]bool{}
	for _, r := range m.Rewritten {
		if !r.New && r.TableName == "" {
			tables[r.String()] = true
		}
	}
	for _, r := range m.Rewritten {
		name := r.String()
		switch {
		case r.New || r.Kind == "sequence" || r.TableName != "" && tables[r.TableName]:
			continue
		case r.Kind == "toast table" || strings.HasPrefix(r.Schema, "pg_toast"):
			name = r.TableName + " (TOAST)"
		}
		if !slices.Contains(rewritten, name) {
			rewritten = append(rewritten, name)
		}
	}
	for _, name := range rewritten {
		ms = append(ms, "rewrite "+name)
	}
	var scanned []string
	for _, r := range m.Scanned {
		if !r.New && !slices.Contains(scanned, r.String()) {
			scanned = append(scanned, r.String())
		}
	}
	for _, name := range scanned {
		ms = append(ms, "scan "+name)
	}
	if m.Observed {
		ms = append(ms, "(observed)")
	}
	measured = strings.Join(ms, ", ")
	verdict = "yes"
	return rules, orDash(predicted), orDash(measured), verdict
}

// measuredLocks returns the relations the statement locked, SHARE UPDATE
// EXCLUSIVE or stronger, as the review counts them: those that existed
// before the step, each index, TOAST table or owned sequence standing for
// its table (partitions stand for themselves), an index the statement
// dropped left out, and a lock that its step held as strongly on the
// table since an earlier statement left out too.
func measuredLocks(st *review.Statement) (order []string, strongest, earlier map[string]hazard.LockMode) {
	m := st.Measured
	strongest = map[string]hazard.LockMode{}
	earlier = map[string]hazard.LockMode{}
	table := func(r measure.Relation) string {
		if r.TableName != "" && r.Kind != "table" && r.Kind != "partitioned table" {
			return r.TableName
		}
		return r.String()
	}
	for _, l := range m.Locks {
		if l.Relation.New || l.Relation.Dropped && l.Relation.Kind == "index" {
			continue
		}
		if l.Since != st.Pos.Statement && !m.Observed {
			earlier[table(l.Relation)] = max(earlier[table(l.Relation)], l.Mode)
		}
	}
	for _, l := range m.Locks {
		if l.Relation.New || l.Relation.Dropped && l.Relation.Kind == "index" || l.Mode < hazard.ShareUpdateExclusive || l.Since != st.Pos.Statement && !m.Observed {
			continue
		}
		name := table(l.Relation)
		if earlier[name].Covers(l.Mode) {
			continue
		}
		if _, ok := strongest[name]; !ok {
			order = append(order, name)
		}
		strongest[name] = max(strongest[name], l.Mode)
	}
	return order, strongest, earlier
}

// exactLocks reports whether the static check names exactly the
// relations that the measurement saw locked (SHARE UPDATE EXCLUSIVE or
// stronger), indexes standing for their tables.
func exactLocks(st *review.Statement) bool {
	order, _, earlier := measuredLocks(st)
	measured := map[string]bool{}
	for _, name := range order {
		measured[strings.TrimPrefix(name, "public.")] = true
	}
	// The tables of the indexes the measurement saw.
	tableOf := map[string]string{}
	m := st.Measured
	for _, l := range m.Locks {
		if r := l.Relation; r.TableName != "" && r.Kind != "table" && r.Kind != "partitioned table" {
			tableOf[r.String()] = r.TableName
		}
	}
	for _, rels := range [][]measure.Relation{m.Rewritten, m.Dropped, m.InvalidIndexes} {
		for _, r := range rels {
			if r.TableName != "" && r.Kind != "table" && r.Kind != "partitioned table" {
				tableOf[r.String()] = r.TableName
			}
		}
	}
	predicted := map[string]bool{}
	for _, v := range st.Verdicts {
		e := v.Effect
		if e.Kind != hazard.Lock || e.Mode < hazard.ShareUpdateExclusive || v.Status == review.New {
			continue
		}
		name := e.Relation.String()
		if t, ok := tableOf[name]; ok {
			name = t
		}
		name = strings.TrimPrefix(name, "public.")
		predicted[name] = true
		if earlier[name] >= hazard.ShareUpdateExclusive {
			// Held since an earlier statement of the step: this one
			// locks it too, though it adds nothing.
			measured[name] = true
		}
	}
	return maps.Equal(measured, predicted)
}

// dangerous reports whether the measurement shows the statement hurting
// a busy table for as long as it reads or writes the whole of it: a
// rewrite or a full scan of a table that existed before its step, while
// a lock that blocks its writes is held (its reads, for a materialized
// view, which only REFRESH writes), or an index left invalid. TRUNCATE's
// new files are empty: it reads nothing, and its lock is brief.
func dangerous(st *review.Statement) bool {
	m := st.Measured
	if st.Static.Kind == "TRUNCATE" {
		return false
	}
	blocked := map[uint32]bool{}
	for _, l := range m.Locks {
		r := l.Relation
		if !r.New && !r.Dropped && (l.Mode.BlocksWrites() && r.Kind != "materialized view" || l.Mode.BlocksReads()) {
			blocked[r.Root()] = true
		}
	}
	for _, rels := range [][]measure.Relation{m.Rewritten, m.Scanned} {
		for _, r := range rels {
			if !r.New && r.Kind != "sequence" && blocked[r.Root()] {
				return true
			}
		}
	}
	for _, r := range m.InvalidIndexes {
		if r.Kind == "index" {
			return true
		}
	}
	return false
}

// alarmed reports whether the static check reports an error (a hazard
// of error severity) for the statement.
func alarmed(st *review.Statement) bool {
	for _, f := range st.Static.Findings {
		if f.Severity == hazard.SeverityError {
			return true
		}
	}
	return false
}

func short(e hazard.Effect) string {
	switch e.Kind {
	case hazard.Lock:
		return strings.TrimSuffix(e.Mode.String(), "Lock") + " " + e.Relation.String()
	case hazard.Rewrite:
		return "rewrite " + e.Relation.String()
	case hazard.Scan:
		return "scan " + e.Relation.String()
	}
	return e.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// lastSQL returns the last statement of a case's script, without its
// directive line.
func lastSQL(sql string) string {
	lines := strings.Split(strings.TrimSpace(sql), "\n")
	return lines[len(lines)-1]
}

func oneLine(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// golden compares got with the file testdata/name, or writes it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from what the test made (run with -update to accept it):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func serverVersion(t *testing.T) int {
	t.Helper()
	var v int
	if err := pgtest.Conn(t).QueryRow(t.Context(), "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDocsShowTheAgreement checks that docs/safety.md shows the agreement
// table as the corpus makes it on PostgreSQL 15.
func TestDocsShowTheAgreement(t *testing.T) {
	table, err := os.ReadFile(filepath.Join("testdata", "agreement", "pg15.md"))
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join(testsets.Dir(t), "..", "docs", "safety.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(guide), strings.TrimSpace(string(table))) {
		t.Error("docs/safety.md does not show hazard/review/testdata/agreement/pg15.md as it is; copy the table in")
	}
}
