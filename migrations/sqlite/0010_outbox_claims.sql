-- A claim no longer changes a message's state: a message being sent stays 'pending' with
-- claimed_until in the future (its lease; the value also tells the claim's owner its own).
-- A claim then touches no index (on PostgreSQL it is a HOT update, on SQLite a row rewrite),
-- and a lease that ran out needs no sweep: the message is simply claimable again.
UPDATE outbox SET status = 'pending' WHERE status = 'sending';
DROP INDEX outbox_sending;
