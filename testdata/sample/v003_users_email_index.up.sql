-- waymark:no-transaction
-- Built without blocking writes; CONCURRENTLY cannot run in a transaction.
CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
