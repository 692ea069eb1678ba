---- create above / drop below ----

DROP TABLE orders;
DROP TYPE order_status;
