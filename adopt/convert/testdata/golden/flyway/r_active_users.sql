CREATE OR REPLACE VIEW active_users AS
SELECT id, user_label(u) AS label FROM users u WHERE active;
