-- waymark:no-transaction
CREATE INDEX CONCURRENTLY a ON two (id);
CREATE INDEX CONCURRENTLY b ON two (broken);
