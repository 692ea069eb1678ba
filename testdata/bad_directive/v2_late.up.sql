CREATE TABLE t (x int);
-- waymark:no-transaction
CREATE INDEX CONCURRENTLY i ON t (x);
