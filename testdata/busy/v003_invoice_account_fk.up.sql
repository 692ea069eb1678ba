SET LOCAL lock_timeout = '3s';
-- NOT VALID: checks new rows only; the old ones are checked in the next step.
ALTER TABLE invoices ADD CONSTRAINT invoices_account_fk
    FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;
