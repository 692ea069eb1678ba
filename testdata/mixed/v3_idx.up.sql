-- waymark:no-transaction
CREATE INDEX CONCURRENTLY i ON two (id);