CREATE OR REPLACE FUNCTION bump(a$b integer, step integer DEFAULT 1)
RETURNS integer
LANGUAGE plpgsql
AS $body$
DECLARE
    total integer := 0;
BEGIN
    -- semicolons inside the body do not end the statement;
    total := $1 + $2;
    IF total > 10 THEN
        RAISE NOTICE 'big; %', total;
    END IF;
    EXECUTE format($q$SELECT %s$q$, total);
    RETURN total;
END;
$body$;

SELECT bump(1), a$b$c FROM t$1 WHERE x = $1 AND y = $2;
PREPARE p(int) AS SELECT $1;
