-- +goose Up
-- The sessions table moved to the auth service; nothing to create here any
-- more, but going down must still remove it from old databases.

-- +goose Down
DROP TABLE IF EXISTS legacy_sessions;
