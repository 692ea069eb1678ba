-- waymark:no-transaction
DROP TABLE event_kinds;
DROP TABLE events;
