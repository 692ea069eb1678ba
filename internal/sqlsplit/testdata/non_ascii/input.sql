-- café, 日本語, 🐘
SELECT 'é'; SELECT '日本'; /* 🐘🐘 */ SELECT 1;
INSERT INTO t VALUES ('🐘;'); SELECT "naïve;col", dépôt FROM 表;
