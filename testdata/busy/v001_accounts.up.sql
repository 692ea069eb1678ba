CREATE TABLE accounts (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email varchar(100) NOT NULL,
    plan  text
);
CREATE TABLE invoices (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint,
    amount     numeric(10, 2) NOT NULL
);
INSERT INTO accounts (email, plan) SELECT 'a' || g || '@example.com', 'free' FROM generate_series(1, 100) g;
INSERT INTO invoices (account_id, amount) SELECT 1 + g % 100, g FROM generate_series(1, 1000) g;
