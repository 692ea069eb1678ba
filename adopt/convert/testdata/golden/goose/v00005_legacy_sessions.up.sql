-- waymark:empty "an empty step in the goose migrations this set was converted from"
-- +goose Up
-- The sessions table moved to the auth service; nothing to create here any
-- more, but going down must still remove it from old databases.

