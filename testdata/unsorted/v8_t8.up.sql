CREATE TABLE t8 (id int);
