-- waymark:no-transaction
-- +goose Down
DROP INDEX CONCURRENTLY users_email_key;
