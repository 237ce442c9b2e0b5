//! Prometheus' `GET /api/v1/alerts` over the rule engine: every pending and firing alert, in
//! Prometheus' JSON shape (`labels`, `annotations`, `state`, `activeAt`, `value` as Go's `%e`),
//! so `ballast alerts list` and any Prometheus client see what is about to page, not only what
//! has paged.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use crate::alert::{ActiveAlert, AlertState};

/// One alert as Prometheus' `/api/v1/alerts` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiAlert {
    /// Identifying labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Annotations of the latest evaluation.
    pub annotations: std::collections::BTreeMap<String, String>,
    /// `pending` or `firing`.
    pub state: String,
    /// When the condition started holding (RFC 3339).
    pub active_at: String,
    /// The latest value, as Go's `strconv.FormatFloat(v, 'e', -1, 64)`.
    pub value: String,
    /// When it started firing (Ballast's addition; absent while pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_at: Option<String>,
}

impl ApiAlert {
    /// The listing of one alert; `None` for resolved ones (Prometheus lists active alerts).
    pub fn from_active(alert: &ActiveAlert) -> Option<Self> {
        if alert.state == AlertState::Resolved {
            return None;
        }
        Some(Self {
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            state: alert.state.as_str().to_string(),
            active_at: rfc3339(alert.active_at),
            value: go_exponent(alert.value),
            fired_at: alert.fired_at.map(rfc3339),
        })
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `v` as Go's `%e` with the shortest precision: `1e+00`, `2.5e-01`, `NaN`, `+Inf`.
pub fn go_exponent(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let text = format!("{v:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

/// The router serving `GET /api/v1/alerts` from the engine's alerts
/// ([`crate::RuleEngine::alerts`]).
pub fn router(alerts: watch::Receiver<Vec<ActiveAlert>>) -> Router {
    Router::new()
        .route("/api/v1/alerts", get(list))
        .with_state(alerts)
}

async fn list(
    State(alerts): State<watch::Receiver<Vec<ActiveAlert>>>,
) -> axum::Json<serde_json::Value> {
    let listed: Vec<ApiAlert> = alerts
        .borrow()
        .iter()
        .filter_map(ApiAlert::from_active)
        .collect();
    axum::Json(json!({ "status": "success", "data": { "alerts": listed } }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn values_print_as_go_does() {
        assert_eq!(go_exponent(1.0), "1e+00");
        assert_eq!(go_exponent(0.25), "2.5e-01");
        assert_eq!(go_exponent(12345.0), "1.2345e+04");
        assert_eq!(go_exponent(-3e-120), "-3e-120");
        assert_eq!(go_exponent(f64::NAN), "NaN");
        assert_eq!(go_exponent(f64::NEG_INFINITY), "-Inf");
    }

    #[tokio::test]
    async fn pending_and_firing_are_listed_and_resolved_are_not() {
        let alert = |name: &str, state: AlertState| ActiveAlert {
            labels: BTreeMap::from([("alertname".to_string(), name.to_string())]),
            annotations: BTreeMap::new(),
            state,
            active_at: 1_700_000_000_000,
            fired_at: (state == AlertState::Firing).then_some(1_700_000_120_000),
            resolved_at: None,
            value: 0.5,
            keep_firing_since: None,
        };
        let (_tx, rx) = watch::channel(vec![
            alert("Pending", AlertState::Pending),
            alert("Firing", AlertState::Firing),
            alert("Resolved", AlertState::Resolved),
        ]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(rx)).await });
        let client = ballast_kit::client::http_client(std::time::Duration::from_secs(5)).unwrap();
        let body: serde_json::Value = client
            .get(format!("http://{addr}/api/v1/alerts"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["status"], "success");
        let alerts = body["data"]["alerts"].as_array().unwrap();
        assert_eq!(alerts.len(), 2, "{body}");
        assert_eq!(alerts[0]["state"], "pending");
        assert_eq!(alerts[0]["activeAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(alerts[0]["value"], "5e-01");
        assert!(alerts[0].get("firedAt").is_none());
        assert_eq!(alerts[1]["labels"]["alertname"], "Firing");
        assert_eq!(alerts[1]["firedAt"], "2023-11-14T22:15:20.000Z");
    }
}
