//! Local stand-ins for the SaaS the dispatcher talks to, answering as their APIs document and
//! recording every request so tests can assert on exact payloads:
//!
//! - [`StandIn::slack`]: Slack's Web API under `/api` (`chat.postMessage` answers
//!   `{"ok":true,"channel","ts","message"}`, `chat.update` likewise; `not_authed` without a
//!   bearer token)
//! - [`StandIn::pagerduty`]: PagerDuty's Events API v2 at `/v2/enqueue` (202
//!   `{"status":"success","message","dedup_key"}`, 400 for an invalid event)
//! - [`StandIn::webhook`]: any path, 200
//!
//! Each answers 429 (Slack with `Retry-After`) for the next `n` requests after
//! [`StandIn::rate_limit_next`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Which API a stand-in plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Slack's Web API.
    Slack,
    /// PagerDuty's Events API v2.
    PagerDuty,
    /// A generic webhook.
    Webhook,
}

/// One request a stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Path (`/api/chat.postMessage`, `/v2/enqueue`).
    pub path: String,
    /// Headers (lower-case names).
    pub headers: BTreeMap<String, String>,
    /// Body as JSON (form bodies become an object; other text a string).
    pub body: Value,
    /// The status answered.
    pub status: u16,
}

#[derive(Debug)]
struct Inner {
    kind: Kind,
    requests: parking_lot_free::Log,
    throttle: AtomicU32,
    counter: AtomicU64,
}

/// A tiny mutex-guarded log (std only).
mod parking_lot_free {
    use std::sync::Mutex;

    use super::Recorded;

    /// The recorded requests.
    #[derive(Debug, Default)]
    pub struct Log(Mutex<Vec<Recorded>>);

    impl Log {
        pub fn push(&self, r: Recorded) {
            match self.0.lock() {
                Ok(mut v) => v.push(r),
                Err(poisoned) => poisoned.into_inner().push(r),
            }
        }

        pub fn all(&self) -> Vec<Recorded> {
            match self.0.lock() {
                Ok(v) => v.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            }
        }
    }
}

/// A running stand-in on `127.0.0.1`, stopped when dropped.
#[derive(Debug)]
pub struct StandIn {
    /// Base URL (`http://127.0.0.1:PORT`); Slack's API base is `{url}/api`.
    pub url: String,
    inner: Arc<Inner>,
    shutdown: CancellationToken,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl StandIn {
    /// Slack's Web API.
    pub async fn slack() -> std::io::Result<StandIn> {
        Self::start(Kind::Slack).await
    }

    /// PagerDuty's Events API v2.
    pub async fn pagerduty() -> std::io::Result<StandIn> {
        Self::start(Kind::PagerDuty).await
    }

    /// A generic webhook receiver.
    pub async fn webhook() -> std::io::Result<StandIn> {
        Self::start(Kind::Webhook).await
    }

    async fn start(kind: Kind) -> std::io::Result<StandIn> {
        let inner = Arc::new(Inner {
            kind,
            requests: parking_lot_free::Log::default(),
            throttle: AtomicU32::new(0),
            counter: AtomicU64::new(0),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        Ok(StandIn {
            url: format!("http://{addr}"),
            inner,
            shutdown,
        })
    }

    /// Slack's API base URL (`{url}/api`), PagerDuty's events URL (`{url}/v2/enqueue`), or
    /// the webhook URL (`{url}/hook`).
    pub fn endpoint(&self) -> String {
        match self.inner.kind {
            Kind::Slack => format!("{}/api", self.url),
            Kind::PagerDuty => format!("{}/v2/enqueue", self.url),
            Kind::Webhook => format!("{}/hook", self.url),
        }
    }

    /// Answers 429 to the next `n` requests.
    pub fn rate_limit_next(&self, n: u32) {
        self.inner.throttle.store(n, Ordering::SeqCst);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.all()
    }

    /// Requests answered with success, whose path ends with `suffix`.
    pub fn accepted(&self, suffix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.status < 300 && r.path.ends_with(suffix))
            .collect()
    }

    /// Waits (polling, up to `timeout`) until `pred` holds for the requests; answers them.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&[Recorded]) -> bool,
    ) -> Result<Vec<Recorded>, Vec<Recorded>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let all = self.requests();
            if pred(&all) {
                return Ok(all);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(all);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Value {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return v;
    }
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        let map: serde_json::Map<String, Value> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Value::Object(map);
    }
    Value::String(String::from_utf8_lossy(body).into_owned())
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let parsed = parse_body(&headers, &body);
    let throttled = inner
        .throttle
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let (status, extra_headers, answer): (StatusCode, Vec<(&str, String)>, Value) = if throttled {
        match inner.kind {
            Kind::Slack => (
                StatusCode::TOO_MANY_REQUESTS,
                vec![("retry-after", "1".into())],
                json!({"ok": false, "error": "ratelimited"}),
            ),
            Kind::PagerDuty => (
                StatusCode::TOO_MANY_REQUESTS,
                vec![],
                json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly.  Please retry later."}),
            ),
            Kind::Webhook => (StatusCode::TOO_MANY_REQUESTS, vec![], json!({})),
        }
    } else {
        let n = inner.counter.fetch_add(1, Ordering::SeqCst) + 1;
        match inner.kind {
            Kind::Slack => slack_answer(&path, &headers, &parsed, n),
            Kind::PagerDuty => pagerduty_answer(&path, &parsed, n),
            Kind::Webhook => (StatusCode::OK, vec![], json!({"status": "ok"})),
        }
    };
    inner.requests.push(Recorded {
        path,
        headers: headers
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_owned(), v.to_owned()))
            })
            .collect(),
        body: parsed,
        status: status.as_u16(),
    });
    let mut response = (status, axum::Json(answer)).into_response();
    for (k, v) in extra_headers {
        if let Ok(v) = v.parse() {
            response.headers_mut().insert(k, v);
        }
    }
    response
}

/// Slack's channel id for a channel name (stable, like `C` + 10 characters).
pub fn slack_channel_id(channel: &str) -> String {
    if channel.starts_with('C') && !channel.starts_with('#') {
        return channel.to_owned();
    }
    let h = crate::model::fingerprint(
        &[("channel".to_owned(), channel.to_owned())]
            .into_iter()
            .collect(),
    );
    format!("C{}", h[..10].to_uppercase())
}

fn slack_answer(
    path: &str,
    headers: &HeaderMap,
    body: &Value,
    n: u64,
) -> (StatusCode, Vec<(&'static str, String)>, Value) {
    let authed = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7);
    if !authed {
        return (
            StatusCode::OK,
            vec![],
            json!({"ok": false, "error": "not_authed"}),
        );
    }
    let channel = body
        .get("channel")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let text = body.get("text").cloned().unwrap_or(Value::Null);
    match path.rsplit('/').next().unwrap_or_default() {
        "chat.postMessage" => {
            if channel.is_empty() {
                return (
                    StatusCode::OK,
                    vec![],
                    json!({"ok": false, "error": "channel_not_found"}),
                );
            }
            let ts = format!("1700000000.{n:06}");
            let mut message =
                json!({"type": "message", "text": text, "ts": ts, "bot_id": "B0BALLAST"});
            if let Some(thread) = body.get("thread_ts") {
                message["thread_ts"] = thread.clone();
            }
            (
                StatusCode::OK,
                vec![],
                json!({"ok": true, "channel": slack_channel_id(channel), "ts": ts, "message": message}),
            )
        }
        "chat.update" => {
            let ts = body.get("ts").cloned().unwrap_or(Value::Null);
            if ts.is_null() {
                return (
                    StatusCode::OK,
                    vec![],
                    json!({"ok": false, "error": "message_not_found"}),
                );
            }
            (
                StatusCode::OK,
                vec![],
                json!({"ok": true, "channel": channel, "ts": ts, "text": text, "message": {"type": "message", "text": text, "ts": ts}}),
            )
        }
        _ => (
            StatusCode::OK,
            vec![],
            json!({"ok": false, "error": "unknown_method"}),
        ),
    }
}

fn pagerduty_answer(
    path: &str,
    body: &Value,
    n: u64,
) -> (StatusCode, Vec<(&'static str, String)>, Value) {
    if path != "/v2/enqueue" {
        return (
            StatusCode::NOT_FOUND,
            vec![],
            json!({"status": "not found"}),
        );
    }
    let action = body
        .get("event_action")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = body
        .get("routing_key")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut errors = Vec::new();
    if key.is_empty() {
        errors.push("'routing_key' is missing or blank");
    }
    match action {
        "trigger" => {
            let payload = body.get("payload");
            for field in ["summary", "source", "severity"] {
                if payload
                    .and_then(|p| p.get(field))
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    errors.push(match field {
                        "summary" => "'payload.summary' is missing or blank",
                        "source" => "'payload.source' is missing or blank",
                        _ => "'payload.severity' is missing or blank",
                    });
                }
            }
        }
        "acknowledge" | "resolve" => {
            if body
                .get("dedup_key")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                errors.push("'dedup_key' is missing or blank");
            }
        }
        _ => errors.push("'event_action' is invalid"),
    }
    if !errors.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            vec![],
            json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
        );
    }
    let dedup = body
        .get("dedup_key")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("pd-{n:08}"));
    (
        StatusCode::ACCEPTED,
        vec![],
        json!({"status": "success", "message": "Event processed", "dedup_key": dedup}),
    )
}
