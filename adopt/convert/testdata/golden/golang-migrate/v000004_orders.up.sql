CREATE TYPE order_status AS ENUM ('new', 'paid');

CREATE TABLE orders (
    id      bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    status  order_status NOT NULL DEFAULT 'new',
    total   numeric(12, 2) NOT NULL CHECK (total >= 0),
    note    text DEFAULT 'n/a; paid'
);
CREATE INDEX orders_user_id_idx ON orders (user_id);
