CREATE TABLE "we;ird ""name""" ("col;1" int, "" int);
SELECT "a""b" FROM "x";
SELECT U&"d\0061t;" FROM t;
