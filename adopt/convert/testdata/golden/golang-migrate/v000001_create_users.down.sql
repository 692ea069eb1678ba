-- waymark:no-transaction
BEGIN;
DROP TABLE users;
COMMIT;
