-- +goose Down
DROP TABLE users;
