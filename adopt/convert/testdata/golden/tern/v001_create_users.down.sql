---- create above / drop below ----

DROP TABLE users;
