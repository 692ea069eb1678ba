-- waymark:no-transaction
---- tern: disable-tx ----
CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);

