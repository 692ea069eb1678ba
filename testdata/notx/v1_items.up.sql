CREATE TABLE items (id int, sku text);
