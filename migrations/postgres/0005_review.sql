-- Review and release, re-checks, re-tests and CDC confirmation.

-- 复核 a tube taken to re-check another (a pool member's single tube, a re-sample): it keeps
-- the deadline of the tube it re-checks and goes first onto plates.
ALTER TABLE tube ADD COLUMN recheck_of BIGINT REFERENCES tube(id);
-- 重采次数 how many re-collections led to this tube (0: the first swab).
ALTER TABLE tube ADD COLUMN recollection_no BIGINT NOT NULL DEFAULT 0;
-- 留样管 a retained single tube taken beside a pool for one member; held (not tested) unless
-- its pool needs a re-check.
ALTER TABLE tube ADD COLUMN retained_for BIGINT REFERENCES tube(id);
ALTER TABLE tube ADD COLUMN held BIGINT NOT NULL DEFAULT 0;

-- The reviewer's decision on an attempt: release, retest, reextract, rerun, resample.
ALTER TABLE attempt ADD COLUMN decision TEXT;
ALTER TABLE attempt ADD COLUMN decision_value TEXT;
ALTER TABLE attempt ADD COLUMN decision_reason TEXT;
ALTER TABLE attempt ADD COLUMN decided_by TEXT;
ALTER TABLE attempt ADD COLUMN decided_at BIGINT;

-- 结果 what a person (or, for an environment sample, the tube) is told, versioned: an
-- amendment or a CDC ruling writes a new version; the old one stays, no longer current.
CREATE TABLE result (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tube_id             BIGINT NOT NULL REFERENCES tube(id),
    person_id           BIGINT REFERENCES person(id),
    attempt_id          BIGINT REFERENCES attempt(id),
    version             BIGINT NOT NULL,
    current             BIGINT NOT NULL,
    value               TEXT NOT NULL,
    source              TEXT NOT NULL,
    sampled_at          BIGINT NOT NULL,
    positive_called_at  BIGINT,
    cdc_status          TEXT,
    cdc_by              TEXT,
    cdc_at              BIGINT,
    cdc_reason          TEXT,
    released_by         TEXT NOT NULL,
    released_at         BIGINT NOT NULL,
    reason              TEXT,
    UNIQUE (tube_id, person_id, version)
);
CREATE INDEX result_person ON result (person_id, current);
CREATE INDEX result_tube ON result (tube_id, current);
CREATE INDEX result_cdc ON result (cdc_status, current);
CREATE INDEX sample_order_person ON sample_order (person_id, status);
CREATE INDEX tube_retained ON tube (retained_for);
