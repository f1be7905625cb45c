//! 熔断 a circuit breaker for a push sink, as a pure state machine: after a run of failed
//! deliveries (network errors, timeouts, 5xx, 429) the sink is taken to be down and the breaker
//! opens; while it is open nothing is sent but one probe at a time, at growing intervals, and
//! the failures spend no message's attempts; the first probe answered closes it, and the queue
//! drains at full speed. A refusal (4xx) is an answer: the receiver is up.
//!
//! Times are a monotonic clock's readings, as durations since any fixed start.

use std::time::Duration;

/// How a breaker behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failed deliveries in a row that open it.
    pub failures: u32,
    /// The wait before the first probe; it doubles after each failed probe…
    pub first_probe: Duration,
    /// … up to this.
    pub max_probe: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            failures: 3,
            first_probe: Duration::from_millis(500),
            max_probe: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Deliveries go out.
    Closed,
    /// The sink is down: nothing goes out until `probe_at`.
    Open { probe_at: Duration },
    /// One probe is under way.
    Probing,
}

/// What the breaker lets the worker do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    Deliver,
    /// Send one message alone, as a probe.
    Probe,
    /// Send nothing before this.
    WaitUntil(Duration),
}

/// What a recorded outcome changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    /// The sink is down from now.
    Opened,
    /// The sink answers again.
    Closed,
}

/// How a delivery ended, as the breaker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered (delivered, or refused with a 4xx).
    Answered,
    /// No usable answer (network error, timeout, 5xx, 429).
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    policy: Policy,
    state: State,
    /// Failures in a row while closed.
    failures: u32,
    /// The wait before the next probe.
    probe_wait: Duration,
}

impl Breaker {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            state: State::Closed,
            failures: 0,
            probe_wait: policy.first_probe,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// What may be sent at `now`. A `Probe` answer moves it to probing: nothing else is let out
    /// until the probe's outcome is recorded.
    pub fn permit(&mut self, now: Duration) -> Permit {
        match self.state {
            State::Closed => Permit::Deliver,
            State::Open { probe_at } if now >= probe_at => {
                self.state = State::Probing;
                Permit::Probe
            }
            State::Open { probe_at } => Permit::WaitUntil(probe_at),
            // The probe's outcome decides; look again shortly.
            State::Probing => Permit::WaitUntil(now + self.policy.first_probe.min(self.probe_wait)),
        }
    }

    /// The probe the breaker let out found nothing to send: it stays open, to probe again
    /// after the first wait.
    pub fn no_probe(&mut self, now: Duration) {
        if self.state == State::Probing {
            self.state = State::Open {
                probe_at: now + self.policy.first_probe,
            };
        }
    }

    /// Records how a delivery ended (`probe`: it was the probe).
    pub fn record(&mut self, outcome: Outcome, probe: bool, now: Duration) -> Change {
        match (self.state, outcome, probe) {
            (State::Probing, Outcome::Answered, true) => {
                self.state = State::Closed;
                self.failures = 0;
                self.probe_wait = self.policy.first_probe;
                Change::Closed
            }
            (State::Probing, Outcome::Failed, true) => {
                self.probe_wait = (self.probe_wait * 2).min(self.policy.max_probe);
                self.state = State::Open {
                    probe_at: now + self.probe_wait,
                };
                Change::None
            }
            (State::Closed, Outcome::Answered, _) => {
                self.failures = 0;
                Change::None
            }
            (State::Closed, Outcome::Failed, _) => {
                self.failures += 1;
                if self.failures >= self.policy.failures {
                    self.probe_wait = self.policy.first_probe;
                    self.state = State::Open {
                        probe_at: now + self.probe_wait,
                    };
                    Change::Opened
                } else {
                    Change::None
                }
            }
            // A delivery sent before the breaker opened ends while it is open (or probing):
            // an answer shows the sink is back, a failure changes nothing.
            (State::Open { .. } | State::Probing, Outcome::Answered, false) => {
                self.state = State::Closed;
                self.failures = 0;
                self.probe_wait = self.policy.first_probe;
                Change::Closed
            }
            (State::Open { .. } | State::Probing, Outcome::Failed, false) => Change::None,
            // A probe's outcome arriving when no probe is awaited (cannot happen in the worker).
            (State::Open { .. }, _, true) => Change::None,
        }
    }

    /// Whether a failed delivery recorded just now spends the message's attempt: only while
    /// the sink is taken to be up (the failures that open the breaker, and those while it is
    /// open, do not).
    pub fn spends_attempts(&self) -> bool {
        self.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn breaker() -> Breaker {
        Breaker::new(Policy {
            failures: 3,
            first_probe: ms(500),
            max_probe: ms(4000),
        })
    }

    #[test]
    fn failures_in_a_row_open_it_and_an_answer_in_between_resets_the_count() {
        let mut b = breaker();
        assert_eq!(b.record(Outcome::Failed, false, ms(0)), Change::None);
        assert_eq!(b.record(Outcome::Failed, false, ms(1)), Change::None);
        assert!(b.spends_attempts(), "the sink is still taken to be up");
        assert_eq!(b.record(Outcome::Answered, false, ms(2)), Change::None);
        assert_eq!(b.record(Outcome::Failed, false, ms(3)), Change::None);
        assert_eq!(b.record(Outcome::Failed, false, ms(4)), Change::None);
        assert_eq!(b.permit(ms(4)), Permit::Deliver);
        assert_eq!(b.record(Outcome::Failed, false, ms(5)), Change::Opened);
        assert!(
            !b.spends_attempts(),
            "the failure that opens it spends nothing"
        );
        assert_eq!(b.permit(ms(6)), Permit::WaitUntil(ms(505)));
    }

    #[test]
    fn while_open_one_probe_at_growing_intervals_until_one_is_answered() {
        let mut b = breaker();
        for t in 0..3 {
            b.record(Outcome::Failed, false, ms(t));
        }
        let mut now = ms(2);
        let mut waits = vec![];
        for _ in 0..5 {
            let Permit::WaitUntil(at) = b.permit(now) else {
                panic!("open: nothing goes out")
            };
            waits.push((at - now).as_millis());
            now = at;
            assert_eq!(b.permit(now), Permit::Probe);
            assert!(
                matches!(b.permit(now), Permit::WaitUntil(_)),
                "one probe at a time"
            );
            // A delivery sent before it opened fails late: nothing changes.
            assert_eq!(b.record(Outcome::Failed, false, now), Change::None);
            assert_eq!(b.record(Outcome::Failed, true, now), Change::None);
            assert!(!b.spends_attempts());
        }
        assert_eq!(waits, [500, 1000, 2000, 4000, 4000]);
        let Permit::WaitUntil(at) = b.permit(now) else {
            panic!()
        };
        assert_eq!(b.permit(at), Permit::Probe);
        assert_eq!(b.record(Outcome::Answered, true, at), Change::Closed);
        assert_eq!(b.permit(at), Permit::Deliver);
        assert!(b.spends_attempts());
        // Opened again, it starts from the first wait.
        for t in 0..3 {
            b.record(Outcome::Failed, false, at + ms(t));
        }
        assert_eq!(b.permit(at + ms(2)), Permit::WaitUntil(at + ms(502)));
    }

    #[test]
    fn a_refusal_is_an_answer_and_a_late_answer_closes_it() {
        let mut b = breaker();
        for t in 0..3 {
            b.record(Outcome::Failed, false, ms(t));
        }
        assert_eq!(b.record(Outcome::Answered, false, ms(10)), Change::Closed);
        assert_eq!(b.permit(ms(10)), Permit::Deliver);
        for t in 0..3 {
            b.record(Outcome::Failed, false, ms(20 + t));
        }
        assert_eq!(b.permit(ms(600)), Permit::Probe);
        b.no_probe(ms(600));
        assert_eq!(
            b.permit(ms(601)),
            Permit::WaitUntil(ms(1100)),
            "nothing to probe with"
        );
    }
}
