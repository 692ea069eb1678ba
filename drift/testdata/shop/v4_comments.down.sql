DROP INDEX orders_user_id_idx;
COMMENT ON TABLE users IS NULL;
