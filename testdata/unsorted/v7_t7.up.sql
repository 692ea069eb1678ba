CREATE TABLE t7 (id int);
