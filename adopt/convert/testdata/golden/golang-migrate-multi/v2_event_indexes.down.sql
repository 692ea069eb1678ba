-- waymark:no-transaction
DROP INDEX CONCURRENTLY events_at_idx;
DROP INDEX CONCURRENTLY events_kind_idx;
