//! The push worker: claims due messages from the outbox (on PostgreSQL with `FOR UPDATE SKIP
//! LOCKED`, so several nodes share the work and never send one message at the same time),
//! delivers them in batches to their sink, and records the outcome — delivered, retried later
//! with backoff and jitter, refused (kept with the receiver's answer), or dead-lettered after
//! the sink's attempts. A claim is a lease: a worker killed mid-batch leaves its messages to be
//! claimed again when the lease runs out, with the same keys and versions.

use super::sink;
use crate::domain::breaker::{self, Breaker, Permit};
use crate::domain::push::{self, Delivery, StatusMessage};
use crate::sink_client::{sink_client, Tls};
use crate::store::delivery::{self, ActiveSink, Claim, Claimed};
use crate::store::time::to_db;
use crate::store::Store;
use rand::Rng;
use std::collections::HashMap;
use std::time::Duration;

/// How the worker runs.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The wait when nothing is due (and between looks at the sinks and the leases).
    pub every: Duration,
    /// How long one delivery may take.
    pub timeout: Duration,
    /// The first retry's wait (doubling after each failure, at most 5 min).
    pub backoff: Duration,
    /// How long a claim holds a message before another worker may take it again.
    pub lease: Duration,
    /// The most requests in flight per sink on this node (a sink's own `in_flight` applies
    /// below it). A person's versions still go one after another.
    pub parallel: usize,
    /// When a sink is taken to be down, and how it is probed.
    pub breaker: breaker::Policy,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            every: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
            backoff: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            parallel: 64,
            breaker: breaker::Policy::default(),
        }
    }
}

/// Where a sink loop's claims start looking, per kind of claim (batched, solo). Every message
/// of the sink below a floor is settled, in flight, or not yet due, as far as this loop knows,
/// so a claim starts there instead of walking the settled head of the queue (millions of rows
/// after an outage; on PostgreSQL index entries of settled rows linger until vacuum). The loop
/// lowers a floor when it puts a message back; what other nodes do (or an admin's resend) is
/// found by a rescan from the bottom now and then and whenever a claim from the floor finds
/// nothing.
struct Floors {
    at: [std::sync::atomic::AtomicI64; 2],
    /// Per kind too: a batched claim's rescan says nothing about the solo messages below the
    /// solo floor (one clock for both let the batched claims take every rescan, and a resent
    /// solo message below the floor waited for ever).
    last_rescan: [std::sync::Mutex<Option<std::time::Instant>>; 2],
}

/// How often at most a loop looks below its floors.
const RESCAN_EVERY: Duration = Duration::from_secs(1);

impl Floors {
    fn new() -> Self {
        Self {
            at: Default::default(),
            last_rescan: Default::default(),
        }
    }

    fn of(&self, solo: bool) -> &std::sync::atomic::AtomicI64 {
        &self.at[usize::from(solo)]
    }

    /// A message may be claimable again (put back, retried, its person's next version).
    fn lower(&self, solo: bool, id: i64) {
        self.of(solo)
            .fetch_min(id, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether this claim of the kind should look from the bottom (at most every
    /// [`RESCAN_EVERY`], or a fifth of that when a claim from the floor found nothing).
    fn rescan_due(&self, solo: bool, found_nothing: bool) -> bool {
        let mut last = self.last_rescan[usize::from(solo)].lock().expect("floors");
        let due = match *last {
            None => true,
            Some(at) => {
                at.elapsed() >= RESCAN_EVERY || (found_nothing && at.elapsed() >= RESCAN_EVERY / 5)
            }
        };
        if due {
            *last = Some(std::time::Instant::now());
        }
        due
    }
}

/// Starts the worker: one delivery loop per enabled sink, each with up to its `in_flight`
/// requests under way (bounded by `config.parallel`) and its own circuit breaker; sinks added,
/// changed or disabled are picked up within `config.every`. Returns a handle that stops it all
/// when aborted.
pub fn spawn_worker(store: Store, config: Config) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut loops: HashMap<i64, (ActiveSink, AbortOnDrop)> = HashMap::new();
        let mut round: u64 = 0;
        loop {
            if store.is_closed() {
                return;
            }
            if let Err(e) = look_after(&store, &config, &mut loops, round).await {
                tracing::warn!(error = %e, "push worker: looking after the sinks failed; trying again");
            }
            round += 1;
            tokio::time::sleep(config.every).await;
        }
    })
}

/// One look at the sinks: starts, restarts and stops the sinks' loops; now and then sets the
/// queue-depth gauge.
async fn look_after(
    store: &Store,
    config: &Config,
    loops: &mut HashMap<i64, (ActiveSink, AbortOnDrop)>,
    round: u64,
) -> anyhow::Result<()> {
    let rows = delivery::enabled_sinks(&mut *store.reader().acquire().await?).await?;
    loops.retain(|id, (row, _)| rows.iter().any(|r| r.id == *id && r == row));
    for row in rows {
        if let std::collections::hash_map::Entry::Vacant(e) = loops.entry(row.id) {
            let handle = tokio::spawn(sink_loop(store.clone(), row.clone(), *config));
            e.insert((row, AbortOnDrop(vec![handle])));
        }
    }
    // (A message whose worker died mid-batch needs nothing here: when its lease runs out it is
    // claimable again, with the same key and version.)
    if round % 5 == 0 {
        promote_orphans(store).await?;
    }
    if round % 150 == 0 {
        // Now and then, not on every look (it counts the whole queue). States are written into
        // the statement, so the planner sees that a partial index matches.
        let depth = delivery::pending_count(&mut *store.reader().acquire().await?).await?;
        metrics::gauge!("natlis_push_queue_depth").set(depth as f64);
    }
    Ok(())
}

/// Makes pending a person's next version that waits behind nothing. On PostgreSQL a new version
/// can be written as waiting behind one that a delivery settles at the same moment, in a
/// transaction that cannot see the new one yet — and then nothing would ever promote it. Found
/// here within a second; the sink loops' rescans claim it.
async fn promote_orphans(store: &Store) -> anyhow::Result<()> {
    let promoted = delivery::promote_unblocked(&mut *store.writer().acquire().await?).await?;
    if !promoted.is_empty() {
        tracing::info!(
            messages = promoted.len(),
            "push: versions left waiting behind nothing were made pending"
        );
    }
    Ok(())
}

struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// What a sink's loop shares with its deliveries.
struct SinkRun {
    store: Store,
    sink: ActiveSink,
    config: Config,
    client: reqwest::Client,
    /// The platform's database, for a table sink (opened on first use).
    table: tokio::sync::OnceCell<sqlx::AnyPool>,
    breaker: std::sync::Mutex<Breaker>,
    clock: std::time::Instant,
    floors: Floors,
}

/// Delivers one sink's messages until aborted: claims a batch whenever a request may start —
/// the breaker closed and fewer than `in_flight` under way — and sends it in a task of its own,
/// so a slow answer holds one request, not the queue. While the breaker is open, one message
/// at a time goes out as a probe.
async fn sink_loop(store: Store, sink: ActiveSink, config: Config) {
    let client = match sink_client(
        Tls::of(&sink.ca_pem, &sink.client_cert_pem, &sink.client_key_pem),
        config.timeout,
    ) {
        Ok(c) => c,
        Err(e) => {
            // add_sink checks the TLS material, so this is a sink changed behind its back.
            tracing::error!(sink = %sink.name, error = %e, "push: the sink's TLS settings are unusable; nothing is sent to it");
            return;
        }
    };
    let in_flight = (sink.in_flight.max(1) as usize).min(config.parallel.max(1));
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(in_flight));
    let run = std::sync::Arc::new(SinkRun {
        store,
        config,
        client,
        table: tokio::sync::OnceCell::new(),
        breaker: std::sync::Mutex::new(Breaker::new(config.breaker)),
        clock: std::time::Instant::now(),
        floors: Floors::new(),
        sink,
    });
    let mut deliveries = tokio::task::JoinSet::new();
    loop {
        while deliveries.try_join_next().is_some() {}
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let now = run.clock.elapsed();
        let permit_to = run.breaker.lock().expect("breaker").permit(now);
        let (batch, probe) = match permit_to {
            Permit::WaitUntil(at) => {
                drop(permit);
                tokio::time::sleep(at.saturating_sub(now).min(run.config.every)).await;
                continue;
            }
            Permit::Probe => (claim_probe(&run).await, true),
            Permit::Deliver => (claim_next(&run).await, false),
        };
        match batch {
            Ok(batch) if !batch.is_empty() => {
                let run = run.clone();
                deliveries.spawn(async move {
                    if let Err(e) = deliver_and_settle(&run, batch, probe).await {
                        tracing::warn!(sink = %run.sink.name, error = %e, "push: settling a delivery failed; its lease returns it");
                    }
                    drop(permit);
                });
            }
            other => {
                if let Err(e) = other {
                    tracing::warn!(sink = %run.sink.name, error = %e, "push: claiming failed; trying again");
                }
                if probe {
                    // Nothing to probe with: look again later.
                    run.breaker
                        .lock()
                        .expect("breaker")
                        .no_probe(run.clock.elapsed());
                }
                drop(permit);
                tokio::time::sleep(run.config.every).await;
            }
        }
    }
}

/// The next batch that is due: a batch of messages, else one message to be sent alone (a
/// refused batch's, to find the one the receiver refuses).
async fn claim_next(run: &SinkRun) -> anyhow::Result<Batch> {
    let batch = claim(run, false, true).await?;
    if !batch.is_empty() {
        return Ok(batch);
    }
    claim(run, true, true).await
}

/// One message for a probe of a sink that is down: the oldest pending, due or not (the
/// outage, not the message, made it wait).
async fn claim_probe(run: &SinkRun) -> anyhow::Result<Batch> {
    let one = claim(run, false, false).await?;
    if !one.is_empty() {
        return Ok(one);
    }
    claim(run, true, false).await
}

/// Sends a batch, tells the breaker how it went, and records the outcome.
async fn deliver_and_settle(run: &SinkRun, batch: Batch, probe: bool) -> anyhow::Result<()> {
    let (outcome, answer) = deliver(run, &batch.messages).await;
    let (change, spends) = {
        let mut b = run.breaker.lock().expect("breaker");
        let seen = match outcome {
            Delivery::Delivered | Delivery::Refused => breaker::Outcome::Answered,
            Delivery::Retry => breaker::Outcome::Failed,
        };
        let change = b.record(seen, probe, run.clock.elapsed());
        (change, b.spends_attempts())
    };
    match change {
        breaker::Change::Opened => {
            tracing::warn!(sink = %run.sink.name, answer = %answer, "push: the sink is down; probing it, nothing else is sent");
            metrics::gauge!("natlis_push_sink_down", "sink" => run.sink.name.clone()).set(1.0);
            // For the sink list (any node): since when, and why.
            delivery::sink_down(
                &mut *run.store.writer().acquire().await?,
                run.sink.id,
                to_db(chrono::Utc::now()),
                &answer,
            )
            .await?;
        }
        breaker::Change::Closed => {
            tracing::info!(sink = %run.sink.name, "push: the sink answers again; draining");
            metrics::gauge!("natlis_push_sink_down", "sink" => run.sink.name.clone()).set(0.0);
            delivery::sink_up(&mut *run.store.writer().acquire().await?, run.sink.id).await?;
        }
        breaker::Change::None => {}
    }
    // A settling that fails (a deadlock on PostgreSQL with another writer of the same tubes,
    // the database busy) is tried again at once rather than left to the lease — which would
    // hold the messages for the whole lease; settling is guarded by the lease, so a repeat
    // changes nothing twice.
    let mut tries = 0;
    loop {
        match settle(run, &batch, outcome, &answer, spends).await {
            Ok(()) => return Ok(()),
            Err(e) if tries < SETTLE_TRIES => {
                tries += 1;
                tracing::info!(sink = %run.sink.name, error = %e, tries, "push: settling failed; trying again");
                tokio::time::sleep(Duration::from_millis(20 << tries)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// How often a failed settling is tried again before its lease is left to return it.
const SETTLE_TRIES: u32 = 5;

/// Claimed messages, and the claim's lease: until when they are this claim's (the value is
/// also how the settling finds them still its own).
struct Batch {
    lease: i64,
    messages: Vec<Claimed>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// Claims due messages of a sink, oldest first (a person's later version is `waiting` until the
/// earlier one is settled, so at most one version of a person is pending), `solo` ones alone (a
/// refused batch is retried message by message to find the one the receiver refuses); a probe
/// (`due_only` false) takes one message whatever its next try. A claim sets the lease and
/// counts the attempt; the state stays `pending` (shown as `sending` while the lease runs), so
/// a claim touches no index, and a message whose worker died is claimable when its lease ends.
async fn claim(run: &SinkRun, solo: bool, due_only: bool) -> anyhow::Result<Batch> {
    if !due_only {
        return claim_from(run, solo, false, None).await;
    }
    let floor = run.floors.of(solo);
    let from = floor.load(std::sync::atomic::Ordering::SeqCst);
    let mut batch = if run.floors.rescan_due(solo, false) {
        claim_from(run, solo, true, None).await?
    } else {
        let batch = claim_from(run, solo, true, Some(from)).await?;
        if batch.is_empty() && run.floors.rescan_due(solo, true) {
            claim_from(run, solo, true, None).await?
        } else {
            batch
        }
    };
    if let Some(last) = batch.messages.last() {
        // Unless a settling lowered the floor meanwhile.
        let _ = floor.compare_exchange(
            from,
            last.id + 1,
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
        );
    }
    batch.messages.sort_by_key(|r| r.id);
    Ok(batch)
}

/// One claim, from `floor` or (`None`) from the bottom of the queue, in a transaction of its own
/// (see [`delivery::claim`]).
async fn claim_from(
    run: &SinkRun,
    solo: bool,
    due_only: bool,
    floor: Option<i64>,
) -> anyhow::Result<Batch> {
    let (store, sink, lease) = (&run.store, &run.sink, run.config.lease);
    let now = to_db(chrono::Utc::now());
    let limit = if solo || !due_only {
        1
    } else {
        sink.batch_size.max(1)
    };
    let lease = now + lease.as_micros() as i64;
    let mut tx = store
        .writer()
        .begin_with(store.backend().begin_write())
        .await?;
    let rows = delivery::claim(
        &mut tx,
        store.backend(),
        &Claim {
            sink: sink.id,
            solo,
            due_only,
            floor,
            limit,
            lease,
            now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Batch {
        lease,
        messages: rows,
    })
}

/// Sends a batch; the outcome and what the receiver said.
async fn deliver(run: &SinkRun, batch: &[Claimed]) -> (Delivery, String) {
    let messages: Vec<StatusMessage> = match batch
        .iter()
        .map(|c| serde_json::from_str(&c.payload))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(m) => m,
        Err(e) => return (Delivery::Refused, format!("unreadable payload: {e}")),
    };
    match run.sink.kind.as_str() {
        "fhir_http" => sink::http(&run.sink, &messages, &run.client).await,
        "pg_table" => match sink::table(&run.table, &run.sink, run.config.timeout, &messages).await
        {
            Ok(()) => (Delivery::Delivered, String::new()),
            Err(e) => (Delivery::Retry, format!("{e:#}")),
        },
        other => (Delivery::Refused, format!("unknown sink kind {other}")),
    }
}

/// Records the outcome of a delivery for every message of the batch still the claim's. A
/// failed delivery (`Delivery::Retry`) spends the messages' attempts only when `spends`: while
/// the sink is taken to be down, they go back to the queue as they were, due at once.
async fn settle(
    run: &SinkRun,
    batch: &Batch,
    outcome: Delivery,
    answer: &str,
    spends: bool,
) -> anyhow::Result<()> {
    let (store, sink, backoff) = (&run.store, &run.sink, run.config.backoff);
    let (lease, messages) = (batch.lease, &batch.messages);
    let now = chrono::Utc::now();
    let mut tx = store
        .writer()
        .begin_with(store.backend().begin_write())
        .await?;
    // Messages settled for good here (delivered, refused alone, dead): the next version of
    // their people, if one waits, becomes pending.
    let mut settled: Vec<i64> = vec![];
    // Messages claimable again once this commits: (solo, id), for the loop's floors.
    let mut lowered: Vec<(bool, i64)> = vec![];
    if outcome == Delivery::Delivered {
        let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
        settled = delivery::delivered(&mut tx, store.backend(), &ids, lease, to_db(now)).await?;
        for m in messages {
            let latency = (to_db(now) - m.created_at) as f64 / 1e6;
            metrics::histogram!("natlis_push_delivery_seconds").record(latency);
        }
    }
    for m in messages {
        match outcome {
            Delivery::Delivered => {}
            // Find the message the receiver refuses: each is sent alone next.
            Delivery::Refused if messages.len() > 1 => {
                delivery::requeue(&mut tx, m.id, lease, answer, true, to_db(now)).await?;
                lowered.push((true, m.id));
            }
            Delivery::Refused => {
                if delivery::refused(&mut tx, m.id, lease, answer).await? {
                    settled.push(m.id);
                }
                metrics::counter!("natlis_push_failures_total", "kind" => "refused").increment(1);
            }
            Delivery::Retry if !spends => {
                delivery::requeue(&mut tx, m.id, lease, answer, false, to_db(now)).await?;
                lowered.push((m.solo == 1, m.id));
            }
            Delivery::Retry => {
                let dead = m.attempts >= sink.max_attempts;
                let wait = push::backoff(
                    backoff,
                    (m.attempts as u32).saturating_sub(1),
                    rand::thread_rng().gen(),
                );
                let next_try_at = to_db(now) + wait.as_micros() as i64;
                if delivery::failed(&mut tx, m.id, lease, dead, next_try_at, answer).await? && dead
                {
                    settled.push(m.id);
                }
                if !dead {
                    lowered.push((m.solo == 1, m.id));
                }
                metrics::counter!("natlis_push_failures_total", "kind" => if dead { "dead" } else { "retry" })
                    .increment(1);
            }
        }
    }
    lowered.extend(delivery::promote_next(&mut tx, store.backend(), sink.id, &settled).await?);
    tx.commit().await?;
    for (solo, id) in lowered {
        run.floors.lower(solo, id);
    }
    if outcome != Delivery::Delivered {
        tracing::warn!(sink = %sink.name, messages = messages.len(), outcome = ?outcome, "push: not delivered");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batched_rescan_leaves_the_solo_rescan_due() {
        let floors = Floors::new();
        assert!(
            floors.rescan_due(false, false),
            "the first claim looks from the bottom"
        );
        assert!(
            floors.rescan_due(true, false),
            "and so does the first solo claim"
        );
        assert!(!floors.rescan_due(false, true), "not again at once");
        assert!(!floors.rescan_due(true, true));
        std::thread::sleep(RESCAN_EVERY / 5);
        // Batched claims that keep finding nothing take their rescan; the solo kind has its own.
        assert!(floors.rescan_due(false, true));
        assert!(floors.rescan_due(true, true));
    }

    #[test]
    fn a_floor_is_lowered_never_raised_by_lower() {
        let floors = Floors::new();
        floors
            .of(true)
            .store(100, std::sync::atomic::Ordering::SeqCst);
        floors.lower(true, 40);
        floors.lower(true, 70);
        assert_eq!(
            floors.of(true).load(std::sync::atomic::Ordering::SeqCst),
            40
        );
        assert_eq!(
            floors.of(false).load(std::sync::atomic::Ordering::SeqCst),
            0
        );
    }
}
