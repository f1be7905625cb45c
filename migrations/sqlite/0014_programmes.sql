-- Institutions and routine testing: testing programmes as versioned data, staff classes, dated
-- memberships (who belongs to which institution, in which class, since and until when), each
-- carrying its ledger line (台账), and the rosters uploaded.

-- The region an institution is in (行政区划), for the regional inspector's compliance view.
ALTER TABLE institution ADD COLUMN region TEXT NOT NULL DEFAULT '';

-- 检测方案 a testing programme: whom it covers (staff, cohort, environment).
CREATE TABLE programme (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    covers      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- A version of a programme's rules: its schedule (JSON), the days of warning before a test is
-- due, whether its people may be pooled, the line of the plan it follows. The newest version
-- judges; each ledger line names the version that judged it.
CREATE TABLE programme_version (
    id              INTEGER PRIMARY KEY,
    programme_id    INTEGER NOT NULL REFERENCES programme(id),
    version         INTEGER NOT NULL,
    schedule        TEXT NOT NULL,
    warn_days       INTEGER NOT NULL,
    pooling         TEXT NOT NULL,
    basis           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    UNIQUE (programme_id, version)
);

-- 人员类别 a staff class, as a roster names it, and the programme its people follow. A class
-- without an institution is offered to every institution.
CREATE TABLE staff_class (
    id              INTEGER PRIMARY KEY,
    institution_id  INTEGER REFERENCES institution(id),
    name            TEXT NOT NULL,
    programme_id    INTEGER NOT NULL REFERENCES programme(id),
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX staff_class_name ON staff_class (COALESCE(institution_id, 0), name);

-- 人员 a person's membership of an institution in a class, dated: a class change ends one
-- membership and starts the next, a leaver's ends; nothing is overwritten. State: active, or
-- ended. The ledger line (台账) rides on it, brought up to date in the transaction of every
-- result of the person: the last qualifying negative, the last local day it covers (days since
-- 1970-01-01), and a hold (positive, pending_recheck) that keeps the person off duty.
CREATE TABLE membership (
    id                  INTEGER PRIMARY KEY,
    institution_id      INTEGER NOT NULL REFERENCES institution(id),
    person_id           INTEGER NOT NULL REFERENCES person(id),
    staff_class_id      INTEGER NOT NULL REFERENCES staff_class(id),
    state               TEXT NOT NULL,
    joined_on           TEXT NOT NULL,
    left_on             TEXT,
    source              TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    created_by          TEXT NOT NULL,
    ended_at            INTEGER,
    ended_by            TEXT,
    judged_by           INTEGER REFERENCES programme_version(id),
    last_negative_id    INTEGER REFERENCES result(id),
    last_negative_at    INTEGER,
    covered_through     INTEGER,
    hold                TEXT,
    hold_since          INTEGER
);
CREATE UNIQUE INDEX membership_active ON membership (institution_id, person_id) WHERE state = 'active';
CREATE INDEX membership_person ON membership (person_id, state);
CREATE INDEX membership_ledger ON membership (institution_id, state, covered_through);

-- 名单 a roster file applied: who, when, which file, what it did.
CREATE TABLE roster_upload (
    id              INTEGER PRIMARY KEY,
    institution_id  INTEGER NOT NULL REFERENCES institution(id),
    file_name       TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    mode            TEXT NOT NULL,
    effective_on    TEXT NOT NULL,
    row_count       INTEGER NOT NULL,
    joined          INTEGER NOT NULL,
    moved           INTEGER NOT NULL,
    left_count      INTEGER NOT NULL,
    unchanged       INTEGER NOT NULL,
    applied_at      INTEGER NOT NULL,
    applied_by      TEXT NOT NULL
);
CREATE INDEX roster_upload_institution ON roster_upload (institution_id, applied_at);

-- The programmes of the Shandong plan (seed 001; domain.md §9), version 1 each. Schedules are
-- JSON as natlis reads them: a cycle from the last negative, windows of days from an anchor
-- (day 1 = the anchor's day), or tests spaced by hours.
INSERT INTO programme (code, name, covers, created_at) VALUES
    ('staff-14d', '重点行业从业人员 每14天', 'staff', 0),
    ('cold-chain-14d', '冷链从业人员 每14天', 'staff', 0),
    ('staff-monthly', '从业人员 每月', 'staff', 0),
    ('close-contact', '密切接触者 集中隔离第1、3–5、13天', 'cohort', 0),
    ('ordinary-contact', '一般接触者 暴露后第3天', 'cohort', 0),
    ('inbound-port', '入境人员 第1、3–5、13天', 'cohort', 0),
    ('arrivals-twice', '外省口岸入境及国内重点地区来返人员 两次间隔24小时', 'cohort', 0),
    ('discharged', '出院患者 第14、28天及第3、6个月随访', 'cohort', 0),
    ('market-key-env', '重点农贸市场环境 每周', 'environment', 0),
    ('market-env', '其他市场环境 每14天', 'environment', 0);

INSERT INTO programme_version (programme_id, version, schedule, warn_days, pooling, basis, created_at, created_by)
SELECT id, 1, CASE code
        WHEN 'staff-14d' THEN '{"kind":"cycle","cycle":{"days":14}}'
        WHEN 'cold-chain-14d' THEN '{"kind":"cycle","cycle":{"days":14}}'
        WHEN 'staff-monthly' THEN '{"kind":"cycle","cycle":{"months":1}}'
        WHEN 'close-contact' THEN '{"kind":"days","windows":[{"from":1,"to":1},{"from":3,"to":5},{"from":13,"to":13}]}'
        WHEN 'ordinary-contact' THEN '{"kind":"days","windows":[{"from":3,"to":3}]}'
        WHEN 'inbound-port' THEN '{"kind":"days","windows":[{"from":1,"to":1},{"from":3,"to":5},{"from":13,"to":13}]}'
        WHEN 'arrivals-twice' THEN '{"kind":"spaced","tests":2,"hours":24}'
        WHEN 'discharged' THEN '{"kind":"days","windows":[{"from":15,"to":17},{"from":29,"to":31},{"from":91,"to":97},{"from":181,"to":187}]}'
        WHEN 'market-key-env' THEN '{"kind":"cycle","cycle":{"days":7}}'
        ELSE '{"kind":"cycle","cycle":{"days":14}}'
    END,
    CASE WHEN code LIKE 'market%' THEN 1 ELSE 3 END,
    CASE WHEN code IN ('staff-14d', 'staff-monthly') THEN 'pooled' ELSE 'single' END,
    CASE code
        WHEN 'staff-14d' THEN '山东省方案: 定期检测单位从业人员每14天检测一次, 无阴性结果不得上岗'
        WHEN 'cold-chain-14d' THEN '山东省方案: 冷链从业人员每14天检测一次'
        WHEN 'staff-monthly' THEN '山东省方案: 按类别每月检测一次'
        WHEN 'close-contact' THEN '山东省方案: 密切接触者集中隔离第1、3–5、13天核酸检测 (第7天抗体)'
        WHEN 'ordinary-contact' THEN '山东省方案: 一般接触者暴露后第3天核酸检测'
        WHEN 'inbound-port' THEN '山东省方案: 入境人员第1天 (海关)、第3–5天、第13天核酸检测 (第13天抗体)'
        WHEN 'arrivals-twice' THEN '山东省方案: 两次核酸检测, 间隔24小时 (抗体一次)'
        WHEN 'discharged' THEN '山东省方案: 出院后第14、28天及第3、6个月随访检测'
        WHEN 'market-key-env' THEN '山东省方案: 重点农贸市场环境每周采样'
        ELSE '山东省方案: 其他市场环境每14天采样'
    END,
    0, 'natlis'
FROM programme;

INSERT INTO staff_class (institution_id, name, programme_id, created_at)
SELECT NULL, c.name, p.id, 0
FROM (
    SELECT '医务人员' AS name, 'staff-14d' AS programme UNION ALL
    SELECT '药店从业人员', 'staff-14d' UNION ALL
    SELECT '口岸工作人员', 'staff-14d' UNION ALL
    SELECT '食品从业人员', 'staff-14d' UNION ALL
    SELECT '快递外卖人员', 'staff-14d' UNION ALL
    SELECT '养老机构工作人员', 'staff-14d' UNION ALL
    SELECT '监所工作人员', 'staff-14d' UNION ALL
    SELECT '冷链从业人员', 'cold-chain-14d' UNION ALL
    SELECT '学校教职工', 'staff-monthly' UNION ALL
    SELECT '行政后勤', 'staff-monthly'
) c JOIN programme p ON p.code = c.programme;

-- What decides a line's state, in one index: a region's compliance is counted from it alone.
CREATE INDEX membership_standing ON membership (state, institution_id, judged_by, covered_through, hold);
