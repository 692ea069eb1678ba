CREATE TABLE bom (id int);
