//! The health state machine of one endpoint, and the atomic cell that holds
//! it so the per-request path reads health without a lock.
//!
//! An endpoint goes down after `unhealthy_after` consecutive failures (failed
//! probes and passive reports count alike) and comes back after
//! `healthy_after` consecutive successful probes. Only probes bring an
//! endpoint back: the proxy sends no traffic to a down endpoint, so a passive
//! success while down is a request that was already in flight, not evidence
//! of recovery. This module does no I/O and knows nothing of pools.

use std::sync::atomic::{AtomicU64, Ordering};

/// What happened to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// An active probe answered 2xx in time.
    ProbeOk,
    /// An active probe failed: no connection, not 2xx, or too slow.
    ProbeFailed,
    /// The proxy reached the endpoint.
    PassiveOk,
    /// The proxy could not reach the endpoint.
    PassiveFailed,
}

/// When an endpoint changes state. Both are at least 1 (checked at start-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Thresholds {
    /// Consecutive failures that mark a healthy endpoint down.
    pub(crate) unhealthy_after: u32,
    /// Consecutive successful probes that bring a down endpoint back.
    pub(crate) healthy_after: u32,
}

/// Counters are kept below this so they fit the packed word.
const COUNT_MAX: u32 = (1 << 31) - 1;

/// One endpoint's health, unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct State {
    /// Whether the endpoint takes traffic.
    pub(crate) healthy: bool,
    /// Consecutive failures so far.
    pub(crate) failures: u32,
    /// Consecutive successful probes so far while down.
    pub(crate) successes: u32,
}

impl State {
    /// The start state. Endpoints start healthy: a pessimistic start would
    /// answer 503 to everything until the first probe round, while an
    /// optimistic one costs at most `unhealthy_after` failed connections to a
    /// dead endpoint (and the first probe runs as soon as checks are spawned).
    pub(crate) const START: State = State {
        healthy: true,
        failures: 0,
        successes: 0,
    };

    /// The state after `event`.
    #[must_use]
    pub(crate) fn next(self, event: Event, t: Thresholds) -> State {
        match event {
            Event::ProbeFailed | Event::PassiveFailed => {
                let failures = self.failures.saturating_add(1).min(COUNT_MAX);
                State {
                    healthy: self.healthy && failures < t.unhealthy_after,
                    failures,
                    successes: 0,
                }
            }
            Event::ProbeOk if self.healthy => State::START,
            Event::ProbeOk => {
                let successes = self.successes.saturating_add(1).min(COUNT_MAX);
                if successes >= t.healthy_after {
                    State::START
                } else {
                    State {
                        healthy: false,
                        failures: 0,
                        successes,
                    }
                }
            }
            Event::PassiveOk => State {
                failures: 0,
                ..self
            },
        }
    }

    const DOWN: u64 = 1 << 63;

    fn pack(self) -> u64 {
        let down = if self.healthy { 0 } else { Self::DOWN };
        down | (u64::from(self.failures) << 32) | u64::from(self.successes)
    }

    fn unpack(word: u64) -> State {
        State {
            healthy: word & Self::DOWN == 0,
            // Both counters are below 2^31, so the masks lose nothing.
            failures: ((word >> 32) & u64::from(COUNT_MAX)) as u32,
            successes: (word & u64::from(COUNT_MAX)) as u32,
        }
    }
}

/// A [`State`] packed into one atomic word: reads are a single load, and
/// updates are a compare-and-swap loop, so concurrent reports never lose a
/// count or tear the state.
#[derive(Debug)]
pub(crate) struct HealthCell(AtomicU64);

impl HealthCell {
    /// A cell in the start state.
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(State::START.pack()))
    }

    /// Whether the endpoint takes traffic now.
    pub(crate) fn is_healthy(&self) -> bool {
        self.state().healthy
    }

    /// The current state.
    pub(crate) fn state(&self) -> State {
        State::unpack(self.0.load(Ordering::Acquire))
    }

    /// Applies `event`; returns the states before and after.
    pub(crate) fn record(&self, event: Event, t: Thresholds) -> (State, State) {
        let step = |word| Some(State::unpack(word).next(event, t).pack());
        // The closure always returns Some, so both arms carry the old word.
        let old = match self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, step)
        {
            Ok(word) | Err(word) => State::unpack(word),
        };
        (old, old.next(event, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        unhealthy_after: 3,
        healthy_after: 2,
    };

    fn run(events: &[Event]) -> State {
        events.iter().fold(State::START, |s, &e| s.next(e, T))
    }

    use Event::*;

    #[test]
    fn endpoints_start_healthy() {
        assert!(HealthCell::new().is_healthy());
    }

    #[test]
    fn down_only_after_unhealthy_after_consecutive_failures() {
        assert!(run(&[ProbeFailed, PassiveFailed]).healthy);
        assert!(!run(&[ProbeFailed, PassiveFailed, ProbeFailed]).healthy);
    }

    #[test]
    fn any_success_breaks_a_failure_streak() {
        assert!(run(&[ProbeFailed, ProbeFailed, ProbeOk, ProbeFailed, ProbeFailed]).healthy);
        assert!(
            run(&[
                PassiveFailed,
                PassiveFailed,
                PassiveOk,
                PassiveFailed,
                PassiveFailed
            ])
            .healthy
        );
    }

    #[test]
    fn back_up_only_after_healthy_after_consecutive_probes() {
        let down = [ProbeFailed, ProbeFailed, ProbeFailed];
        assert!(!run(&[&down[..], &[ProbeOk]].concat()).healthy);
        assert!(run(&[&down[..], &[ProbeOk, ProbeOk]].concat()).healthy);
        // A failure in between restarts the count.
        assert!(!run(&[&down[..], &[ProbeOk, PassiveFailed, ProbeOk]].concat()).healthy);
    }

    #[test]
    fn passive_success_does_not_revive_a_down_endpoint() {
        let events = [
            ProbeFailed,
            ProbeFailed,
            ProbeFailed,
            PassiveOk,
            PassiveOk,
            PassiveOk,
        ];
        assert!(!run(&events).healthy);
    }

    #[test]
    fn revived_endpoint_needs_a_full_streak_to_go_down_again() {
        let events = [
            ProbeFailed,
            ProbeFailed,
            ProbeFailed,
            ProbeOk,
            ProbeOk,
            ProbeFailed,
            ProbeFailed,
        ];
        assert!(run(&events).healthy);
    }

    #[test]
    fn thresholds_of_one_flip_on_each_event() {
        let t = Thresholds {
            unhealthy_after: 1,
            healthy_after: 1,
        };
        let down = State::START.next(PassiveFailed, t);
        assert!(!down.healthy);
        assert!(down.next(ProbeOk, t).healthy);
    }

    #[test]
    fn counters_saturate_instead_of_wrapping() {
        let s = State {
            healthy: false,
            failures: COUNT_MAX,
            successes: 0,
        };
        let s = s.next(ProbeFailed, T);
        assert_eq!(s.failures, COUNT_MAX);
        assert!(!s.healthy);
        let cell = HealthCell(AtomicU64::new(s.pack()));
        assert_eq!(cell.state(), s);
    }

    #[test]
    fn cell_reports_the_transition() {
        let cell = HealthCell::new();
        cell.record(ProbeFailed, T);
        cell.record(ProbeFailed, T);
        let (before, after) = cell.record(PassiveFailed, T);
        assert!(before.healthy && !after.healthy);
        assert!(!cell.is_healthy());
    }

    #[test]
    fn concurrent_reports_lose_no_count() {
        let t = Thresholds {
            unhealthy_after: 4_000,
            healthy_after: 1,
        };
        let cell = HealthCell::new();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..999 {
                        cell.record(PassiveFailed, t);
                    }
                });
            }
        });
        assert_eq!(cell.state().failures, 3_996);
        assert!(cell.is_healthy());
        cell.record(PassiveFailed, t);
        cell.record(PassiveFailed, t);
        cell.record(PassiveFailed, t);
        cell.record(PassiveFailed, t);
        assert!(!cell.is_healthy());
    }
}
