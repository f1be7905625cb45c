-- 团检 group testing sessions: an institution orders its staff (the due, the overdue, a class,
-- or everyone) tested at a collection site on a day; each member with the pooling their
-- programme allows and their ledger state when ordered. Whether they came is read from the
-- tubes of that site on that day (its first and last microsecond in the lab's zone).
CREATE TABLE test_session (
    id              INTEGER PRIMARY KEY,
    institution_id  INTEGER NOT NULL REFERENCES institution(id),
    site_id         INTEGER NOT NULL REFERENCES site(id),
    on_day          TEXT NOT NULL,
    day_start       INTEGER NOT NULL,
    day_end         INTEGER NOT NULL,
    who             TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL
);
CREATE INDEX test_session_institution ON test_session (institution_id, on_day);
CREATE INDEX test_session_site ON test_session (site_id, on_day);

CREATE TABLE session_member (
    session_id      INTEGER NOT NULL REFERENCES test_session(id),
    person_id       INTEGER NOT NULL REFERENCES person(id),
    pooling         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    PRIMARY KEY (session_id, person_id)
);
