-- 环境采样点 environment sampling points of a market or cold store: what is swabbed (item, lot,
-- origin) where, on which programme's frequency (weekly for key markets, every 14 days for
-- others). An environment tube names the point it sampled.
CREATE TABLE env_point (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    institution_id  INTEGER NOT NULL REFERENCES institution(id),
    item            TEXT NOT NULL,
    location        TEXT NOT NULL,
    lot             TEXT,
    origin          TEXT,
    programme_id    INTEGER NOT NULL REFERENCES programme(id),
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE INDEX env_point_institution ON env_point (institution_id);

ALTER TABLE tube ADD COLUMN env_point_id INTEGER REFERENCES env_point(id);
CREATE INDEX tube_env_point ON tube (env_point_id, collected_at);
