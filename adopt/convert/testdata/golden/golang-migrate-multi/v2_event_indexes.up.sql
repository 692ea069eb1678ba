-- waymark:no-transaction
-- Run with x-multi-statement=true: each index is built on its own.
CREATE INDEX CONCURRENTLY events_kind_idx ON events (kind);
CREATE INDEX CONCURRENTLY events_at_idx ON events (at);
