-- waymark:no-transaction
CREATE INDEX CONCURRENTLY items_sku_idx ON items (sku);
CREATE INDEX CONCURRENTLY items_id_idx ON items (id);
