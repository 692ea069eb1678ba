-- waymark:no-transaction
INSERT INTO event_kinds VALUES ('signup');
INSERT INTO event_kinds VALUES ('login');
