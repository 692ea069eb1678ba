CREATE TABLE t6 (id int);
