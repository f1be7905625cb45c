//! 时限 turnaround against the deadline: where a tube is in its journey, which stage the
//! deadline passed in, how its turnaround splits into stages, the additive counts the hourly
//! rollup keeps, the histogram its percentiles come from, and the forecast of breaches.
//! Times are microseconds since the epoch (UTC); the clock is wall-clock, no working days.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;

/// Deadlines by priority, in hours from collection (configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadlineHours {
    /// Fever clinic and emergency (default 6).
    pub urgent: i64,
    /// Key populations, outpatients, inpatients and anything not listed (default 12).
    pub standard: i64,
    /// Voluntary testing and region-wide rounds (default 24).
    pub routine: i64,
}

impl Default for DeadlineHours {
    fn default() -> Self {
        use crate::domain::vocab::Priority;
        Self {
            urgent: Priority::Urgent.default_deadline_hours(),
            standard: Priority::Standard.default_deadline_hours(),
            routine: Priority::Routine.default_deadline_hours(),
        }
    }
}

impl DeadlineHours {
    pub fn of(&self, p: crate::domain::vocab::Priority) -> i64 {
        use crate::domain::vocab::Priority;
        match p {
            Priority::Urgent => self.urgent,
            Priority::Standard => self.standard,
            Priority::Routine => self.routine,
        }
    }

    /// Every deadline between 1 hour and 7 days.
    pub fn check(&self) -> Result<(), String> {
        for (name, h) in [
            ("urgent", self.urgent),
            ("standard", self.standard),
            ("routine", self.routine),
        ] {
            if !(1..=168).contains(&h) {
                return Err(format!(
                    "deadline for {name} must be 1 to 168 hours, not {h}"
                ));
            }
        }
        Ok(())
    }
}

/// The stages of a tube's journey, in order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 待重采 the clock runs from an earlier tube (a pool re-check, a rejected or failed
    /// specimen) and the new swab is not yet taken
    Recollect,
    /// 转运 collected, not yet received by the lab
    Transport,
    /// 待上机 received (or sent back for a re-test), waiting for a plate
    Queue,
    /// 检测中 on a plate: extraction, PCR, import
    Run,
    /// 待审核 called, waiting for the reviewer's release
    Review,
    /// 待回执 released, the health-code platform has not acknowledged it
    Push,
    /// 完成 released and acknowledged
    Done,
}

impl Stage {
    pub const STEPS: [Stage; 6] = [
        Stage::Recollect,
        Stage::Transport,
        Stage::Queue,
        Stage::Run,
        Stage::Review,
        Stage::Push,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Recollect => "recollect",
            Stage::Transport => "transport",
            Stage::Queue => "queue",
            Stage::Run => "run",
            Stage::Review => "review",
            Stage::Push => "push",
            Stage::Done => "done",
        }
    }
}

/// A tube's timestamps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeline {
    /// When the deadline clock started (the collection, or the pool's for a re-check).
    pub clock_start: i64,
    pub collected: i64,
    pub deadline: i64,
    pub received: Option<i64>,
    /// First placed on a plate.
    pub placed: Option<i64>,
    /// Latest placed on a plate.
    pub loaded: Option<i64>,
    /// Sent back to the queue (re-test, re-extraction, re-run) and not yet placed again.
    pub requeued: Option<i64>,
    /// Latest run imported before release.
    pub imported: Option<i64>,
    pub released: Option<i64>,
    pub acked: Option<i64>,
}

impl Timeline {
    /// Where the tube is now.
    pub fn stage(&self) -> Stage {
        if self.released.is_some() {
            return if self.acked.is_some() {
                Stage::Done
            } else {
                Stage::Push
            };
        }
        let Some(loaded) = self.loaded else {
            return if self.received.is_some() {
                Stage::Queue
            } else {
                Stage::Transport
            };
        };
        if self.requeued.is_some() {
            Stage::Queue
        } else if self.imported.is_none_or(|i| i < loaded) {
            Stage::Run
        } else {
            Stage::Review
        }
    }

    /// Since when the tube has been in `stage` (its current one): the step that began it.
    pub fn since(&self, stage: Stage) -> Option<i64> {
        match stage {
            Stage::Recollect | Stage::Done => None,
            Stage::Transport => Some(self.collected),
            Stage::Queue => self.requeued.or(self.received),
            Stage::Run => self.loaded,
            Stage::Review => self.imported,
            Stage::Push => self.released,
        }
    }

    /// The stage the tube was in at `t` (by its first placement and its latest import, the
    /// split the turnaround report uses).
    pub fn stage_at(&self, t: i64) -> Stage {
        let steps = [
            (self.collected, Stage::Recollect),
            (self.received.unwrap_or(i64::MAX), Stage::Transport),
            (self.placed.unwrap_or(i64::MAX), Stage::Queue),
            (self.imported.unwrap_or(i64::MAX), Stage::Run),
            (self.released.unwrap_or(i64::MAX), Stage::Review),
            (self.acked.unwrap_or(i64::MAX), Stage::Push),
        ];
        for (until, stage) in steps {
            if t < until {
                return stage;
            }
        }
        Stage::Done
    }

    /// Released by the deadline (a result at exactly the deadline is in time).
    pub fn within_deadline(&self) -> Option<bool> {
        self.released.map(|r| r <= self.deadline)
    }

    /// The stage the deadline passed in, if it has passed without a release by `now`.
    pub fn breach(&self, now: i64) -> Option<Stage> {
        let late = match self.released {
            Some(r) => r > self.deadline,
            None => now > self.deadline,
        };
        late.then(|| self.stage_at(self.deadline))
    }

    /// Time left until the deadline at `now` (negative when past).
    pub fn remaining(&self, now: i64) -> i64 {
        self.deadline - now
    }

    /// Turnaround: clock start → release.
    pub fn turnaround(&self) -> Option<i64> {
        self.released.map(|r| r - self.clock_start)
    }

    /// Seconds spent in each stage up to the release (they add up to the turnaround), and the
    /// push stage if acknowledged. `None` where the step is missing.
    pub fn durations(&self) -> [Option<i64>; 6] {
        let released = self.released;
        let d = |from: Option<i64>, to: Option<i64>| match (from, to) {
            (Some(a), Some(b)) => Some(((b - a).max(0)) / SECOND),
            _ => None,
        };
        [
            d(
                Some(self.clock_start),
                Some(self.collected.max(self.clock_start)),
            ),
            d(Some(self.collected.max(self.clock_start)), self.received),
            d(self.received, self.placed),
            d(self.placed, self.imported),
            d(self.imported, released),
            d(released, self.acked),
        ]
    }
}

/// What the rollup has counted of a tube.
pub mod folded {
    /// Its release (or that it gave no result).
    pub const OUTCOME: i64 = 1;
    /// The platform's acknowledgement.
    pub const PUSH: i64 = 2;
}

/// How a tube ended at the lab, for the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Released,
    /// 拒收 rejected at receipt.
    Rejected,
    /// The reviewer ordered a new swab: this tube gives no result.
    Resampled,
    /// Still under way.
    Open,
}

/// A turnaround histogram: released tubes per 5-minute bucket of turnaround.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram(pub BTreeMap<u32, u64>);

/// Buckets are 5 minutes wide; everything beyond 7 days shares the last.
pub const BUCKET_MINUTES: i64 = 5;
const LAST_BUCKET: u32 = (7 * 24 * 60 / BUCKET_MINUTES) as u32;

impl Histogram {
    pub fn record(&mut self, turnaround: i64) {
        let b = (turnaround.max(0) / (BUCKET_MINUTES * MINUTE)).min(i64::from(LAST_BUCKET));
        *self.0.entry(b as u32).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (b, n) in &other.0 {
            *self.0.entry(*b).or_default() += n;
        }
    }

    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// The turnaround (minutes) that `p` of the tubes were within: the upper edge of the
    /// bucket holding the rank ⌈p·n⌉; `None` when empty.
    pub fn percentile(&self, p: f64) -> Option<i64> {
        percentile(self.0.iter().map(|(b, n)| (*b, *n)), p)
    }

    /// The tubes released within `minutes` (their whole bucket at or under it).
    pub fn within(&self, minutes: i64) -> u64 {
        self.0
            .iter()
            .filter(|(b, _)| (i64::from(**b) + 1) * BUCKET_MINUTES <= minutes)
            .map(|(_, n)| n)
            .sum()
    }

    /// Stored form: `bucket:count,…`.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(self.0.len() * 8);
        for (i, (b, n)) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&b.to_string());
            s.push(':');
            s.push_str(&n.to_string());
        }
        s
    }

    pub fn decode(s: &str) -> Result<Histogram, String> {
        let mut h = Histogram::default();
        h.add_encoded(s)?;
        Ok(h)
    }

    /// Adds a stored histogram without building another map.
    pub fn add_encoded(&mut self, s: &str) -> Result<(), String> {
        for entry in entries(s) {
            let (b, n) = entry?;
            *self.0.entry(b).or_default() += n;
        }
        Ok(())
    }
}

/// The (bucket, count) entries of a stored histogram (`bucket:count,…`; a bucket may repeat).
fn entries(s: &str) -> impl Iterator<Item = Result<(u32, u64), String>> + '_ {
    s.split(',').filter(|p| !p.is_empty()).map(|part| {
        let (b, n) = part
            .split_once(':')
            .ok_or_else(|| format!("histogram entry {part:?} is not bucket:count"))?;
        let b: u32 = b
            .parse()
            .map_err(|_| format!("histogram bucket {b:?} is not a number"))?;
        let n: u64 = n
            .parse()
            .map_err(|_| format!("histogram count {n:?} is not a number"))?;
        Ok((b, n))
    })
}

/// The turnaround (minutes) that `p` of the counted tubes were within: the upper edge of the
/// bucket holding the rank ⌈p·n⌉, over (bucket, count) in bucket order; `None` when empty.
fn percentile(buckets: impl Iterator<Item = (u32, u64)> + Clone, p: f64) -> Option<i64> {
    let n: u64 = buckets.clone().map(|(_, c)| c).sum();
    if n == 0 {
        return None;
    }
    let rank = ((p * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0;
    for (b, c) in buckets {
        seen += c;
        if seen >= rank {
            return Some((i64::from(b) + 1) * BUCKET_MINUTES);
        }
    }
    unreachable!("the rank is within the count")
}

/// The same histogram as a flat array, for summing many stored ones quickly (a report adds
/// up a row per hour, site and category).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenseHistogram(Vec<u64>);

impl Default for DenseHistogram {
    fn default() -> Self {
        Self(vec![0; LAST_BUCKET as usize + 1])
    }
}

impl DenseHistogram {
    pub fn add(&mut self, h: &Histogram) {
        for (b, n) in &h.0 {
            self.0[(*b).min(LAST_BUCKET) as usize] += n;
        }
    }

    pub fn merge(&mut self, other: &DenseHistogram) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a += b;
        }
    }

    /// Adds a stored histogram (`bucket:count,…`).
    pub fn add_encoded(&mut self, s: &str) -> Result<(), String> {
        for entry in entries(s) {
            let (b, n) = entry?;
            self.0[b.min(LAST_BUCKET) as usize] += n;
        }
        Ok(())
    }

    /// As [`Histogram::percentile`].
    pub fn percentile(&self, p: f64) -> Option<i64> {
        percentile(self.0.iter().enumerate().map(|(b, n)| (b as u32, *n)), p)
    }
}

/// Additive counts of tubes: what the rollup keeps per hour and group, and what a report
/// sums.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub released: i64,
    pub within_deadline: i64,
    pub rejected: i64,
    pub resampled: i64,
    /// Seconds per stage, summed over released tubes: recollect, transport, queue, run,
    /// review (push is summed over acknowledged tubes).
    pub stage_seconds: [i64; 5],
    pub pushed: i64,
    pub push_seconds: i64,
    /// Released late, by the stage the deadline passed in: recollect … review.
    pub breaches: [i64; 5],
    pub hist: Histogram,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.released += o.released;
        self.within_deadline += o.within_deadline;
        self.rejected += o.rejected;
        self.resampled += o.resampled;
        for i in 0..5 {
            self.stage_seconds[i] += o.stage_seconds[i];
            self.breaches[i] += o.breaches[i];
        }
        self.pushed += o.pushed;
        self.push_seconds += o.push_seconds;
        self.hist.merge(&o.hist);
    }

    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }
}

/// What a tube adds to the rollup beyond what it has already added (`already`, a mask of
/// [`folded`]); returns the counts and the new mask.
pub fn contribution(t: &Timeline, outcome: Outcome, already: i64) -> (Counts, i64) {
    let mut c = Counts::default();
    let mut mask = already;
    if already & folded::OUTCOME == 0 {
        match outcome {
            Outcome::Released => {
                c.released = 1;
                c.within_deadline = i64::from(t.within_deadline() == Some(true));
                for (sum, d) in c.stage_seconds.iter_mut().zip(t.durations()) {
                    *sum = d.unwrap_or(0);
                }
                if let Some(stage) = t.breach(i64::MIN) {
                    c.breaches[stage_index(stage)] = 1;
                }
                if let Some(ta) = t.turnaround() {
                    c.hist.record(ta);
                }
                mask |= folded::OUTCOME;
            }
            Outcome::Rejected => {
                c.rejected = 1;
                mask |= folded::OUTCOME;
            }
            Outcome::Resampled => {
                c.resampled = 1;
                mask |= folded::OUTCOME;
            }
            Outcome::Open => {}
        }
    }
    if already & folded::PUSH == 0 && outcome == Outcome::Released {
        if let Some(push) = t.durations()[5] {
            c.pushed = 1;
            c.push_seconds = push;
            mask |= folded::PUSH;
        }
    }
    (c, mask)
}

/// Index of a stage among the five before release (breaches and stage sums).
pub fn stage_index(s: Stage) -> usize {
    match s {
        Stage::Recollect => 0,
        Stage::Transport => 1,
        Stage::Queue => 2,
        Stage::Run => 3,
        // A breach is counted by release; past the release nothing breaches.
        Stage::Review | Stage::Push | Stage::Done => 4,
    }
}

/// The UTC hour a time falls in (hours since the epoch): the rollup's key.
pub fn hour_of(t: i64) -> i64 {
    t.div_euclid(60 * MINUTE)
}

/// What the lab can do: plates it runs and how long one takes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Capacity {
    /// Tubes per plate (wells less the controls).
    pub tubes_per_plate: i64,
    /// Plates the lab runs per hour now (measured, or what its instruments allow).
    pub plates_per_hour: f64,
    /// Placement to release: extraction, PCR, import and review, in minutes.
    pub minutes_per_plate: i64,
}

/// What the queue will do at this capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Forecast {
    /// Tubes waiting.
    pub waiting: i64,
    /// Plates the waiting tubes fill.
    pub plates_needed: i64,
    /// Plates the lab can start before the oldest deadline and still release in time.
    pub plates_before_oldest_deadline: i64,
    /// Tubes that will miss their deadline at this rate, earliest deadline first.
    pub forecast_breaches: i64,
    /// When the first of them misses it (µs).
    #[serde(skip)]
    pub first_breach_at: Option<i64>,
}

/// Earliest deadline first: the waiting tubes' deadlines, sorted, go onto plates started at
/// the lab's rate from `now`; a tube whose plate releases after its deadline is a breach.
pub fn forecast(deadlines: &[i64], now: i64, cap: &Capacity) -> Forecast {
    let mut d = deadlines.to_vec();
    d.sort_unstable();
    let per_plate = cap.tubes_per_plate.max(1);
    let plates_needed = (d.len() as i64 + per_plate - 1) / per_plate;
    let run = cap.minutes_per_plate.max(0) * MINUTE;
    let gap = if cap.plates_per_hour > 0.0 {
        (60.0 * MINUTE as f64 / cap.plates_per_hour) as i64
    } else {
        i64::MAX / 4
    };
    let done_at = |plate: i64| {
        now.saturating_add(plate.saturating_mul(gap))
            .saturating_add(run)
    };
    let mut breaches = 0;
    let mut first = None;
    for (i, deadline) in d.iter().enumerate() {
        let at = done_at(i as i64 / per_plate);
        if at > *deadline {
            breaches += 1;
            first = Some(first.map_or(*deadline, |f: i64| f.min(*deadline)));
        }
    }
    let before_oldest = match d.first() {
        None => 0,
        Some(oldest) if *oldest < now.saturating_add(run) => 0,
        Some(oldest) => {
            if gap >= i64::MAX / 4 {
                0
            } else {
                (oldest - now - run) / gap.max(1) + 1
            }
        }
    };
    Forecast {
        waiting: d.len() as i64,
        plates_needed,
        plates_before_oldest_deadline: before_oldest,
        forecast_breaches: breaches,
        first_breach_at: first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: i64 = 60 * MINUTE;
    /// 2026-11-24 00:00 UTC.
    const T0: i64 = 1_795_996_800 * SECOND;

    fn released_tube(collected: i64, hours: i64) -> Timeline {
        Timeline {
            clock_start: collected,
            collected,
            deadline: collected + 12 * H,
            received: Some(collected + H),
            placed: Some(collected + 2 * H),
            loaded: Some(collected + 2 * H),
            requeued: None,
            imported: Some(collected + 4 * H),
            released: Some(collected + hours * H),
            acked: None,
        }
    }

    #[test]
    fn exactly_at_the_deadline_is_in_time_and_a_microsecond_later_is_not() {
        let t = released_tube(T0, 12);
        assert_eq!(t.within_deadline(), Some(true));
        assert_eq!(t.breach(T0 + 20 * H), None);
        let late = Timeline {
            released: Some(T0 + 12 * H + 1),
            ..t
        };
        assert_eq!(late.within_deadline(), Some(false));
        assert_eq!(late.breach(T0 + 20 * H), Some(Stage::Review));
    }

    #[test]
    fn the_stage_follows_the_steps() {
        let mut t = Timeline {
            clock_start: T0,
            collected: T0,
            deadline: T0 + 12 * H,
            ..Default::default()
        };
        assert_eq!(t.stage(), Stage::Transport);
        t.received = Some(T0 + H);
        assert_eq!(t.stage(), Stage::Queue);
        t.placed = Some(T0 + 2 * H);
        t.loaded = t.placed;
        assert_eq!(t.stage(), Stage::Run);
        t.imported = Some(T0 + 4 * H);
        assert_eq!(t.stage(), Stage::Review);
        // Sent back for a re-test: waiting for a plate again.
        t.requeued = Some(T0 + 5 * H);
        assert_eq!(t.stage(), Stage::Queue);
        assert_eq!(t.since(Stage::Queue), t.requeued);
        // On a plate again: running (the import is from the first run).
        t.requeued = None;
        t.loaded = Some(T0 + 6 * H);
        assert_eq!(t.stage(), Stage::Run);
        t.imported = Some(T0 + 8 * H);
        assert_eq!(t.stage(), Stage::Review);
        t.released = Some(T0 + 9 * H);
        assert_eq!(t.stage(), Stage::Push);
        assert_eq!(t.since(Stage::Push), t.released);
        t.acked = Some(T0 + 9 * H + MINUTE);
        assert_eq!(t.stage(), Stage::Done);
        assert_eq!(t.since(Stage::Done), None);
    }

    #[test]
    fn a_breach_is_counted_in_the_stage_the_deadline_passed_in() {
        let mut t = released_tube(T0, 14);
        // Stuck in transport until after the deadline.
        t.received = Some(T0 + 13 * H);
        t.placed = Some(T0 + 13 * H + MINUTE);
        t.imported = Some(T0 + 13 * H + 2 * MINUTE);
        assert_eq!(t.breach(0), Some(Stage::Transport));
        // Not released yet, past the deadline, waiting for a plate.
        let open = Timeline {
            clock_start: T0,
            collected: T0,
            deadline: T0 + 12 * H,
            received: Some(T0 + H),
            ..Default::default()
        };
        assert_eq!(open.breach(T0 + 11 * H), None);
        assert_eq!(open.breach(T0 + 12 * H), None);
        assert_eq!(open.breach(T0 + 12 * H + 1), Some(Stage::Queue));
        assert_eq!(open.remaining(T0 + 10 * H), 2 * H);
    }

    #[test]
    fn a_recheck_counts_from_the_pools_collection() {
        // The pool was collected at T0; its member was swabbed again 7 h later.
        let t = Timeline {
            clock_start: T0,
            collected: T0 + 7 * H,
            deadline: T0 + 12 * H,
            received: Some(T0 + 8 * H),
            placed: Some(T0 + 9 * H),
            loaded: Some(T0 + 9 * H),
            imported: Some(T0 + 11 * H),
            released: Some(T0 + 13 * H),
            ..Default::default()
        };
        assert_eq!(t.turnaround(), Some(13 * H));
        let d = t.durations();
        assert_eq!(d[0], Some(7 * 3600), "waiting for the new swab");
        assert_eq!(d[1], Some(3600));
        assert_eq!(d[..5].iter().flatten().sum::<i64>(), 13 * 3600);
        assert_eq!(t.breach(0), Some(Stage::Review));
        // Before the new swab the person was in the re-collection stage.
        assert_eq!(t.stage_at(T0 + 3 * H), Stage::Recollect);
    }

    #[test]
    fn a_retest_across_midnight_keeps_the_first_placement_and_the_last_import() {
        // Collected 20:00, first run imported 23:00, re-tested, released 03:00 next day.
        let c = T0 + 20 * H;
        let t = Timeline {
            clock_start: c,
            collected: c,
            deadline: c + 12 * H,
            received: Some(c + H),
            placed: Some(c + 2 * H),
            loaded: Some(c + 5 * H),
            imported: Some(c + 6 * H),
            released: Some(c + 7 * H),
            ..Default::default()
        };
        assert_eq!(
            t.durations(),
            [
                Some(0),
                Some(3600),
                Some(3600),
                Some(4 * 3600),
                Some(3600),
                None
            ]
        );
        assert_eq!(t.within_deadline(), Some(true));
        assert_eq!(hour_of(c), hour_of(T0) + 20);
    }

    #[test]
    fn contributions_are_counted_once() {
        let mut t = released_tube(T0, 13);
        let (c, mask) = contribution(&t, Outcome::Released, 0);
        assert_eq!((c.released, c.within_deadline, c.pushed), (1, 0, 0));
        assert_eq!(c.breaches, [0, 0, 0, 0, 1]);
        assert_eq!(c.stage_seconds, [0, 3600, 3600, 7200, 9 * 3600]);
        assert_eq!(c.hist.percentile(0.5), Some(13 * 60 + 5));
        assert_eq!(mask, folded::OUTCOME);
        // Again: nothing new.
        let (again, same) = contribution(&t, Outcome::Released, mask);
        assert!(again.is_empty());
        assert_eq!(same, mask);
        // Acknowledged later: only the push.
        t.acked = Some(T0 + 13 * H + 30 * SECOND);
        let (push, mask) = contribution(&t, Outcome::Released, mask);
        assert_eq!((push.released, push.pushed, push.push_seconds), (0, 1, 30));
        assert_eq!(mask, folded::OUTCOME | folded::PUSH);
        // Rejected and re-sampled tubes count as such, open ones not at all.
        assert_eq!(contribution(&t, Outcome::Rejected, 0).0.rejected, 1);
        assert_eq!(contribution(&t, Outcome::Resampled, 0).0.resampled, 1);
        assert_eq!(contribution(&t, Outcome::Open, 0), (Counts::default(), 0));
    }

    #[test]
    fn percentiles_are_bucket_upper_edges() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(0.5), None);
        for m in 1..=100 {
            h.record(m * 6 * MINUTE); // 6 … 600 minutes
        }
        assert_eq!(h.percentile(0.5), Some(300 + 5));
        assert_eq!(h.percentile(0.9), Some(540 + 5));
        assert_eq!(h.percentile(0.99), Some(594 + 1));
        assert_eq!(h.percentile(1.0), Some(600 + 5));
        // Beyond a week: the last bucket.
        let mut far = Histogram::default();
        far.record(30 * 24 * H);
        assert_eq!(far.percentile(0.5), Some(7 * 24 * 60 + 5));
    }

    #[test]
    fn histograms_round_trip_and_refuse_garbage() {
        assert_eq!(Histogram::decode("").unwrap(), Histogram::default());
        assert!(Histogram::decode("1:2,x").is_err());
        assert!(Histogram::decode("a:2").is_err());
        assert!(Histogram::decode("1:-2").is_err());
    }

    proptest! {
        #[test]
        fn dense_and_sparse_histograms_agree(
            a in proptest::collection::vec(0i64..200 * H, 1..50),
            p in 0.0f64..1.0,
        ) {
            let mut h = Histogram::default();
            for t in &a { h.record(*t); }
            let (mut d1, mut d2) = (DenseHistogram::default(), DenseHistogram::default());
            d1.add(&h);
            d2.add_encoded(&h.encode()).unwrap();
            prop_assert_eq!(&d1, &d2);
            prop_assert_eq!(d1.percentile(p), h.percentile(p));
            let mut both = d1.clone();
            both.merge(&d2);
            prop_assert_eq!(both.percentile(p), h.percentile(p));
        }

        #[test]
        fn histograms_encode_and_merge_losslessly(
            a in proptest::collection::vec(0i64..200 * H, 0..50),
            b in proptest::collection::vec(0i64..200 * H, 0..50),
        ) {
            let (mut ha, mut hb, mut all) = (Histogram::default(), Histogram::default(), Histogram::default());
            for t in &a { ha.record(*t); all.record(*t); }
            for t in &b { hb.record(*t); all.record(*t); }
            prop_assert_eq!(Histogram::decode(&ha.encode()).unwrap(), ha.clone());
            let mut merged = ha.clone();
            merged.add_encoded(&hb.encode()).unwrap();
            prop_assert_eq!(&merged, &all);
            prop_assert_eq!(merged.count(), (a.len() + b.len()) as u64);
        }

        #[test]
        fn stages_add_up_to_the_turnaround(
            gaps in proptest::collection::vec(0i64..36_000, 5),
            recheck in 0i64..36_000,
        ) {
            // Whole seconds, as the stage sums keep them.
            let mut at = T0 + recheck * SECOND;
            let mut next = |g: i64| { at += g * SECOND; at };
            let collected = next(0);
            let t = Timeline {
                clock_start: T0,
                collected,
                deadline: T0 + 12 * H,
                received: Some(next(gaps[0])),
                placed: Some(next(gaps[1])),
                loaded: None,
                requeued: None,
                imported: Some(next(gaps[2])),
                released: Some(next(gaps[3])),
                acked: Some(next(gaps[4])),
            };
            let d = t.durations();
            prop_assert_eq!(d[..5].iter().flatten().sum::<i64>(), t.turnaround().unwrap() / SECOND);
            prop_assert_eq!(t.within_deadline() == Some(false), t.breach(i64::MIN).is_some());
        }
    }

    fn cap(per_hour: f64) -> Capacity {
        Capacity {
            tubes_per_plate: 94,
            plates_per_hour: per_hour,
            minutes_per_plate: 180,
        }
    }

    #[test]
    fn the_forecast_fills_plates_earliest_deadline_first() {
        // 94 tubes due in 4 h fit on the first plate (done in 3 h); 94 due in 5 h go on the
        // second plate, started an hour later at 1 plate/h: done in 4 h, in time.
        let mut d = vec![T0 + 4 * H; 94];
        d.extend(vec![T0 + 5 * H; 94]);
        let f = forecast(&d, T0, &cap(1.0));
        assert_eq!(f.waiting, 188);
        assert_eq!(f.plates_needed, 2);
        assert_eq!(f.forecast_breaches, 0);
        // Plates started at 0 h and 1 h release by 4 h: two plates before the oldest deadline.
        assert_eq!(f.plates_before_oldest_deadline, 2);
        // At half the rate the second plate finishes at 5 h: exactly on time still.
        assert_eq!(forecast(&d, T0, &cap(0.5)).forecast_breaches, 0);
        // At a third, it finishes at 6 h: 94 breaches, the first due at 5 h.
        let slow = forecast(&d, T0, &cap(1.0 / 3.0));
        assert_eq!(slow.forecast_breaches, 94);
        assert_eq!(slow.first_breach_at, Some(T0 + 5 * H));
    }

    #[test]
    fn the_forecast_handles_no_queue_no_capacity_and_past_deadlines() {
        let empty = forecast(&[], T0, &cap(2.0));
        assert_eq!(
            (empty.waiting, empty.plates_needed, empty.forecast_breaches),
            (0, 0, 0)
        );
        let stalled = forecast(&[T0 + 100 * H], T0, &cap(0.0));
        assert_eq!(
            stalled.forecast_breaches, 0,
            "the first plate still starts now"
        );
        let stalled = forecast(&vec![T0 + 100 * H; 95], T0, &cap(0.0));
        assert_eq!(stalled.forecast_breaches, 1);
        assert_eq!(stalled.plates_before_oldest_deadline, 0);
        let late = forecast(&[T0 - H], T0, &cap(2.0));
        assert_eq!(late.forecast_breaches, 1);
        assert_eq!(late.plates_before_oldest_deadline, 0);
    }

    #[test]
    fn deadlines_are_checked() {
        assert!(DeadlineHours::default().check().is_ok());
        assert_eq!(DeadlineHours::default().urgent, 6);
        let bad = DeadlineHours {
            urgent: 0,
            ..Default::default()
        };
        assert!(bad.check().unwrap_err().contains("urgent"));
    }
}
