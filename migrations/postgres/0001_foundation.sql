-- natlis foundation schema (PostgreSQL). Times are BIGINT microseconds since the Unix epoch, UTC.
-- Flags are BIGINT 0/1. It mirrors ../sqlite column for column.

CREATE TABLE setting (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

CREATE TABLE lab (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    licence_no          TEXT NOT NULL,
    accredited_until    TEXT NOT NULL,
    address             TEXT NOT NULL,
    phone               TEXT NOT NULL,
    opening_hours       TEXT NOT NULL,
    price_single_cents  BIGINT NOT NULL,
    price_pooled_cents  BIGINT NOT NULL,
    daily_capacity      BIGINT NOT NULL,
    region              TEXT NOT NULL,
    created_at          BIGINT NOT NULL
);

CREATE TABLE site (
    id                        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                      TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    address                   TEXT NOT NULL,
    region                    TEXT NOT NULL,
    lab_id                    BIGINT REFERENCES lab(id),
    pool_sizes                TEXT NOT NULL,
    accepts_foreign_barcodes  BIGINT NOT NULL,
    created_at                BIGINT NOT NULL
);

CREATE TABLE institution (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    address     TEXT NOT NULL,
    phone       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE person (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid             TEXT NOT NULL UNIQUE,
    doc_type        TEXT NOT NULL,
    doc_no          TEXT NOT NULL,
    name            TEXT NOT NULL,
    phone           TEXT NOT NULL,
    sex             TEXT,
    birth_date      TEXT,
    personal_code   TEXT UNIQUE,
    institution_id  BIGINT REFERENCES institution(id),
    created_at      BIGINT NOT NULL,
    UNIQUE (doc_type, doc_no)
);

CREATE TABLE barcode_counter (
    prefix      TEXT PRIMARY KEY,
    next_seq    BIGINT NOT NULL
);

CREATE TABLE barcode_batch (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     BIGINT NOT NULL REFERENCES site(id),
    prefix      TEXT NOT NULL,
    first_seq   BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    issued_at   BIGINT NOT NULL,
    issued_by   TEXT NOT NULL
);
CREATE INDEX barcode_batch_range ON barcode_batch (prefix, first_seq);

CREATE TABLE tube (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    barcode             TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL,
    status              TEXT NOT NULL,
    nominal_size        BIGINT NOT NULL,
    member_count        BIGINT NOT NULL,
    short_closed        BIGINT NOT NULL,
    sample_type         TEXT NOT NULL,
    site_id             BIGINT NOT NULL REFERENCES site(id),
    collector           TEXT NOT NULL,
    collected_at        BIGINT NOT NULL,
    category            TEXT NOT NULL,
    priority            TEXT NOT NULL,
    deadline_at         BIGINT NOT NULL,
    payer               TEXT NOT NULL,
    payer_institution_id BIGINT REFERENCES institution(id),
    env_item            TEXT,
    env_lot             TEXT,
    env_origin          TEXT,
    env_location        TEXT,
    issued_batch_id     BIGINT REFERENCES barcode_batch(id),
    opened_by           TEXT NOT NULL,
    closed_at           BIGINT,
    closed_by           TEXT,
    lab_id              BIGINT REFERENCES lab(id),
    received_at         BIGINT,
    received_by         TEXT,
    transport_minutes   BIGINT,
    transport_over_limit BIGINT NOT NULL,
    rejected_at         BIGINT,
    rejected_by         TEXT,
    rejection_reason    TEXT,
    rejection_note      TEXT,
    created_at          BIGINT NOT NULL
);
CREATE INDEX tube_site_collected ON tube (site_id, collected_at);
CREATE INDEX tube_lab_status ON tube (lab_id, status);
CREATE INDEX tube_status_deadline ON tube (status, deadline_at);

CREATE TABLE tube_member (
    tube_id     BIGINT NOT NULL REFERENCES tube(id),
    person_id   BIGINT NOT NULL REFERENCES person(id),
    position    BIGINT NOT NULL,
    added_at    BIGINT NOT NULL,
    added_by    TEXT NOT NULL,
    PRIMARY KEY (tube_id, person_id),
    UNIQUE (tube_id, position)
);
CREATE INDEX tube_member_person ON tube_member (person_id);

-- 采样单 orders: re-sampling (and, later, re-test and routine-test) orders for a person.
CREATE TABLE sample_order (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL,
    person_id       BIGINT NOT NULL REFERENCES person(id),
    source_tube_id  BIGINT REFERENCES tube(id),
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    fulfilled_tube_id BIGINT REFERENCES tube(id),
    UNIQUE (kind, person_id, source_tube_id)
);
CREATE INDEX sample_order_status ON sample_order (status, due_at);

CREATE TABLE idempotency (
    actor       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      BIGINT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (actor, key)
);

CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id);
