-- 资质与公示 a lab's qualification record — its practice licence and PCR lab approval, each
-- external quality assessment (EQA) round, penalties — from which natlis computes whether it may
-- test and take on large-scale work; and its place on the public list, published or withdrawn
-- by the regional health authority, every change kept as history.

-- What the public list says of a lab beyond its registration: the report time it promises
-- (hours from sampling), whom it serves (individuals, groups), where it is (WGS-84).
ALTER TABLE lab ADD COLUMN report_hours BIGINT NOT NULL DEFAULT 12;
ALTER TABLE lab ADD COLUMN serves TEXT NOT NULL DEFAULT 'individuals,groups';
ALTER TABLE lab ADD COLUMN latitude DOUBLE PRECISION;
ALTER TABLE lab ADD COLUMN longitude DOUBLE PRECISION;
ALTER TABLE lab ADD COLUMN published BIGINT NOT NULL DEFAULT 0;

-- A licence (执业许可) or a PCR lab approval (PCR实验室备案), valid through its last day.
CREATE TABLE lab_credential (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_id          BIGINT NOT NULL REFERENCES lab(id),
    kind            TEXT NOT NULL,
    number          TEXT NOT NULL,
    valid_until     TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    recorded_by     TEXT NOT NULL
);
CREATE INDEX lab_credential_lab ON lab_credential (lab_id, kind);

-- The registered licence of every lab so far is its first credential.
INSERT INTO lab_credential (lab_id, kind, number, valid_until, recorded_at, recorded_by)
SELECT id, 'licence', licence_no, accredited_until, created_at, 'migration' FROM lab;

-- An EQA round (室间质评) and whether the lab passed it.
CREATE TABLE lab_eqa (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_id          BIGINT NOT NULL REFERENCES lab(id),
    round           TEXT NOT NULL,
    held_on         TEXT NOT NULL,
    passed          BIGINT NOT NULL,
    organiser       TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    recorded_by     TEXT NOT NULL,
    UNIQUE (lab_id, round)
);

-- A penalty (行政处罚) decided against the lab.
CREATE TABLE lab_penalty (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_id          BIGINT NOT NULL REFERENCES lab(id),
    decided_on      TEXT NOT NULL,
    authority       TEXT NOT NULL,
    summary         TEXT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    recorded_by     TEXT NOT NULL
);
CREATE INDEX lab_penalty_lab ON lab_penalty (lab_id);

-- Publications on and withdrawals from the public list, with the reason.
CREATE TABLE lab_listing (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lab_id          BIGINT NOT NULL REFERENCES lab(id),
    action          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    at              BIGINT NOT NULL,
    by_user         TEXT NOT NULL
);
CREATE INDEX lab_listing_lab ON lab_listing (lab_id, at);
