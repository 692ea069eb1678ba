CREATE TABLE two (id int);
-- note
INSERT INTO two VALUES ('café', broken);