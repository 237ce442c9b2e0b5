//! Rate limiting with the generic cell rate algorithm (GCRA).
//!
//! [`gcra`] is the whole algorithm as a pure function of the stored theoretical arrival time
//! and the clock; [`RateLimiter`] has two real implementations: [`MemoryLimiter`] (one
//! gateway) and [`redis::RedisLimiter`] (replicas sharing one limit through a Lua script that
//! runs the same arithmetic atomically on Redis' clock).

pub mod redis;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use parking_lot::Mutex;

use crate::config::Limit;

/// Why a limiter could not decide (the caller lets the request through and logs).
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The shared store failed.
    #[error("rate limit store: {0}")]
    Store(#[from] ::redis::RedisError),
    /// The shared store answered something the limiter does not understand.
    #[error("rate limit store answered unexpectedly: {0}")]
    Protocol(String),
}

/// A limit in the units the algorithm works in (microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Time between two requests at the sustained rate.
    pub emission_interval_us: i64,
    /// How far ahead of now the theoretical arrival time may run (interval × burst).
    pub tolerance_us: i64,
}

impl Cell {
    /// The cell of an enabled limit; `None` when the limit is disabled.
    pub fn of(limit: Limit) -> Option<Self> {
        if !limit.enabled() {
            return None;
        }
        let interval = (1_000_000.0 / limit.rate_per_second).ceil().max(1.0);
        // Saturating float-to-int cast: an absurdly slow rate becomes "one per i64::MAX µs".
        let emission_interval_us = interval as i64;
        let tolerance_us = emission_interval_us.saturating_mul(i64::from(limit.burst.max(1)));
        Some(Self {
            emission_interval_us,
            tolerance_us,
        })
    }
}

/// The outcome of one GCRA step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed; store `tat_us` as the new theoretical arrival time (expiring `ttl_us` from now).
    Allow {
        /// The new theoretical arrival time.
        tat_us: i64,
        /// How long the stored value matters.
        ttl_us: i64,
    },
    /// Refused; the request would conform after `retry_after_us`. Nothing is stored.
    Deny {
        /// Time until a request would be allowed.
        retry_after_us: i64,
    },
}

/// One GCRA step: `tat_us` is the stored theoretical arrival time (if any), `now_us` the clock.
///
/// A request is allowed when, after adding one emission interval, the theoretical arrival time
/// is at most `tolerance` ahead of now; so `burst` requests pass back to back and then one per
/// interval.
pub fn gcra(tat_us: Option<i64>, now_us: i64, cell: Cell) -> Verdict {
    let tat = tat_us.map_or(now_us, |tat| tat.max(now_us));
    let new_tat = tat.saturating_add(cell.emission_interval_us);
    let ahead = new_tat - now_us;
    if ahead > cell.tolerance_us {
        Verdict::Deny {
            retry_after_us: ahead - cell.tolerance_us,
        }
    } else {
        Verdict::Allow {
            tat_us: new_tat,
            ttl_us: ahead,
        }
    }
}

/// Whole seconds a client should wait (`Retry-After`), at least 1.
pub fn retry_after_secs(retry_after_us: i64) -> u64 {
    let micros = u64::try_from(retry_after_us).unwrap_or(0);
    micros.div_ceil(1_000_000).max(1)
}

/// What a limiter decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allowed,
    /// Over the limit; retry after this long.
    Limited(Duration),
}

/// Where limiter state lives: one process, or a store shared by replicas.
pub trait RateLimiter: Send + Sync {
    /// Counts one request against `key` under `cell`.
    fn check<'a>(
        &'a self,
        key: &'a str,
        cell: Cell,
    ) -> BoxFuture<'a, Result<Decision, RateLimitError>>;
}

fn decision(verdict: Verdict) -> Decision {
    match verdict {
        Verdict::Allow { .. } => Decision::Allowed,
        Verdict::Deny { retry_after_us } => Decision::Limited(Duration::from_micros(
            u64::try_from(retry_after_us).unwrap_or(0),
        )),
    }
}

/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

/// GCRA state in this process: key → theoretical arrival time, on a monotonic clock.
pub struct MemoryLimiter {
    epoch: Instant,
    state: Mutex<HashMap<String, i64>>,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            state: Mutex::new(HashMap::new()),
        }
    }
}

impl MemoryLimiter {
    fn now_us(&self) -> i64 {
        i64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(i64::MAX)
    }

    /// One step at an explicit clock reading (what [`RateLimiter::check`] does with the time).
    pub fn check_at(&self, key: &str, cell: Cell, now_us: i64) -> Decision {
        let mut state = self.state.lock();
        let verdict = gcra(state.get(key).copied(), now_us, cell);
        if let Verdict::Allow { tat_us, .. } = verdict {
            if state.len() >= SWEEP_AT && !state.contains_key(key) {
                // A past theoretical arrival time means the key is back at full burst: forget it.
                state.retain(|_, tat| *tat > now_us);
            }
            state.insert(key.to_owned(), tat_us);
        }
        decision(verdict)
    }
}

impl RateLimiter for MemoryLimiter {
    fn check<'a>(
        &'a self,
        key: &'a str,
        cell: Cell,
    ) -> BoxFuture<'a, Result<Decision, RateLimitError>> {
        let now = self.now_us();
        Box::pin(async move { Ok(self.check_at(key, cell, now)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn cell(rate: f64, burst: u32) -> Cell {
        Cell::of(Limit {
            rate_per_second: rate,
            burst,
        })
        .unwrap_or_else(|| panic!("limit enabled"))
    }

    /// Runs requests at the given clock readings through `gcra`, keeping the state.
    fn run(cell: Cell, times: &[i64]) -> Vec<Verdict> {
        let mut tat = None;
        times
            .iter()
            .map(|&now| {
                let verdict = gcra(tat, now, cell);
                if let Verdict::Allow { tat_us, .. } = verdict {
                    tat = Some(tat_us);
                }
                verdict
            })
            .collect()
    }

    #[test]
    fn a_burst_passes_back_to_back_then_the_rate_applies() {
        let cell = cell(1.0, 3);
        let verdicts = run(cell, &[0, 0, 0, 0]);
        assert!(matches!(verdicts[0], Verdict::Allow { .. }));
        assert!(matches!(verdicts[2], Verdict::Allow { .. }));
        assert_eq!(
            verdicts[3],
            Verdict::Deny {
                retry_after_us: SECOND
            }
        );
    }

    #[test]
    fn one_interval_later_one_more_request_conforms() {
        let cell = cell(2.0, 1);
        let verdicts = run(cell, &[0, 100_000, SECOND / 2, SECOND / 2 + 1]);
        assert!(matches!(verdicts[0], Verdict::Allow { .. }));
        assert_eq!(
            verdicts[1],
            Verdict::Deny {
                retry_after_us: 400_000
            }
        );
        assert!(matches!(verdicts[2], Verdict::Allow { .. }));
        assert!(matches!(verdicts[3], Verdict::Deny { .. }));
    }

    #[test]
    fn idle_time_refills_the_burst_but_never_beyond_it() {
        let cell = cell(10.0, 2);
        let verdicts = run(cell, &[0, 0, 100 * SECOND, 100 * SECOND, 100 * SECOND]);
        let allowed = verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Allow { .. }))
            .count();
        assert_eq!(allowed, 4, "{verdicts:?}");
    }

    #[test]
    fn the_stored_state_expires_when_the_burst_is_full_again() {
        let cell = cell(4.0, 2);
        assert_eq!(
            gcra(None, 7, cell),
            Verdict::Allow {
                tat_us: 7 + 250_000,
                ttl_us: 250_000
            }
        );
    }

    #[test]
    fn retry_after_is_whole_seconds_and_at_least_one() {
        assert_eq!(retry_after_secs(1), 1);
        assert_eq!(retry_after_secs(0), 1);
        assert_eq!(retry_after_secs(SECOND), 1);
        assert_eq!(retry_after_secs(SECOND + 1), 2);
    }

    #[test]
    fn disabled_limits_have_no_cell() {
        let off = Limit {
            rate_per_second: 0.0,
            burst: 5,
        };
        assert_eq!(Cell::of(off), None);
    }

    #[test]
    fn the_memory_limiter_keeps_keys_apart() {
        let limiter = MemoryLimiter::default();
        let cell = cell(1.0, 1);
        assert_eq!(limiter.check_at("a", cell, 0), Decision::Allowed);
        assert!(matches!(
            limiter.check_at("a", cell, 10),
            Decision::Limited(_)
        ));
        assert_eq!(limiter.check_at("b", cell, 10), Decision::Allowed);
        assert_eq!(limiter.check_at("a", cell, SECOND), Decision::Allowed);
    }
}
