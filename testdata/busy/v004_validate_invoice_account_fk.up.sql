-- Reads every invoice under SHARE UPDATE EXCLUSIVE: reads and writes go on.
ALTER TABLE invoices VALIDATE CONSTRAINT invoices_account_fk;
