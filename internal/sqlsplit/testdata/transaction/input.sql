BEGIN;
CREATE TABLE t (id int);
INSERT INTO t VALUES (1);
COMMIT;
begin transaction isolation level serializable;
end;
START TRANSACTION; SELECT CASE WHEN true THEN 1 END; COMMIT;
