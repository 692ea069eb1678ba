-- waymark:no-transaction
DROP INDEX CONCURRENTLY items_id_idx;
DROP INDEX CONCURRENTLY items_sku_idx;
