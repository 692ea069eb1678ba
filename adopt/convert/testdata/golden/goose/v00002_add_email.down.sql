-- +goose Down
DROP TRIGGER users_lower_email ON users;
DROP FUNCTION users_lower_email();
ALTER TABLE users DROP COLUMN email;
