-- 自助登记 staff self-registration: an institution's administrator prints a poster whose QR code
-- carries a link token; staff scan it, give their name, document, phone and class, and wait for
-- the administrator's approval, which puts them on the roster (a dated membership) like a row
-- of a roster file. A new link revokes the old poster.
CREATE TABLE enrolment_link (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    institution_id  BIGINT NOT NULL REFERENCES institution(id),
    token           TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    revoked_at      BIGINT,
    revoked_by      TEXT
);
CREATE UNIQUE INDEX enrolment_link_live ON enrolment_link (institution_id) WHERE revoked_at IS NULL;

-- A request to join, pending until the administrator approves (membership started) or rejects
-- it (with a reason). One pending request per document and institution: a second scan of the
-- poster by the same person is the same request.
CREATE TABLE enrolment_request (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    institution_id  BIGINT NOT NULL REFERENCES institution(id),
    link_id         BIGINT NOT NULL REFERENCES enrolment_link(id),
    staff_class_id  BIGINT NOT NULL REFERENCES staff_class(id),
    name            TEXT NOT NULL,
    doc_type        TEXT NOT NULL,
    doc_no          TEXT NOT NULL,
    phone           TEXT NOT NULL,
    state           TEXT NOT NULL,
    address         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    decided_at      BIGINT,
    decided_by      TEXT,
    reason          TEXT,
    person_id       BIGINT REFERENCES person(id),
    membership_id   BIGINT REFERENCES membership(id)
);
CREATE UNIQUE INDEX enrolment_request_pending ON enrolment_request (institution_id, doc_type, doc_no) WHERE state = 'pending';
CREATE INDEX enrolment_request_state ON enrolment_request (institution_id, state, created_at);
CREATE INDEX enrolment_request_address ON enrolment_request (address, created_at);
