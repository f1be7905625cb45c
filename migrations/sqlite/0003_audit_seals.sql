-- Tamper-evident audit trail: entries are sealed in batches; each seal records the hash of
-- every entry it covers and chains to the previous seal's hash. A bulk operation's entries
-- point to one parent entry.

ALTER TABLE audit_log ADD COLUMN parent_id INTEGER;
ALTER TABLE audit_log ADD COLUMN seal_id INTEGER;
-- The entry's hash, computed when it is written, so that sealing reads little.
ALTER TABLE audit_log ADD COLUMN hash TEXT;
-- Only unsealed entries are indexed here; sealing takes an entry out.
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seal_id IS NULL;

CREATE TABLE audit_seal (
    id          INTEGER PRIMARY KEY,
    sealed_at   INTEGER NOT NULL,
    entries     INTEGER NOT NULL,
    first_entry INTEGER NOT NULL,
    last_entry  INTEGER NOT NULL,
    hashes      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
