DROP INDEX IF EXISTS identities_created_at_idx;
