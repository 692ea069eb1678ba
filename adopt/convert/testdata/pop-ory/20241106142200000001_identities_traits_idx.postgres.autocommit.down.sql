DROP INDEX CONCURRENTLY IF EXISTS identities_created_at_idx;
