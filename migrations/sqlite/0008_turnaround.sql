-- Turnaround against the deadline (时限): a timestamp on the tube for every step, so a tube's
-- timeline and the stage it is stuck in are read from one row, and an hourly rollup that the
-- turnaround report sums instead of reading every tube.

-- When the deadline clock started: the collection, or for a re-check the collection of the
-- pool it answers (the deadline carries over).
ALTER TABLE tube ADD COLUMN clock_start_at INTEGER NOT NULL DEFAULT 0;
-- First placed on a plate; last run imported and called before release; first released;
-- CDC ruling; first status message sent and acknowledged by the health-code platform.
ALTER TABLE tube ADD COLUMN placed_at INTEGER;
-- The latest placement, and when a reviewer sent the tube back to the queue (re-test,
-- re-extraction, re-run) and it is not yet on a plate again: the stage it is in now.
ALTER TABLE tube ADD COLUMN loaded_at INTEGER;
ALTER TABLE tube ADD COLUMN requeued_at INTEGER;
ALTER TABLE tube ADD COLUMN imported_at INTEGER;
ALTER TABLE tube ADD COLUMN called_at INTEGER;
ALTER TABLE tube ADD COLUMN released_at INTEGER;
ALTER TABLE tube ADD COLUMN confirmed_at INTEGER;
ALTER TABLE tube ADD COLUMN pushed_at INTEGER;
ALTER TABLE tube ADD COLUMN acked_at INTEGER;
-- The tube will give no result: the reviewer ordered a new swab from its people (their new
-- tubes keep this deadline).
ALTER TABLE tube ADD COLUMN resampled_at INTEGER;
-- The rollup: 1 when a step changed that the rollup has not counted yet; `folded` says what it
-- has counted (1 the release or rejection, 2 the push acknowledgement).
ALTER TABLE tube ADD COLUMN fold_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tube ADD COLUMN folded INTEGER NOT NULL DEFAULT 0;

UPDATE tube SET clock_start_at = collected_at;
UPDATE tube SET clock_start_at = COALESCE((SELECT s.clock_start_at FROM tube s WHERE s.id = tube.recheck_of), collected_at)
    WHERE recheck_of IS NOT NULL;
UPDATE tube SET
    placed_at = (SELECT MIN(a.created_at) FROM attempt a WHERE a.tube_id = tube.id),
    loaded_at = (SELECT MAX(a.created_at) FROM attempt a WHERE a.tube_id = tube.id),
    imported_at = (SELECT MAX(i.imported_at) FROM attempt a JOIN auto_call c ON c.attempt_id = a.id
                   JOIN result_import i ON i.id = c.import_id WHERE a.tube_id = tube.id),
    called_at = (SELECT MAX(c.created_at) FROM attempt a JOIN auto_call c ON c.attempt_id = a.id
                 WHERE a.tube_id = tube.id),
    released_at = (SELECT MIN(r.released_at) FROM result r WHERE r.tube_id = tube.id),
    confirmed_at = (SELECT MIN(r.cdc_at) FROM result r WHERE r.tube_id = tube.id AND r.cdc_status IN ('confirmed', 'rejected')),
    resampled_at = (SELECT MAX(a.decided_at) FROM attempt a WHERE a.tube_id = tube.id AND a.decision = 'resample'),
    requeued_at = (SELECT a.decided_at FROM attempt a WHERE a.tube_id = tube.id
                   AND a.decision IN ('retest', 'reextract', 'rerun')
                   AND a.attempt_no = (SELECT MAX(b.attempt_no) FROM attempt b WHERE b.tube_id = tube.id)),
    fold_pending = 1;

ALTER TABLE outbox ADD COLUMN tube_id INTEGER REFERENCES tube(id);

-- The at-risk list: tubes still to be released, most urgent first.
CREATE INDEX tube_unreleased ON tube (deadline_at) WHERE released_at IS NULL AND resampled_at IS NULL AND held = 0 AND status <> 'rejected';
-- Re-sample orders not yet answered, by due time.
CREATE INDEX sample_order_open ON sample_order (due_at) WHERE status = 'open';
-- What the rollup has still to count.
CREATE INDEX tube_fold ON tube (id) WHERE fold_pending = 1;

-- Counted tubes per hour of the clock's start (UTC hour number), lab, site, priority and
-- category. Durations are sums of seconds; `hist` is the turnaround histogram in 5-minute
-- buckets ("bucket:count,…").
CREATE TABLE turnaround_rollup (
    hour                INTEGER NOT NULL,
    lab_id              INTEGER NOT NULL,
    site_id             INTEGER NOT NULL,
    priority            TEXT NOT NULL,
    category            TEXT NOT NULL,
    released            INTEGER NOT NULL,
    within_deadline     INTEGER NOT NULL,
    rejected            INTEGER NOT NULL,
    resampled           INTEGER NOT NULL,
    s_recollect         INTEGER NOT NULL,
    s_transport         INTEGER NOT NULL,
    s_queue             INTEGER NOT NULL,
    s_run               INTEGER NOT NULL,
    s_review            INTEGER NOT NULL,
    pushed              INTEGER NOT NULL,
    s_push              INTEGER NOT NULL,
    breach_recollect    INTEGER NOT NULL,
    breach_transport    INTEGER NOT NULL,
    breach_queue        INTEGER NOT NULL,
    breach_run          INTEGER NOT NULL,
    breach_review       INTEGER NOT NULL,
    hist                TEXT NOT NULL,
    PRIMARY KEY (hour, lab_id, site_id, priority, category)
);
-- A report for one site reads its rows only.
CREATE INDEX turnaround_rollup_site ON turnaround_rollup (site_id, hour);
