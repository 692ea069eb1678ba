-- waymark:no-transaction
DROP INDEX IF EXISTS identities_schema_id_idx;
DROP INDEX IF EXISTS identities_nid_idx;
