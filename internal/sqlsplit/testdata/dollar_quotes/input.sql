SELECT $$a; 'b'; "c"$$;
SELECT $fn$ contains $$ and ; $fn$;
SELECT $a$ outer $b$ ; inner $b$ ; $A$ is not the end $a$;
DO $do$ BEGIN RAISE NOTICE 'x;'; END $do$;
SELECT $_tag9$ ;$_tag9$, $é$;$é$;
