CREATE INDEX IF NOT EXISTS identities_nid_idx ON identities (nid ASC);
CREATE INDEX IF NOT EXISTS identities_schema_id_idx ON identities (schema_id ASC);
