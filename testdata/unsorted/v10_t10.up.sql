CREATE TABLE t10 (id int);
