-- waymark:no-transaction
DROP INDEX CONCURRENTLY i;