COMMENT ON TABLE users IS 'people who order';
CREATE INDEX orders_user_id_idx ON orders (user_id);
