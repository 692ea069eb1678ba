---- tern: disable-tx ----
CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);

---- create above / drop below ----
---- tern: disable-tx ----
DROP INDEX CONCURRENTLY users_email_key;
