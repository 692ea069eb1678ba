-- waymark:no-transactoin
CREATE INDEX CONCURRENTLY i ON t (x);
