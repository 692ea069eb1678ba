CREATE FUNCTION add(a integer, b integer) RETURNS integer
    LANGUAGE SQL
    IMMUTABLE
    BEGIN ATOMIC
        SELECT a + b;
    END;

create or replace procedure insert_data(a integer, b integer)
language sql
begin atomic
  insert into tbl values (a);
  insert into tbl values (case when b > 0 then b else 0 end);
  select case b when 1 then 'one;' end;
end;

CREATE FUNCTION f(begin int, "end" int) RETURNS int RETURN CASE WHEN begin > 0 THEN 1 END;
CREATE FUNCTION g() RETURNS int LANGUAGE sql /* BEGIN */ RETURN 1;
CREATE PROCEDURE p() BEGIN ATOMIC END;
SELECT 'after';
