//! The HTTP API: Alertmanager-compatible `/api/v2/alerts` (POST, GET), `/api/v2/alerts/groups`,
//! `/api/v2/silences` (GET, POST), `/api/v2/silence/{id}` (GET, DELETE; also under
//! `/api/v2/silences/{id}`), Ballast's group acknowledgement, and the two-way integrations:
//! `POST /slack/interactions` (Slack-signed) and `POST /pagerduty/webhook` (PagerDuty-signed).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ballast_kit::error::ApiError;
use ballast_kit::extract::{Json, Path};
use ballast_kit::store::millis_to_rfc3339;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::{Silence, SilenceState};
use crate::dispatcher::{Dispatcher, NewSilence};
use crate::error::AlertingError;
use crate::model::{Alert, MatchOp, Matcher};
use crate::notify::signature;
use crate::notify::slack::{ACTION_ACK, ACTION_SILENCE_1H};

impl From<AlertingError> for ApiError {
    fn from(e: AlertingError) -> Self {
        match e {
            AlertingError::Invalid { field, reason } => ApiError::invalid(field, reason),
            AlertingError::NotFound(what) => ApiError::NotFound(what),
            other => ApiError::Internal(anyhow::anyhow!(other)),
        }
    }
}

/// The router; serve it on the suite's address.
pub fn router(dispatcher: Arc<Dispatcher>) -> Router {
    Router::new()
        .route("/api/v2/alerts", post(post_alerts).get(get_alerts))
        .route("/api/v2/alerts/groups", get(get_groups))
        .route("/api/v2/alerts/groups/acknowledge", post(acknowledge))
        .route("/api/v2/silences", get(get_silences).post(post_silence))
        .route(
            "/api/v2/silence/{id}",
            get(get_silence).delete(delete_silence),
        )
        .route(
            "/api/v2/silences/{id}",
            get(get_silence).delete(delete_silence),
        )
        .route("/slack/interactions", post(slack_interactions))
        .route("/pagerduty/webhook", post(pagerduty_webhook))
        .with_state(dispatcher)
}

async fn post_alerts(
    State(d): State<Arc<Dispatcher>>,
    Json(alerts): Json<Vec<Alert>>,
) -> Result<StatusCode, ApiError> {
    d.ingest(alerts, d.now()).await?;
    Ok(StatusCode::OK)
}

/// Alertmanager's alert filters: `filter` (repeated matchers), `active`, `silenced`,
/// `inhibited` (each `true` unless given as `false`).
#[derive(Debug)]
struct AlertFilter {
    matchers: Vec<Matcher>,
    active: bool,
    silenced: bool,
    inhibited: bool,
}

impl AlertFilter {
    fn parse(query: Option<&str>) -> Result<AlertFilter, ApiError> {
        let mut f = AlertFilter {
            matchers: Vec::new(),
            active: true,
            silenced: true,
            inhibited: true,
        };
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let flag = || match v.as_ref() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(ApiError::invalid(
                    k.to_string(),
                    format!("`{other}` is not true or false"),
                )),
            };
            match k.as_ref() {
                "filter" => {
                    // amtool sends `{a="b",c=~"d"}` or one matcher per parameter.
                    let inner = v.trim().trim_start_matches('{').trim_end_matches('}');
                    for part in inner.split(',').filter(|p| !p.trim().is_empty()) {
                        f.matchers.push(
                            Matcher::parse(part).map_err(|r| ApiError::invalid("filter", r))?,
                        );
                    }
                }
                "active" => f.active = flag()?,
                "silenced" => f.silenced = flag()?,
                "inhibited" => f.inhibited = flag()?,
                _ => {}
            }
        }
        Ok(f)
    }

    fn keeps(&self, a: &crate::dispatcher::AlertStatus) -> bool {
        if !crate::model::all_match(&self.matchers, &a.labels) {
            return false;
        }
        match a.status.state.as_str() {
            "suppressed" => {
                (self.silenced || a.status.silenced_by.is_empty())
                    && (self.inhibited || a.status.inhibited_by.is_empty())
            }
            "active" => self.active,
            _ => true,
        }
    }
}

async fn get_alerts(
    State(d): State<Arc<Dispatcher>>,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    let f = AlertFilter::parse(uri.query())?;
    let alerts: Vec<_> = d
        .alerts(d.now())
        .await
        .into_iter()
        .filter(|a| f.keeps(a))
        .collect();
    Ok(axum::Json(alerts).into_response())
}

async fn get_groups(
    State(d): State<Arc<Dispatcher>>,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    let f = AlertFilter::parse(uri.query())?;
    let groups: Vec<_> = d
        .groups(d.now())
        .await
        .into_iter()
        .map(|mut g| {
            g.alerts.retain(|a| f.keeps(a));
            g
        })
        .filter(|g| !g.alerts.is_empty())
        .collect();
    Ok(axum::Json(groups).into_response())
}

/// `POST /api/v2/alerts/groups/acknowledge` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AckBody {
    group_key: String,
    by: String,
}

async fn acknowledge(
    State(d): State<Arc<Dispatcher>>,
    Json(body): Json<AckBody>,
) -> Result<StatusCode, ApiError> {
    d.acknowledge(&body.group_key, &body.by, "api", d.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Alertmanager's silence matcher.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApiMatcher {
    /// Label name.
    pub name: String,
    /// Value or pattern.
    pub value: String,
    /// Regex match.
    pub is_regex: bool,
    /// Equality (false: negated).
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl ApiMatcher {
    fn to_text(&self) -> Result<String, ApiError> {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        };
        Matcher::new(&self.name, op, &self.value)
            .map(|m| m.to_string())
            .map_err(|reason| ApiError::invalid("matchers", reason))
    }

    fn from_text(text: &str) -> Option<ApiMatcher> {
        let m = Matcher::parse(text).ok()?;
        Some(ApiMatcher {
            name: m.name,
            value: m.value,
            is_regex: matches!(m.op, MatchOp::Regex | MatchOp::NotRegex),
            is_equal: matches!(m.op, MatchOp::Equal | MatchOp::Regex),
        })
    }
}

/// Alertmanager's `postableSilence`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    /// Id to update.
    #[serde(default)]
    pub id: Option<String>,
    /// Matchers.
    pub matchers: Vec<ApiMatcher>,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Author.
    pub created_by: String,
    /// Comment.
    #[serde(default)]
    pub comment: String,
}

/// Alertmanager's `gettableSilence`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    /// Id.
    pub id: String,
    /// Matchers.
    pub matchers: Vec<ApiMatcher>,
    /// Start.
    pub starts_at: String,
    /// End.
    pub ends_at: String,
    /// Last change.
    pub updated_at: String,
    /// Author.
    pub created_by: String,
    /// Comment.
    pub comment: String,
    /// `{"state": "active" | "pending" | "expired"}`.
    pub status: Value,
}

fn gettable(s: &Silence, state: SilenceState) -> GettableSilence {
    GettableSilence {
        id: s.id.clone(),
        matchers: s
            .matchers
            .iter()
            .filter_map(|m| ApiMatcher::from_text(m))
            .collect(),
        starts_at: millis_to_rfc3339(s.starts_at),
        ends_at: millis_to_rfc3339(s.ends_at),
        updated_at: millis_to_rfc3339(s.updated_at),
        created_by: s.created_by.clone(),
        comment: s.comment.clone(),
        status: serde_json::json!({"state": state.as_str()}),
    }
}

async fn get_silences(State(d): State<Arc<Dispatcher>>) -> Response {
    let list: Vec<GettableSilence> = d
        .silences(d.now())
        .await
        .iter()
        .map(|(s, st)| gettable(s, *st))
        .collect();
    axum::Json(list).into_response()
}

async fn get_silence(
    State(d): State<Arc<Dispatcher>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let found = d
        .silences(d.now())
        .await
        .into_iter()
        .find(|(s, _)| s.id == id);
    let (s, st) = found.ok_or_else(|| ApiError::NotFound(format!("silence {id}")))?;
    Ok(axum::Json(gettable(&s, st)).into_response())
}

async fn post_silence(
    State(d): State<Arc<Dispatcher>>,
    Json(body): Json<PostableSilence>,
) -> Result<Response, ApiError> {
    let matchers = body
        .matchers
        .iter()
        .map(ApiMatcher::to_text)
        .collect::<Result<Vec<_>, _>>()?;
    let id = d
        .create_silence(
            NewSilence {
                id: body.id,
                matchers,
                starts_at: body.starts_at.timestamp_millis(),
                ends_at: body.ends_at.timestamp_millis(),
                created_by: body.created_by,
                comment: body.comment,
            },
            d.now(),
        )
        .await?;
    Ok(axum::Json(serde_json::json!({"silenceID": id})).into_response())
}

async fn delete_silence(
    State(d): State<Arc<Dispatcher>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    d.expire_silence(&id, d.now()).await?;
    Ok(StatusCode::OK)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[tracing::instrument(skip_all)]
async fn slack_interactions(
    State(d): State<Arc<Dispatcher>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let now = d.now();
    let verified = d
        .config()
        .notify
        .slack
        .signing_secret
        .as_ref()
        .is_some_and(|secret| {
            signature::slack_verify(
                secret.expose(),
                header(&headers, "x-slack-request-timestamp"),
                header(&headers, "x-slack-signature"),
                &body,
                now.timestamp(),
            )
        });
    if !verified {
        tracing::warn!("slack interaction rejected: missing, stale or bad signature");
        return Err(ApiError::Unauthorized(
            "invalid Slack request signature".into(),
        ));
    }
    let payload = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ApiError::BadRequest("no `payload` field".into()))?;
    let payload: Value = serde_json::from_str(&payload)
        .map_err(|e| ApiError::BadRequest(format!("payload: {e}")))?;
    let user = payload
        .pointer("/user/username")
        .or_else(|| payload.pointer("/user/name"))
        .or_else(|| payload.pointer("/user/id"))
        .and_then(Value::as_str)
        .unwrap_or("someone")
        .to_owned();
    let actions = payload
        .get("actions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for action in actions {
        let id = action
            .get("action_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(group_key) = action.get("value").and_then(Value::as_str) else {
            continue;
        };
        match id {
            ACTION_ACK => d.acknowledge(group_key, &user, "slack", now).await?,
            ACTION_SILENCE_1H => {
                d.silence_group(group_key, &user, Duration::from_secs(3600), now)
                    .await?;
            }
            other => tracing::info!(action = other, "ignoring unknown Slack action"),
        }
    }
    Ok(StatusCode::OK)
}

#[tracing::instrument(skip_all)]
async fn pagerduty_webhook(
    State(d): State<Arc<Dispatcher>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let verified = d
        .config()
        .notify
        .pagerduty
        .webhook_secret
        .as_ref()
        .is_some_and(|secret| {
            signature::pagerduty_verify(
                secret.expose(),
                header(&headers, "x-pagerduty-signature"),
                &body,
            )
        });
    if !verified {
        tracing::warn!("pagerduty webhook rejected: bad signature");
        return Err(ApiError::Unauthorized("invalid PagerDuty signature".into()));
    }
    let event: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?;
    let kind = event
        .pointer("/event/event_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let state = match kind {
        "incident.acknowledged" => "acknowledged",
        "incident.resolved" => "resolved",
        _ => return Ok(StatusCode::OK),
    };
    let by = event
        .pointer("/event/agent/summary")
        .and_then(Value::as_str)
        .unwrap_or("PagerDuty")
        .to_owned();
    let dedup = event
        .pointer("/event/data/incident_key")
        .or_else(|| event.pointer("/event/data/dedup_key"))
        .and_then(Value::as_str);
    if let Some(dedup) = dedup {
        let known = d.pagerduty_event(dedup, state, &by, d.now()).await?;
        if !known {
            tracing::info!(
                dedup_key = dedup,
                "pagerduty webhook for an unknown incident"
            );
        }
    }
    Ok(StatusCode::OK)
}
