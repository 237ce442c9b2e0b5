//! Alerts and Prometheus' alert state machine as a pure function of the previous state, the
//! new sample and the time: inactive → pending (while `for` has not elapsed) → firing →
//! resolved (kept [`RESOLVED_RETENTION_MS`] for notification), with `keep_firing_for`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How long a resolved alert is kept (Prometheus' `resolvedRetention`, 15 minutes).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// The state of a known alert (an alert that is not known is inactive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition holds but `for` has not elapsed yet.
    Pending,
    /// The condition has held for `for` (or is kept by `keep_firing_for`).
    Firing,
    /// It fired and the condition cleared; kept for 15 minutes so the resolution is notified
    /// (Prometheus' `inactive` state with `ResolvedAt` set).
    Resolved,
}

impl AlertState {
    /// The `alertstate` label value (`pending`, `firing`, `inactive`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "inactive",
        }
    }
}

/// One alert of an alerting rule, identified by its labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveAlert {
    /// Identifying labels (the sample's labels without `__name__`, the rule's templated
    /// labels, `alertname`).
    pub labels: BTreeMap<String, String>,
    /// Templated annotations of the latest evaluation.
    pub annotations: BTreeMap<String, String>,
    /// Current state.
    pub state: AlertState,
    /// When the condition started holding (unix ms).
    pub active_at: i64,
    /// When it started firing (unix ms).
    pub fired_at: Option<i64>,
    /// When it resolved (unix ms).
    pub resolved_at: Option<i64>,
    /// The sample value of the latest evaluation where the condition held.
    #[serde(with = "float_text")]
    pub value: f64,
    /// Since when it is kept firing by `keep_firing_for` although the condition cleared.
    pub keep_firing_since: Option<i64>,
}

impl ActiveAlert {
    /// The alert's name (`alertname` label).
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

/// The result of the alert's expression for the alert's labels at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSample {
    /// Identifying labels (as in [`ActiveAlert::labels`]).
    pub labels: BTreeMap<String, String>,
    /// Templated annotations.
    pub annotations: BTreeMap<String, String>,
    /// The sample value.
    pub value: f64,
}

/// A rule's timing parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlertTiming {
    /// `for`, ms.
    pub hold_ms: i64,
    /// `keep_firing_for`, ms.
    pub keep_firing_for_ms: i64,
}

/// The next state of one alert: `prev` is what was known (None: inactive), `sample` the
/// expression's result for these labels at `now` (None: the condition does not hold).
/// Returns None when the alert is forgotten (inactive). This is exactly Prometheus'
/// `AlertingRule.Eval` for one label set.
pub fn transition(
    prev: Option<&ActiveAlert>,
    sample: Option<&AlertSample>,
    now: i64,
    timing: AlertTiming,
) -> Option<ActiveAlert> {
    let mut a = match (prev, sample) {
        (Some(p), Some(s)) if p.state != AlertState::Resolved => ActiveAlert {
            value: s.value,
            annotations: s.annotations.clone(),
            ..p.clone()
        },
        (_, Some(s)) => ActiveAlert {
            labels: s.labels.clone(),
            annotations: s.annotations.clone(),
            state: AlertState::Pending,
            active_at: now,
            fired_at: None,
            resolved_at: None,
            value: s.value,
            keep_firing_since: None,
        },
        (Some(p), None) => p.clone(),
        (None, None) => return None,
    };
    if sample.is_none() {
        let mut keep_firing = false;
        if a.state == AlertState::Firing && timing.keep_firing_for_ms > 0 {
            let since = *a.keep_firing_since.get_or_insert(now);
            keep_firing = now - since < timing.keep_firing_for_ms;
        }
        if a.state == AlertState::Pending
            || a.resolved_at
                .is_some_and(|r| now - r > RESOLVED_RETENTION_MS)
        {
            return None;
        }
        if !keep_firing {
            if a.state != AlertState::Resolved {
                a.state = AlertState::Resolved;
                a.resolved_at = Some(now);
            }
            return Some(a);
        }
    } else {
        a.keep_firing_since = None;
    }
    if a.state == AlertState::Pending && now - a.active_at >= timing.hold_ms {
        a.state = AlertState::Firing;
        a.fired_at = Some(now);
    }
    Some(a)
}

/// Floats as JSON numbers, and `NaN`, `+Inf`, `-Inf` as strings (JSON has no such numbers).
mod float_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("+Inf")
        } else {
            s.serialize_str("-Inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText {
        Num(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match NumOrText::deserialize(d)? {
            NumOrText::Num(n) => Ok(n),
            NumOrText::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "+Inf" | "Inf" => Ok(f64::INFINITY),
                "-Inf" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!("not a number: {other}"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample(v: f64) -> AlertSample {
        AlertSample {
            labels: BTreeMap::from([("alertname".into(), "A".into())]),
            annotations: BTreeMap::from([("v".into(), v.to_string())]),
            value: v,
        }
    }

    const MIN: i64 = 60_000;

    #[test]
    fn pending_then_firing_then_resolved_then_forgotten() {
        let t = AlertTiming {
            hold_ms: 2 * MIN,
            keep_firing_for_ms: 0,
        };
        let a = transition(None, Some(&sample(1.0)), 0, t).unwrap();
        assert_eq!((a.state, a.active_at), (AlertState::Pending, 0));
        let a = transition(Some(&a), Some(&sample(2.0)), MIN, t).unwrap();
        assert_eq!((a.state, a.value), (AlertState::Pending, 2.0));
        let a = transition(Some(&a), Some(&sample(3.0)), 2 * MIN, t).unwrap();
        assert_eq!((a.state, a.fired_at), (AlertState::Firing, Some(2 * MIN)));
        assert_eq!(a.annotations["v"], "3");
        let r = transition(Some(&a), None, 3 * MIN, t).unwrap();
        assert_eq!(
            (r.state, r.resolved_at),
            (AlertState::Resolved, Some(3 * MIN))
        );
        let r = transition(Some(&r), None, 3 * MIN + RESOLVED_RETENTION_MS, t).unwrap();
        assert_eq!(r.resolved_at, Some(3 * MIN));
        assert!(transition(Some(&r), None, 4 * MIN + RESOLVED_RETENTION_MS, t).is_none());
        // Back while resolved: a new pending alert.
        let again = transition(Some(&r), Some(&sample(1.0)), 5 * MIN, t).unwrap();
        assert_eq!(
            (again.state, again.active_at),
            (AlertState::Pending, 5 * MIN)
        );
    }

    #[test]
    fn pending_alert_that_clears_is_forgotten_and_zero_for_fires_at_once() {
        let t = AlertTiming {
            hold_ms: 5 * MIN,
            keep_firing_for_ms: 0,
        };
        let a = transition(None, Some(&sample(1.0)), 0, t).unwrap();
        assert!(transition(Some(&a), None, MIN, t).is_none());
        let now = transition(None, Some(&sample(1.0)), 0, AlertTiming::default()).unwrap();
        assert_eq!(now.state, AlertState::Firing);
    }

    #[test]
    fn keep_firing_for_holds_a_firing_alert() {
        let t = AlertTiming {
            hold_ms: 0,
            keep_firing_for_ms: 2 * MIN,
        };
        let a = transition(None, Some(&sample(7.0)), 0, t).unwrap();
        let k = transition(Some(&a), None, MIN, t).unwrap();
        assert_eq!(
            (k.state, k.keep_firing_since, k.value),
            (AlertState::Firing, Some(MIN), 7.0)
        );
        let k = transition(Some(&k), None, 2 * MIN, t).unwrap();
        assert_eq!(k.state, AlertState::Firing);
        let r = transition(Some(&k), None, 3 * MIN, t).unwrap();
        assert_eq!(
            (r.state, r.resolved_at),
            (AlertState::Resolved, Some(3 * MIN))
        );
        // Condition back while kept firing resets keep_firing_since.
        let k = transition(Some(&a), None, MIN, t).unwrap();
        let back = transition(Some(&k), Some(&sample(8.0)), 2 * MIN, t).unwrap();
        assert_eq!(
            (back.state, back.keep_firing_since, back.active_at),
            (AlertState::Firing, None, 0)
        );
    }

    #[test]
    fn serializes_with_non_finite_values() {
        let mut a = transition(None, Some(&sample(1.0)), 0, AlertTiming::default()).unwrap();
        a.value = f64::NAN;
        let json = serde_json::to_string(&a).unwrap();
        let back: ActiveAlert = serde_json::from_str(&json).unwrap();
        assert!(back.value.is_nan());
        assert_eq!(back.state, AlertState::Firing);
    }
}
