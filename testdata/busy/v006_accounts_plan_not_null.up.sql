SET LOCAL lock_timeout = '3s';
-- waymark:allow set-not-null "accounts is small: 40 rows in production"
ALTER TABLE accounts ALTER COLUMN plan SET NOT NULL;
