//! The pure decisions of the engine: error ratios, burn rates, budgets and the Workbook's
//! multi-window multi-burn-rate tiers, over plain numbers.

use serde::{Deserialize, Serialize};

use super::rollup::Sums;

/// Bad over total events; `None` without traffic.
pub fn error_ratio(s: Sums) -> Option<f64> {
    (s.total > 0.0).then(|| s.bad / s.total)
}

/// How many times faster than allowed the budget burns: error ratio over the budget fraction.
pub fn burn_rate(s: Sums, budget: f64) -> Option<f64> {
    error_ratio(s).map(|r| {
        if budget > 0.0 {
            r / budget
        } else {
            f64::INFINITY
        }
    })
}

/// The share of the budget consumed over a window, as a ratio (1 = all of it): the same as
/// the burn rate over the full window.
pub fn budget_consumed(s: Sums, budget: f64) -> f64 {
    burn_rate(s, budget).unwrap_or(0.0)
}

/// Why a tier's condition holds or not at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Both windows' error ratios exceed the threshold with enough traffic.
    Met,
    /// At least one window is at or below the threshold.
    BelowThreshold,
    /// Both exceed it, but the long window holds fewer events than the low-traffic guard asks.
    LowTraffic,
    /// A window has no traffic at all.
    NoTraffic,
}

/// A tier's condition: the error ratio over the long and the short window both above
/// `threshold` (`factor × budget`, strictly, as the generated rules compare), and at least
/// `min_events` events in the long window (0 disables the guard).
pub fn tier_condition(long: Sums, short: Sums, threshold: f64, min_events: u64) -> Condition {
    let (Some(l), Some(s)) = (error_ratio(long), error_ratio(short)) else {
        return Condition::NoTraffic;
    };
    if l <= threshold || s <= threshold {
        Condition::BelowThreshold
    } else if min_events > 0 && long.total < min_events as f64 {
        Condition::LowTraffic
    } else {
        Condition::Met
    }
}

/// An alert's phase, as Prometheus has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "since_ms")]
pub enum Phase {
    /// The condition does not hold.
    Inactive,
    /// The condition holds since the given instant, for less than the alert's `for`.
    Pending(i64),
    /// The condition has held for the alert's `for` since the given instant.
    Firing(i64),
}

impl Phase {
    /// Whether the alert fires.
    pub fn firing(&self) -> bool {
        matches!(self, Phase::Firing(_))
    }
}

/// The next phase after an evaluation at `now_ms`: pending while the condition has held for
/// less than `for_ms`, firing from then on, inactive as soon as it stops holding.
pub fn advance(phase: Phase, met: bool, now_ms: i64, for_ms: i64) -> Phase {
    if !met {
        return Phase::Inactive;
    }
    let since = match phase {
        Phase::Inactive => now_ms,
        Phase::Pending(s) | Phase::Firing(s) => s,
    };
    if now_ms - since >= for_ms {
        Phase::Firing(since)
    } else {
        Phase::Pending(since)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn burn_rate_is_error_ratio_over_budget() {
        let s = Sums::new(72.0, 10_000.0);
        assert!((burn_rate(s, 0.0005).unwrap() - 14.4).abs() < 1e-9);
        assert_eq!(burn_rate(Sums::new(0.0, 0.0), 0.0005), None);
        assert_eq!(budget_consumed(Sums::new(0.0, 0.0), 0.0005), 0.0);
        assert!((budget_consumed(Sums::new(5.0, 10_000.0), 0.0005) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn tiers_need_both_windows_above_the_threshold_and_enough_traffic() {
        let t = 0.0072;
        let hot = Sums::new(100.0, 1000.0);
        let cold = Sums::new(7.0, 1000.0);
        assert_eq!(tier_condition(hot, hot, t, 100), Condition::Met);
        assert_eq!(tier_condition(hot, cold, t, 100), Condition::BelowThreshold);
        assert_eq!(tier_condition(cold, hot, t, 100), Condition::BelowThreshold);
        // Exactly at the threshold does not fire (strict comparison).
        let at = Sums::new(72.0, 10_000.0);
        assert_eq!(tier_condition(at, at, t, 0), Condition::BelowThreshold);
        let few = Sums::new(50.0, 50.0);
        assert_eq!(tier_condition(few, few, t, 100), Condition::LowTraffic);
        assert_eq!(tier_condition(few, few, t, 0), Condition::Met);
        assert_eq!(
            tier_condition(Sums::default(), hot, t, 0),
            Condition::NoTraffic
        );
    }

    #[test]
    fn alerts_pend_for_their_for_duration_then_fire() {
        let mut p = Phase::Inactive;
        p = advance(p, true, 1000, 120_000);
        assert_eq!(p, Phase::Pending(1000));
        p = advance(p, true, 61_000, 120_000);
        assert_eq!(p, Phase::Pending(1000));
        p = advance(p, true, 121_000, 120_000);
        assert_eq!(p, Phase::Firing(1000));
        assert!(p.firing());
        p = advance(p, false, 122_000, 120_000);
        assert_eq!(p, Phase::Inactive);
        assert_eq!(advance(Phase::Inactive, true, 5, 0), Phase::Firing(5));
    }
}
