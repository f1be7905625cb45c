-- 采样点 collection points as the public sees them: hours, who may use them, and a live state —
-- the scans of the last 15 minutes (read from tube_member), and what the site's staff set: open,
-- paused or closed for a while, and how many people are waiting.
ALTER TABLE site ADD COLUMN opening_hours TEXT NOT NULL DEFAULT '00:00-24:00';
ALTER TABLE site ADD COLUMN serves TEXT NOT NULL DEFAULT 'public';
ALTER TABLE site ADD COLUMN state_set TEXT;
ALTER TABLE site ADD COLUMN state_note TEXT;
ALTER TABLE site ADD COLUMN state_until BIGINT;
ALTER TABLE site ADD COLUMN queue BIGINT;
ALTER TABLE site ADD COLUMN queue_at BIGINT;
CREATE INDEX tube_member_added ON tube_member (added_at);
