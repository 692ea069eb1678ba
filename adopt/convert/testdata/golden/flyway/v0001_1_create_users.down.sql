DROP VIEW IF EXISTS active_users;
DROP FUNCTION IF EXISTS user_label(users);
DROP TABLE users;
