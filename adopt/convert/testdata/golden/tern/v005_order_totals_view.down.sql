---- create above / drop below ----

DROP VIEW order_totals;
