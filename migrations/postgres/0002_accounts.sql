-- Accounts: users with one role each, bound to their lab, site, institution or region; API
-- tokens (stored as SHA-256 of a 256-bit random secret); failed logins for rate limiting.

CREATE TABLE app_user (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL,
    lab_id          BIGINT REFERENCES lab(id),
    site_id         BIGINT REFERENCES site(id),
    institution_id  BIGINT REFERENCES institution(id),
    region          TEXT,
    password_hash   TEXT,
    disabled        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);

CREATE TABLE api_token (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES app_user(id),
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    prefix          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    expires_at      BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX api_token_user ON api_token (user_id);

CREATE TABLE login_failure (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username    TEXT NOT NULL,
    address     TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX login_failure_user ON login_failure (username, at);
CREATE INDEX login_failure_address ON login_failure (address, at);
