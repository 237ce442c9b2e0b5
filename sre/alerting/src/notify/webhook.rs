//! The generic webhook: Alertmanager's webhook payload (version 4), retried on 429 and 5xx.

use serde_json::{Value, json};

use super::{Notification, RetryPolicy, retry_after};
use crate::error::AlertingError;

/// Alertmanager's webhook body for a notification.
pub fn payload(n: &Notification, external_url: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": 0,
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": n.group_labels,
        "commonLabels": n.common_labels,
        "commonAnnotations": n.common_annotations,
        "externalURL": external_url,
        "alerts": n.alerts.iter().map(|a| json!({
            "status": a.status,
            "labels": a.labels,
            "annotations": a.annotations,
            "startsAt": a.starts_at,
            "endsAt": a.ends_at,
            "generatorURL": a.generator_url,
            "fingerprint": a.fingerprint,
        })).collect::<Vec<_>>(),
    })
}

/// POSTs `body` to `url`, retrying 429 / 5xx / connection errors with backoff.
pub async fn send(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
    retry: RetryPolicy,
) -> Result<(), AlertingError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let wait = match http.post(url).json(body).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r)
                if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || r.status().is_server_error() =>
            {
                retry_after(r.headers()).unwrap_or_else(|| retry.backoff(attempt))
            }
            Ok(r) => {
                return Err(AlertingError::Notify {
                    integration: "webhook",
                    reason: format!("{url} answered {}", r.status()),
                });
            }
            Err(_) => retry.backoff(attempt),
        };
        if attempt >= retry.attempts {
            return Err(AlertingError::Notify {
                integration: "webhook",
                reason: format!("{url}: gave up after {attempt} attempts"),
            });
        }
        tokio::time::sleep(wait).await;
    }
}
