-- The bench: kits as versioned rule sets, PCR plates and their wells, attempts (one test of one
-- tube on one plate), result imports with their raw files, the readings they carried, and the
-- automatic calls made from them. Nothing here is updated in place once written, except a
-- plate's status and an attempt's pointer to its newest call.

-- 试剂盒 a kit version: its rules as JSON (targets, channels, cut-offs, grey zone, internal
-- control, run controls). A new version never changes an old one; calls name the version.
CREATE TABLE kit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    name        TEXT NOT NULL,
    rules       TEXT NOT NULL,
    active      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    UNIQUE (code, version)
);

-- 板 a PCR plate (run): 96 or 384 wells, one kit version, at one lab.
CREATE TABLE plate (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_no      TEXT NOT NULL UNIQUE,
    lab_id      BIGINT NOT NULL REFERENCES lab(id),
    size        BIGINT NOT NULL,
    kit_id      BIGINT NOT NULL REFERENCES kit(id),
    instrument  TEXT,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX plate_lab ON plate (lab_id, created_at);

CREATE TABLE plate_counter (
    key         TEXT PRIMARY KEY,
    next_seq    BIGINT NOT NULL
);

-- What each used well holds: a tube (through its attempt) or a run control.
CREATE TABLE plate_well (
    plate_id    BIGINT NOT NULL REFERENCES plate(id),
    well        TEXT NOT NULL,
    well_index  BIGINT NOT NULL,
    content     TEXT NOT NULL,
    tube_id     BIGINT REFERENCES tube(id),
    PRIMARY KEY (plate_id, well),
    UNIQUE (plate_id, tube_id)
);

-- 检测批次 one test of one tube: its plate and well, its number among the tube's attempts,
-- the extraction it came from, and its newest automatic call.
CREATE TABLE attempt (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tube_id         BIGINT NOT NULL REFERENCES tube(id),
    plate_id        BIGINT NOT NULL REFERENCES plate(id),
    well            TEXT NOT NULL,
    attempt_no      BIGINT NOT NULL,
    extraction_no   BIGINT NOT NULL,
    status          TEXT NOT NULL,
    call_id         BIGINT,
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    UNIQUE (tube_id, attempt_no),
    UNIQUE (plate_id, tube_id)
);
CREATE INDEX attempt_plate ON attempt (plate_id);

-- 结果导入 one import of a plate's results: one or more files (an export per channel is one
-- import), the run's validity from its controls. The same set of files imports once.
CREATE TABLE result_import (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plate_id        BIGINT NOT NULL REFERENCES plate(id),
    round           BIGINT NOT NULL,
    files_hash      TEXT NOT NULL,
    format          TEXT NOT NULL,
    kit_id          BIGINT NOT NULL REFERENCES kit(id),
    run_valid       BIGINT NOT NULL,
    run_failures    TEXT NOT NULL,
    run_warnings    TEXT NOT NULL,
    report          TEXT NOT NULL,
    imported_at     BIGINT NOT NULL,
    imported_by     TEXT NOT NULL,
    UNIQUE (plate_id, files_hash),
    UNIQUE (plate_id, round)
);

-- The raw files, byte for byte, with their SHA-256. A file belongs to one plate.
CREATE TABLE import_file (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    import_id   BIGINT NOT NULL REFERENCES result_import(id),
    plate_id    BIGINT NOT NULL REFERENCES plate(id),
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    format      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    bytes       BYTEA NOT NULL
);
CREATE INDEX import_file_sha ON import_file (sha256);

-- Every row the files carried, as exported, one row per well: a JSON array of
-- [file number, dye, target, Ct (null: no amplification), sample name, role].
CREATE TABLE reading (
    import_id   BIGINT NOT NULL REFERENCES result_import(id),
    well        TEXT NOT NULL,
    rows        TEXT NOT NULL,
    PRIMARY KEY (import_id, well)
);

-- 自动判读 the automatic call of one attempt by one import, with the kit version that made it.
-- Never changed: a later import makes a new call; people's decisions are kept elsewhere.
CREATE TABLE auto_call (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    attempt_id  BIGINT NOT NULL REFERENCES attempt(id),
    import_id   BIGINT NOT NULL REFERENCES result_import(id),
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    cts         TEXT NOT NULL,
    kit_code    TEXT NOT NULL,
    kit_version BIGINT NOT NULL,
    run_valid   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (attempt_id, import_id)
);
CREATE INDEX auto_call_import ON auto_call (import_id);
