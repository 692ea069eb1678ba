-- Users of the accounts service.
-- +goose Up
CREATE TABLE users (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE users IS 'people who sign in; name may hold ";" and quotes like '' or "';

-- +goose Down
DROP TABLE users;
