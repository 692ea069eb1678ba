CREATE OR REPLACE FUNCTION user_label(u users) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT u.name || coalesce(' <' || u.email || '>', '') $$;
