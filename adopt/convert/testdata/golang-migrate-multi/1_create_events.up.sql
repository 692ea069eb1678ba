CREATE TABLE events (
    id      bigserial PRIMARY KEY,
    kind    text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    payload jsonb
);
CREATE TABLE event_kinds (kind text PRIMARY KEY);
