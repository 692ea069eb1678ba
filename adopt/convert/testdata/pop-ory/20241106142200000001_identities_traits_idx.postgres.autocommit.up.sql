CREATE INDEX CONCURRENTLY IF NOT EXISTS identities_created_at_idx ON identities (created_at DESC);
