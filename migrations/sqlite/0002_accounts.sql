-- Accounts: users with one role each, bound to their lab, site, institution or region; API
-- tokens (stored as SHA-256 of a 256-bit random secret); failed logins for rate limiting.

CREATE TABLE app_user (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL,
    lab_id          INTEGER REFERENCES lab(id),
    site_id         INTEGER REFERENCES site(id),
    institution_id  INTEGER REFERENCES institution(id),
    region          TEXT,
    password_hash   TEXT,
    disabled        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL
);

CREATE TABLE api_token (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES app_user(id),
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    prefix          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    expires_at      INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX api_token_user ON api_token (user_id);

CREATE TABLE login_failure (
    id          INTEGER PRIMARY KEY,
    username    TEXT NOT NULL,
    address     TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX login_failure_user ON login_failure (username, at);
CREATE INDEX login_failure_address ON login_failure (address, at);
