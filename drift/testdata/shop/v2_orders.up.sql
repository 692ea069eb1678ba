CREATE TABLE orders (
	id bigserial PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES users (id),
	total numeric NOT NULL DEFAULT 0,
	status text NOT NULL DEFAULT 'new'
);
ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0) NOT VALID;
