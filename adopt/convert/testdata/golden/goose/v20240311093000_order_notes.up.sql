-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'shipped_at') THEN
        ALTER TABLE orders ADD COLUMN shipped_at timestamptz;
    END IF;
END
$$;
-- +goose StatementEnd

