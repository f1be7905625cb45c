-- natlis foundation schema (SQLite). Times are INTEGER microseconds since the Unix epoch, UTC.
-- Flags are INTEGER 0/1. The PostgreSQL schema in ../postgres mirrors this one column for column.

CREATE TABLE setting (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL
);

CREATE TABLE lab (
    id                  INTEGER PRIMARY KEY,
    code                TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    licence_no          TEXT NOT NULL,
    accredited_until    TEXT NOT NULL,
    address             TEXT NOT NULL,
    phone               TEXT NOT NULL,
    opening_hours       TEXT NOT NULL,
    price_single_cents  INTEGER NOT NULL,
    price_pooled_cents  INTEGER NOT NULL,
    daily_capacity      INTEGER NOT NULL,
    region              TEXT NOT NULL,
    created_at          INTEGER NOT NULL
);

CREATE TABLE site (
    id                        INTEGER PRIMARY KEY,
    code                      TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    address                   TEXT NOT NULL,
    region                    TEXT NOT NULL,
    lab_id                    INTEGER REFERENCES lab(id),
    pool_sizes                TEXT NOT NULL,
    accepts_foreign_barcodes  INTEGER NOT NULL,
    created_at                INTEGER NOT NULL
);

CREATE TABLE institution (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    address     TEXT NOT NULL,
    phone       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE person (
    id              INTEGER PRIMARY KEY,
    uid             TEXT NOT NULL UNIQUE,
    doc_type        TEXT NOT NULL,
    doc_no          TEXT NOT NULL,
    name            TEXT NOT NULL,
    phone           TEXT NOT NULL,
    sex             TEXT,
    birth_date      TEXT,
    personal_code   TEXT UNIQUE,
    institution_id  INTEGER REFERENCES institution(id),
    created_at      INTEGER NOT NULL,
    UNIQUE (doc_type, doc_no)
);

CREATE TABLE barcode_counter (
    prefix      TEXT PRIMARY KEY,
    next_seq    INTEGER NOT NULL
);

CREATE TABLE barcode_batch (
    id          INTEGER PRIMARY KEY,
    site_id     INTEGER NOT NULL REFERENCES site(id),
    prefix      TEXT NOT NULL,
    first_seq   INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    issued_at   INTEGER NOT NULL,
    issued_by   TEXT NOT NULL
);
CREATE INDEX barcode_batch_range ON barcode_batch (prefix, first_seq);

CREATE TABLE tube (
    id                  INTEGER PRIMARY KEY,
    barcode             TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL,
    status              TEXT NOT NULL,
    nominal_size        INTEGER NOT NULL,
    member_count        INTEGER NOT NULL,
    short_closed        INTEGER NOT NULL,
    sample_type         TEXT NOT NULL,
    site_id             INTEGER NOT NULL REFERENCES site(id),
    collector           TEXT NOT NULL,
    collected_at        INTEGER NOT NULL,
    category            TEXT NOT NULL,
    priority            TEXT NOT NULL,
    deadline_at         INTEGER NOT NULL,
    payer               TEXT NOT NULL,
    payer_institution_id INTEGER REFERENCES institution(id),
    env_item            TEXT,
    env_lot             TEXT,
    env_origin          TEXT,
    env_location        TEXT,
    issued_batch_id     INTEGER REFERENCES barcode_batch(id),
    opened_by           TEXT NOT NULL,
    closed_at           INTEGER,
    closed_by           TEXT,
    lab_id              INTEGER REFERENCES lab(id),
    received_at         INTEGER,
    received_by         TEXT,
    transport_minutes   INTEGER,
    transport_over_limit INTEGER NOT NULL,
    rejected_at         INTEGER,
    rejected_by         TEXT,
    rejection_reason    TEXT,
    rejection_note      TEXT,
    created_at          INTEGER NOT NULL
);
CREATE INDEX tube_site_collected ON tube (site_id, collected_at);
CREATE INDEX tube_lab_status ON tube (lab_id, status);
CREATE INDEX tube_status_deadline ON tube (status, deadline_at);

CREATE TABLE tube_member (
    tube_id     INTEGER NOT NULL REFERENCES tube(id),
    person_id   INTEGER NOT NULL REFERENCES person(id),
    position    INTEGER NOT NULL,
    added_at    INTEGER NOT NULL,
    added_by    TEXT NOT NULL,
    PRIMARY KEY (tube_id, person_id),
    UNIQUE (tube_id, position)
);
CREATE INDEX tube_member_person ON tube_member (person_id);

-- 采样单 orders: re-sampling (and, later, re-test and routine-test) orders for a person.
CREATE TABLE sample_order (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    person_id       INTEGER NOT NULL REFERENCES person(id),
    source_tube_id  INTEGER REFERENCES tube(id),
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL,
    due_at          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    fulfilled_tube_id INTEGER REFERENCES tube(id),
    UNIQUE (kind, person_id, source_tube_id)
);
CREATE INDEX sample_order_status ON sample_order (status, due_at);

CREATE TABLE idempotency (
    actor       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (actor, key)
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id);
