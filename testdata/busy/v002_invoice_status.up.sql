SET LOCAL lock_timeout = '3s';
-- A constant default is stored once, in the catalog: no rewrite.
ALTER TABLE invoices ADD COLUMN status text NOT NULL DEFAULT 'open';
-- A volatile default is computed for every row: the table is rewritten.
ALTER TABLE invoices ADD COLUMN public_id uuid DEFAULT gen_random_uuid();
-- More digits, same scale: the catalog changes, the rows do not.
ALTER TABLE invoices ALTER COLUMN amount TYPE numeric(14, 2);
CREATE INDEX invoices_status_idx ON invoices (status);
