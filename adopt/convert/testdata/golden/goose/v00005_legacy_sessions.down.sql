-- +goose Down
DROP TABLE IF EXISTS legacy_sessions;
