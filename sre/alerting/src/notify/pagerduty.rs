//! PagerDuty Events API v2: `trigger`, `acknowledge` and `resolve` with a stable dedup key per
//! alert group, retried with backoff on 429 and 5xx.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::settings::PagerDutySettings;
use super::{Notification, RetryPolicy, retry_after};
use crate::error::AlertingError;
use crate::templates::Templates;

/// The stable dedup key of a group's incident for one receiver.
pub fn dedup_key(group_key: &str, receiver: &str) -> String {
    let mut h = Sha256::new();
    h.update(receiver.as_bytes());
    h.update([0]);
    h.update(group_key.as_bytes());
    format!("ballast-{}", hex::encode(&h.finalize()[..12]))
}

/// Maps an alert severity to one of PagerDuty's (`critical`, `error`, `warning`, `info`).
pub fn severity(label: &str) -> &'static str {
    match label {
        "critical" | "page" | "emergency" => "critical",
        "error" | "high" => "error",
        "info" | "none" => "info",
        _ => "warning",
    }
}

/// An Events API v2 client.
#[derive(Debug, Clone)]
pub struct PagerDutyNotifier {
    http: reqwest::Client,
    settings: PagerDutySettings,
    retry: RetryPolicy,
}

fn pd_err(reason: impl std::fmt::Display) -> AlertingError {
    AlertingError::Notify {
        integration: "pagerduty",
        reason: reason.to_string(),
    }
}

impl PagerDutyNotifier {
    /// A client for the configured events URL.
    pub fn new(settings: &PagerDutySettings, retry: RetryPolicy) -> Result<Self, AlertingError> {
        ballast_kit::client::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(pd_err)?;
        Ok(PagerDutyNotifier {
            http,
            settings: settings.clone(),
            retry,
        })
    }

    /// The routing key: the receiver's, else the configured default.
    pub fn routing_key(&self, own: Option<&ballast_kit::config::Secret>) -> Option<String> {
        own.or(self.settings.routing_key.as_ref())
            .map(|s| s.expose().to_owned())
    }

    /// The `trigger` event of a group.
    pub fn trigger_event(
        n: &Notification,
        routing_key: &str,
        dedup: &str,
        default_severity: Option<&str>,
        templates: &Templates,
    ) -> Result<Value, AlertingError> {
        let summary: String = templates
            .render("pagerduty_summary", n)?
            .chars()
            .take(1024)
            .collect();
        let sev = if n.common_labels.contains_key("severity") || default_severity.is_none() {
            severity(&n.severity)
        } else {
            severity(default_severity.unwrap_or("warning"))
        };
        let mut links = Vec::new();
        if !n.runbook_url.is_empty() {
            links.push(json!({"href": n.runbook_url, "text": "Runbook"}));
        }
        if !n.dashboard_url.is_empty() {
            links.push(json!({"href": n.dashboard_url, "text": "Dashboard"}));
        }
        let source = if n.service.is_empty() {
            "ballast".to_owned()
        } else {
            n.service.clone()
        };
        let component = if n.slo.is_empty() {
            n.title.clone()
        } else {
            n.slo.clone()
        };
        Ok(json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": dedup,
            "payload": {
                "summary": summary,
                "source": source,
                "severity": sev,
                "component": component,
                "group": n.common_labels.get("service").cloned().unwrap_or_default(),
                "class": n.common_labels.get("alertname").cloned().unwrap_or_default(),
                "timestamp": n.since,
                "custom_details": {
                    "firing": n.firing_count,
                    "resolved": n.resolved_count,
                    "group_key": n.group_key,
                    "group_labels": n.group_labels,
                    "common_labels": n.common_labels,
                    "common_annotations": n.common_annotations,
                    "slo": n.slo,
                    "budget_remaining": n.budget_remaining,
                    "value": n.value,
                    "alerts": n.alerts.iter().map(|a| json!({"status": a.status, "labels": a.labels, "annotations": a.annotations, "starts_at": a.starts_at})).collect::<Vec<_>>(),
                },
            },
            "links": links,
            "client": "Ballast",
        }))
    }

    /// An `acknowledge` or `resolve` event.
    pub fn action_event(action: &str, routing_key: &str, dedup: &str) -> Value {
        json!({"routing_key": routing_key, "event_action": action, "dedup_key": dedup})
    }

    /// Sends an event; answers the dedup key PagerDuty returned.
    pub async fn send(&self, event: &Value) -> Result<String, AlertingError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self
                .http
                .post(&self.settings.events_url)
                .json(event)
                .send()
                .await;
            let wait = match outcome {
                Ok(resp) if resp.status().is_success() => {
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    let key = body
                        .get("dedup_key")
                        .and_then(Value::as_str)
                        .or_else(|| event.get("dedup_key").and_then(Value::as_str))
                        .unwrap_or_default();
                    return Ok(key.to_owned());
                }
                Ok(resp)
                    if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS
                        || resp.status().is_server_error() =>
                {
                    retry_after(resp.headers()).unwrap_or_else(|| self.retry.backoff(attempt))
                }
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    return Err(pd_err(format!("events API answered {status}: {body}")));
                }
                Err(e) => {
                    if attempt >= self.retry.attempts {
                        return Err(pd_err(e));
                    }
                    self.retry.backoff(attempt)
                }
            };
            if attempt >= self.retry.attempts {
                return Err(pd_err(format!("gave up after {attempt} attempts")));
            }
            tracing::warn!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                "pagerduty: retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}
