-- waymark:no-transaction
---- create above / drop below ----
---- tern: disable-tx ----
DROP INDEX CONCURRENTLY users_email_key;
