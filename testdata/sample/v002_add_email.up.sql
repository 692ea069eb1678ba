ALTER TABLE users ADD COLUMN email text;

-- Normalise addresses on the way in.
CREATE FUNCTION users_lower_email() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.email := lower(NEW.email);
    RETURN NEW;
END;
$fn$;

CREATE TRIGGER users_lower_email BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_lower_email();
