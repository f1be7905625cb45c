-- 检测证明 certificates and 结果查询 a person's own lookup of their results.
--
-- Signing keys are generations derived from the node secret (nothing secret is stored here):
-- a row publishes a generation's public key. The newest unretired generation signs; a retired
-- one still verifies what it signed; a revoked one (compromised) verifies nothing.
CREATE TABLE certificate_key (
    generation      BIGINT PRIMARY KEY,
    kid             TEXT NOT NULL UNIQUE,
    x               TEXT NOT NULL,
    y               TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    retired_at      BIGINT,
    revoked_at      BIGINT,
    reason          TEXT
);

-- A certificate of one person's released result (a pooled negative is its members'): issued
-- once, its content recomputed from the result, superseded when the result is amended,
-- revoked by the lab.
CREATE TABLE certificate (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid             TEXT NOT NULL UNIQUE,
    result_id       BIGINT NOT NULL REFERENCES result(id),
    person_id       BIGINT NOT NULL REFERENCES person(id),
    generation      BIGINT NOT NULL REFERENCES certificate_key(generation),
    issued_at       BIGINT NOT NULL,
    valid_until     BIGINT NOT NULL,
    revoked_at      BIGINT,
    revoked_by      TEXT,
    revoke_reason   TEXT,
    UNIQUE (result_id, person_id)
);
CREATE INDEX certificate_person ON certificate (person_id);

-- Every lookup attempt, by a hash of the document number (not the number) and the address:
-- what the lockout counts.
CREATE TABLE lookup_attempt (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc_hash        TEXT NOT NULL,
    address         TEXT NOT NULL,
    at              BIGINT NOT NULL,
    ok              BIGINT NOT NULL
);
CREATE INDEX lookup_attempt_doc ON lookup_attempt (doc_hash, at);
CREATE INDEX lookup_attempt_address ON lookup_attempt (address, at);

-- A successful lookup's access: a token (kept as its hash) that reads the person's results
-- until it expires.
CREATE TABLE lookup_access (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    person_id       BIGINT NOT NULL REFERENCES person(id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
