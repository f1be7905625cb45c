-- Tamper-evident audit trail: entries are sealed in batches; each seal records the hash of
-- every entry it covers and chains to the previous seal's hash. A bulk operation's entries
-- point to one parent entry.

ALTER TABLE audit_log ADD COLUMN parent_id BIGINT;
ALTER TABLE audit_log ADD COLUMN seal_id BIGINT;
-- The entry's hash, computed when it is written, so that sealing reads little.
ALTER TABLE audit_log ADD COLUMN hash TEXT;
-- Only unsealed entries are indexed here; sealing takes an entry out.
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seal_id IS NULL;

CREATE TABLE audit_seal (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sealed_at   BIGINT NOT NULL,
    entries     BIGINT NOT NULL,
    first_entry BIGINT NOT NULL,
    last_entry  BIGINT NOT NULL,
    hashes      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
