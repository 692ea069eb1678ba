-- waymark:no-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx
    ON users (lower(email));

DROP INDEX CONCURRENTLY IF EXISTS users_old_idx;
REINDEX INDEX CONCURRENTLY users_name_idx;
ALTER TYPE mood ADD VALUE 'meh';
