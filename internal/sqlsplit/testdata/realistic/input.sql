-- 0007_billing.up.sql
--
-- Adds accounts, invoices and the functions that keep balances current.
-- Reviewed by the billing team; see the design doc for the state machine.

SET lock_timeout = '5s';
SET search_path = billing, public;

CREATE SCHEMA IF NOT EXISTS billing;

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;

/*
 * Account types. "trial" accounts become "standard" after 30 days;
 * see expire_trials() below.
 */
CREATE TYPE billing.account_kind AS ENUM ('trial', 'standard', 'enterprise');

CREATE TABLE billing.accounts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (name <> ''),
    kind        billing.account_kind NOT NULL DEFAULT 'trial',
    balance     numeric(12, 2) NOT NULL DEFAULT 0,
    "limit"     numeric(12, 2),          -- NULL means unlimited
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_public_id_key UNIQUE (public_id)
);

COMMENT ON TABLE billing.accounts IS 'One row per paying customer; balances in EUR.';
COMMENT ON COLUMN billing.accounts."limit" IS E'Credit limit.\nNULL means the account can''t go negative\\overdrawn.';

CREATE TABLE billing.invoices (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES billing.accounts (id) ON DELETE CASCADE,
    number      text NOT NULL,
    status      text NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'open', 'paid', 'void')),
    total       numeric(12, 2) NOT NULL DEFAULT 0,
    issued_at   timestamptz,
    paid_at     timestamptz,
    notes       text
);

CREATE INDEX invoices_account_id_idx ON billing.invoices (account_id);
CREATE UNIQUE INDEX invoices_number_key ON billing.invoices (lower(number))
    WHERE status <> 'void';

CREATE TABLE billing.invoice_lines (
    invoice_id  bigint NOT NULL REFERENCES billing.invoices (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    description text NOT NULL,
    quantity    numeric(10, 3) NOT NULL DEFAULT 1,
    unit_price  numeric(12, 2) NOT NULL,
    PRIMARY KEY (invoice_id, position)
);

-- Keep updated_at current on every write.
CREATE OR REPLACE FUNCTION billing.touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER accounts_touch
    BEFORE UPDATE ON billing.accounts
    FOR EACH ROW EXECUTE FUNCTION billing.touch_updated_at();

/* Recompute an invoice's total from its lines; called by the trigger below. */
CREATE OR REPLACE FUNCTION billing.recompute_total(p_invoice bigint)
RETURNS numeric
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_total numeric(12, 2);
BEGIN
    SELECT coalesce(sum(quantity * unit_price), 0)
      INTO v_total
      FROM billing.invoice_lines
     WHERE invoice_id = p_invoice;

    UPDATE billing.invoices
       SET total = v_total
     WHERE id = p_invoice;

    -- Log large invoices; the message uses a nested dollar quote.
    IF v_total > 10000 THEN
        EXECUTE format($q$INSERT INTO billing.audit (message) VALUES (%L)$q$,
                       'invoice ' || p_invoice || ' is large; check it');
    END IF;

    RETURN v_total;
END;
$fn$;

CREATE OR REPLACE FUNCTION billing.lines_changed()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM billing.recompute_total(OLD.invoice_id);
        RETURN OLD;
    END IF;
    PERFORM billing.recompute_total(NEW.invoice_id);
    RETURN NEW;
END;
$fn$;

CREATE TRIGGER invoice_lines_changed
    AFTER INSERT OR UPDATE OR DELETE ON billing.invoice_lines
    FOR EACH ROW EXECUTE FUNCTION billing.lines_changed();

CREATE TABLE billing.audit (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    message  text NOT NULL
);

-- SQL-standard bodies (PostgreSQL 14+): semicolons inside BEGIN ATOMIC.
CREATE FUNCTION billing.invoice_label(p_number text, p_status text)
RETURNS text
LANGUAGE sql
IMMUTABLE
BEGIN ATOMIC
    SELECT CASE p_status
               WHEN 'paid' THEN p_number || ' (paid)'
               WHEN 'void' THEN p_number || ' (void; ignore)'
               ELSE p_number
           END;
END;

CREATE PROCEDURE billing.expire_trials(p_days integer DEFAULT 30)
LANGUAGE sql
BEGIN ATOMIC
    UPDATE billing.accounts
       SET kind = 'standard'
     WHERE kind = 'trial'
       AND created_at < now() - make_interval(days => p_days);
    INSERT INTO billing.audit (message) VALUES ('trials expired');
END;

CREATE FUNCTION billing.balance_of(p_account bigint) RETURNS numeric
    LANGUAGE sql STABLE
    RETURN (SELECT balance FROM billing.accounts WHERE id = p_account);

CREATE VIEW billing.open_invoices AS
SELECT i.id,
       i.number,
       a.name AS account,
       i.total,
       billing.invoice_label(i.number, i.status) AS label
  FROM billing.invoices i
  JOIN billing.accounts a ON a.id = i.account_id
 WHERE i.status = 'open';

DO $do$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT id FROM billing.accounts WHERE "limit" IS NULL LOOP
        RAISE NOTICE 'account % has no limit; setting 0', r.id;
        UPDATE billing.accounts SET "limit" = 0 WHERE id = r.id;
    END LOOP;
END
$do$;

INSERT INTO billing.accounts (name, kind, balance)
VALUES ('Ann''s Café', 'standard', 12.50),
       ('Bob; Ltd.', 'enterprise', 0),
       ('日本 KK', 'trial', 0);

INSERT INTO billing.audit (message)
VALUES (E'seeded accounts:\n\t3 rows; see \\billing\\accounts'),
       ($$migration 0007 said "hello; world"$$);

GRANT USAGE ON SCHEMA billing TO billing_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA billing TO billing_reader;
REVOKE ALL ON FUNCTION billing.recompute_total(bigint) FROM PUBLIC;

ALTER TABLE billing.invoices
    ADD CONSTRAINT invoices_paid_at_check
    CHECK (status <> 'paid' OR paid_at IS NOT NULL) NOT VALID;

ALTER TABLE billing.invoices VALIDATE CONSTRAINT invoices_paid_at_check;

-- end of migration
