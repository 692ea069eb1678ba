CREATE TABLE users (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    active boolean NOT NULL DEFAULT true
);
