//! The integrations a receiver notifies through, and what a notification carries.
//!
//! - [`slack`]: Slack Web API through slack-morphism (`chat.postMessage`, `chat.update`,
//!   thread replies, Block Kit with Acknowledge / Silence 1h buttons, 429 Retry-After)
//! - [`pagerduty`]: PagerDuty Events API v2 (trigger / acknowledge / resolve by dedup key)
//! - [`webhook`]: Alertmanager's webhook payload (version 4)
//! - [`signature`]: Slack and PagerDuty request-signature verification
//! - [`settings`]: URLs and secrets (`BALLAST_SLACK__*`, `BALLAST_PAGERDUTY__*`)

pub mod pagerduty;
pub mod settings;
pub mod signature;
pub mod slack;
pub mod webhook;

use std::time::Duration;

use ballast_kit::store::millis_to_rfc3339;
use serde::Serialize;

use crate::model::{LabelSet, StoredAlert};
use crate::store::Ack;

/// One alert in a notification.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels.
    pub labels: LabelSet,
    /// Annotations.
    pub annotations: LabelSet,
    /// Start (RFC 3339).
    pub starts_at: String,
    /// End (RFC 3339; `0001-01-01T00:00:00Z` while firing, as Alertmanager sends).
    pub ends_at: String,
    /// Producing expression link.
    pub generator_url: String,
    /// Fingerprint.
    pub fingerprint: String,
}

/// A notification of one group to one receiver, and the fields templates use.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// `firing` when anything fires, else `resolved`.
    pub status: String,
    /// Receiver name.
    pub receiver: String,
    /// Group key.
    pub group_key: String,
    /// Grouping labels.
    pub group_labels: LabelSet,
    /// Labels every alert shares.
    pub common_labels: LabelSet,
    /// Annotations every alert shares.
    pub common_annotations: LabelSet,
    /// The alerts (firing first).
    pub alerts: Vec<AlertView>,
    /// Firing alerts.
    pub firing_count: usize,
    /// Resolved alerts.
    pub resolved_count: usize,
    /// Short title: the alert name(s) and grouping labels.
    pub title: String,
    /// Summary annotation (or the alert name).
    pub summary: String,
    /// Description annotation.
    pub description: String,
    /// Severity label (`critical`, `warning`, ...), `warning` when absent.
    pub severity: String,
    /// `service` label.
    pub service: String,
    /// `slo` label.
    pub slo: String,
    /// Error budget remaining (label or annotation `budget_remaining`).
    pub budget_remaining: String,
    /// Value (annotation `value`).
    pub value: String,
    /// Earliest start (RFC 3339).
    pub since: String,
    /// Earliest start (Unix seconds, for Slack's `<!date^...>` formatting).
    pub since_unix: i64,
    /// Latest end of resolved alerts (RFC 3339), when resolved.
    pub resolved_at: String,
    /// Runbook link.
    pub runbook_url: String,
    /// Dashboard link.
    pub dashboard_url: String,
    /// Who acknowledged, if anyone.
    pub acknowledged_by: String,
    /// `Acknowledged` or `Resolved in PagerDuty`.
    pub ack_state: String,
    /// Where it was acknowledged.
    pub ack_source: String,
}

fn common(maps: &[&LabelSet]) -> LabelSet {
    let Some(first) = maps.first() else {
        return LabelSet::new();
    };
    first
        .iter()
        .filter(|(k, v)| maps.iter().all(|m| m.get(*k) == Some(*v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn view(a: &StoredAlert, resolved: bool) -> AlertView {
    AlertView {
        status: if resolved { "resolved" } else { "firing" }.into(),
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        starts_at: millis_to_rfc3339(a.starts_at),
        ends_at: if resolved {
            millis_to_rfc3339(a.ends_at)
        } else {
            "0001-01-01T00:00:00Z".into()
        },
        generator_url: a.generator_url.clone(),
        fingerprint: a.fingerprint.clone(),
    }
}

impl Notification {
    /// Builds the notification of a group from its firing and resolved alerts.
    pub fn build(
        receiver: &str,
        group_key: &str,
        group_labels: &LabelSet,
        firing: &[StoredAlert],
        resolved: &[StoredAlert],
        ack: Option<&Ack>,
    ) -> Notification {
        let all: Vec<&StoredAlert> = firing.iter().chain(resolved).collect();
        let common_labels = common(&all.iter().map(|a| &a.labels).collect::<Vec<_>>());
        let common_annotations = common(&all.iter().map(|a| &a.annotations).collect::<Vec<_>>());
        let pick = |key: &str| -> String {
            let from_alerts = |f: &dyn Fn(&StoredAlert) -> Option<String>| {
                firing.iter().chain(resolved).find_map(f)
            };
            common_annotations
                .get(key)
                .or_else(|| common_labels.get(key))
                .cloned()
                .or_else(|| from_alerts(&|a| a.annotations.get(key).cloned()))
                .or_else(|| from_alerts(&|a| a.labels.get(key).cloned()))
                .unwrap_or_default()
        };
        let mut names: Vec<&str> = all
            .iter()
            .filter_map(|a| a.labels.get("alertname").map(String::as_str))
            .collect();
        names.dedup();
        let extra: Vec<String> = group_labels
            .iter()
            .filter(|(k, _)| k.as_str() != "alertname")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut title = if names.is_empty() {
            "alerts".to_owned()
        } else {
            names.join(", ")
        };
        if !extra.is_empty() {
            title = format!("{title} ({})", extra.join(", "));
        }
        let summary = match pick("summary") {
            s if s.is_empty() => title.clone(),
            s => s,
        };
        let severity = match pick("severity") {
            s if s.is_empty() => "warning".to_owned(),
            s => s,
        };
        let dashboard_url = match pick("dashboard_url") {
            s if s.is_empty() => pick("dashboard"),
            s => s,
        };
        let since = all
            .iter()
            .map(|a| a.starts_at)
            .min()
            .map(millis_to_rfc3339)
            .unwrap_or_default();
        let resolved_at = if firing.is_empty() {
            resolved
                .iter()
                .map(|a| a.ends_at)
                .max()
                .map(millis_to_rfc3339)
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut alerts: Vec<AlertView> = firing.iter().map(|a| view(a, false)).collect();
        alerts.extend(resolved.iter().map(|a| view(a, true)));
        Notification {
            status: if firing.is_empty() {
                "resolved"
            } else {
                "firing"
            }
            .into(),
            receiver: receiver.to_owned(),
            group_key: group_key.to_owned(),
            group_labels: group_labels.clone(),
            common_labels: common_labels.clone(),
            common_annotations: common_annotations.clone(),
            alerts,
            firing_count: firing.len(),
            resolved_count: resolved.len(),
            title,
            summary,
            description: pick("description"),
            severity,
            service: pick("service"),
            slo: pick("slo"),
            budget_remaining: pick("budget_remaining"),
            value: pick("value"),
            since,
            since_unix: all.iter().map(|a| a.starts_at).min().unwrap_or_default() / 1000,
            resolved_at,
            runbook_url: pick("runbook_url"),
            dashboard_url,
            acknowledged_by: ack.map(|a| a.by.clone()).unwrap_or_default(),
            ack_state: ack
                .map(|a| {
                    if a.state == "resolved" {
                        "Resolved in PagerDuty".to_owned()
                    } else {
                        "Acknowledged".to_owned()
                    }
                })
                .unwrap_or_default(),
            ack_source: ack.map(|a| a.source.clone()).unwrap_or_default(),
        }
    }

    /// Whether everything resolved.
    pub fn is_resolved(&self) -> bool {
        self.firing_count == 0
    }
}

/// Retries: how many attempts and the first backoff (doubling, capped at 30 s).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// First backoff.
    pub base: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(500),
        }
    }
}

impl RetryPolicy {
    /// The backoff before attempt `n` (1-based retry count).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base
            .saturating_mul(factor)
            .min(Duration::from_secs(30))
    }
}

/// Parses a `Retry-After` header value (seconds), capped at 60 s.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(60)))
}
