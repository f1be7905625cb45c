-- 管控人群 cohorts: close contacts in quarantine, arrivals, discharged patients — loaded by the
-- CDC with each person's anchor (quarantine start, arrival, discharge); the cohort's programme
-- says which tests fall due when. Whether a test was taken is read from the person's tubes.
CREATE TABLE cohort (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    programme_id    BIGINT NOT NULL REFERENCES programme(id),
    region          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL
);

CREATE TABLE cohort_member (
    cohort_id       BIGINT NOT NULL REFERENCES cohort(id),
    person_id       BIGINT NOT NULL REFERENCES person(id),
    anchor_at       BIGINT NOT NULL,
    added_at        BIGINT NOT NULL,
    added_by        TEXT NOT NULL,
    PRIMARY KEY (cohort_id, person_id)
);
CREATE INDEX cohort_member_person ON cohort_member (person_id);
