-- Pushing each person's status to the health-code platform (健康码) through an outbox.

-- Where results go, per region: a FHIR R4 endpoint over HTTP, or a table in the platform's
-- PostgreSQL database.
CREATE TABLE push_sink (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    region_prefix   TEXT NOT NULL,
    kind            TEXT NOT NULL,
    url             TEXT NOT NULL,
    token           TEXT,
    hmac_key        TEXT,
    batch_size      INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    enabled         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL
);

-- The status last enqueued for each person, and its version.
CREATE TABLE person_status (
    person_id   INTEGER PRIMARY KEY REFERENCES person(id),
    status      TEXT NOT NULL,
    valid_until INTEGER,
    version     INTEGER NOT NULL,
    changed_at  INTEGER NOT NULL
);

-- 发件箱 one message per (person, status version, sink), written in the transaction of the
-- change; a worker delivers it. The key and version let the receiver discard re-deliveries
-- and order a correction after the original.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    sink_id         INTEGER NOT NULL REFERENCES push_sink(id),
    key             TEXT NOT NULL,
    version         INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    solo            INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_try_at     INTEGER NOT NULL,
    claimed_until   INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (sink_id, key, version)
);
-- The worker takes pending messages of a sink oldest first; leases that ran out are found
-- among the few messages being sent.
CREATE INDEX outbox_queue ON outbox (sink_id, solo, status, id);
CREATE INDEX outbox_status ON outbox (status);
CREATE INDEX outbox_key ON outbox (sink_id, key, version);
