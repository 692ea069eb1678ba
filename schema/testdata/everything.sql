-- One of every kind of object a snapshot covers. schema_test.go applies it
-- and checks that each shows up.
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'the application';
DO $$ BEGIN CREATE ROLE waymark_schema_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
GRANT USAGE ON SCHEMA app TO waymark_schema_reader;

CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN app.positive AS integer NOT NULL DEFAULT 1 CHECK (VALUE > 0);
CREATE DOMAIN app.code AS text COLLATE "C";
CREATE TYPE app.pair AS (a integer, b text COLLATE "C");
CREATE TYPE app.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
COMMENT ON TYPE app.mood IS 'how it went';

CREATE SEQUENCE app.counter AS integer START 10 INCREMENT 5 MINVALUE 10 MAXVALUE 1000 CACHE 2 CYCLE;

CREATE TABLE app.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    name text COLLATE "C" DEFAULT 'anon',
    mood app.mood,
    score app.positive,
    serial_no serial,
    doubled integer GENERATED ALWAYS AS (score * 2) STORED,
    bio text COMPRESSION pglz,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_name_check CHECK (name <> '') NOT VALID
) WITH (fillfactor = 70);
COMMENT ON TABLE app.users IS 'people';
COMMENT ON COLUMN app.users.email IS 'login';
CREATE INDEX users_name_idx ON app.users (lower(name));
CREATE INDEX users_mood_idx ON app.users (mood) WHERE mood IS NOT NULL;
COMMENT ON INDEX app.users_name_idx IS 'for search';
CLUSTER app.users USING users_name_idx;
GRANT SELECT ON app.users TO waymark_schema_reader;
GRANT UPDATE (name) ON app.users TO waymark_schema_reader;
ALTER TABLE app.users REPLICA IDENTITY FULL;
ALTER TABLE app.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_self ON app.users AS RESTRICTIVE FOR UPDATE TO waymark_schema_reader
    USING (name = current_user) WITH CHECK (name = current_user);

CREATE TABLE app.orders (
    id int PRIMARY KEY,
    user_id bigint REFERENCES app.users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    during tstzrange,
    CONSTRAINT orders_no_overlap EXCLUDE USING gist (during WITH &&)
);
CREATE UNLOGGED TABLE app.scratch (x int);
CREATE TABLE app.events (at date NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE app.base (x int);
CREATE TABLE app.child (y int) INHERITS (app.base);

CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.name := coalesce(NEW.name, 'x');
    RETURN NEW;
END;
$$;
CREATE FUNCTION app.add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE
    BEGIN ATOMIC SELECT a + b; END;
CREATE PROCEDURE app.noop() LANGUAGE sql AS $$ SELECT 1 $$;
CREATE AGGREGATE app.total(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0');
REVOKE EXECUTE ON FUNCTION app.add(integer, integer) FROM PUBLIC;
COMMENT ON FUNCTION app.add(integer, integer) IS 'adds';
CREATE TRIGGER users_touch BEFORE INSERT ON app.users FOR EACH ROW EXECUTE FUNCTION app.touch();
ALTER TABLE app.users DISABLE TRIGGER users_touch;
CREATE RULE scratch_ignore AS ON DELETE TO app.scratch DO INSTEAD NOTHING;

CREATE VIEW app.user_names WITH (security_barrier) AS SELECT id, name FROM app.users WHERE name IS NOT NULL;
CREATE MATERIALIZED VIEW app.user_count AS SELECT count(*) AS n FROM app.users;
CREATE UNIQUE INDEX user_count_n ON app.user_count (n);

ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO waymark_schema_reader;
CREATE COLLATION app.bytes FROM "C";
CREATE STATISTICS app.users_stats (dependencies) ON email, name FROM app.users;
CREATE CAST (app.pair AS text) WITH INOUT;
CREATE TEXT SEARCH CONFIGURATION app.simple_cfg (COPY = pg_catalog.simple);
