-- The outbox grows by one row per person, version and sink, and almost every row ends
-- delivered. Index only the rows each query looks for, so that claiming and settling a batch
-- touches small indexes: the due queue (pending), the leases to check (sending), the versions
-- waiting behind an earlier one (waiting), and the messages an admin must see (failed, dead).
-- The (sink_id, key, version) lookup is the UNIQUE constraint's own index.
DROP INDEX outbox_queue;
DROP INDEX outbox_status;
DROP INDEX outbox_key;
CREATE INDEX outbox_due ON outbox (sink_id, solo, id) WHERE status = 'pending';
CREATE INDEX outbox_sending ON outbox (claimed_until) WHERE status = 'sending';
CREATE INDEX outbox_waiting ON outbox (sink_id, key, id) WHERE status = 'waiting';
CREATE INDEX outbox_unsettled ON outbox (id) WHERE status IN ('failed', 'dead');
