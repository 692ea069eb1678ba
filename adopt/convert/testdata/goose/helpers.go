package migrations

// Helpers shared by Go migrations; goose ignores this file.
