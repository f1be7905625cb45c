-- Seals signed with the audit key, which is kept outside the database (see src/audit_key.rs):
-- `keyed:<mac>` for a seal of keyed entry hashes, `legacy:<mac>` for a seal made before the
-- key existed and signed when it was created; key_id names the key.
ALTER TABLE audit_seal ADD COLUMN signature TEXT;
ALTER TABLE audit_seal ADD COLUMN key_id TEXT;
