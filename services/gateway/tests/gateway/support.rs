//! Stand-in upstreams that record and echo what they receive, and a gateway on port 0.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ballast_gateway::{Endpoint, Endpoints, GatewayConfig};
use ballast_kit::auth::{Keys, Role};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

/// How a stand-in answers `/v1/...` requests.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Echo at once.
    Echo,
    /// Wait for [`StandIn::release`] before echoing.
    Gate,
    /// Never answer.
    Hang,
}

struct Shared {
    name: String,
    mode: Mode,
    gate: Semaphore,
    received: AtomicUsize,
    openapi: Option<serde_json::Value>,
}

/// A stand-in upstream instance on 127.0.0.1:0; stops when dropped.
pub struct StandIn {
    pub url: String,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    if parts.uri.path() == "/openapi.json" {
        return match &shared.openapi {
            Some(doc) => axum::Json(doc.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    shared.received.fetch_add(1, Ordering::SeqCst);
    match shared.mode {
        Mode::Echo => {}
        Mode::Gate => {
            if let Ok(permit) = shared.gate.acquire().await {
                permit.forget();
            }
        }
        Mode::Hang => futures::future::pending::<()>().await,
    }
    let status = parts
        .headers
        .get("x-echo-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u16>().ok())
        .and_then(|v| StatusCode::from_u16(v).ok())
        .unwrap_or(StatusCode::OK);
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let echo = serde_json::json!({
        "instance": shared.name,
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    (
        status,
        [("x-upstream-instance", shared.name.clone())],
        axum::Json(echo),
    )
        .into_response()
}

impl StandIn {
    pub async fn start(name: &str, mode: Mode) -> Self {
        Self::start_with(name, mode, None).await
    }

    pub async fn with_openapi(name: &str, openapi: serde_json::Value) -> Self {
        Self::start_with(name, Mode::Echo, Some(openapi)).await
    }

    async fn start_with(name: &str, mode: Mode, openapi: Option<serde_json::Value>) -> Self {
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            mode,
            gate: Semaphore::new(0),
            received: AtomicUsize::new(0),
            openapi,
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(ballast_kit::server::serve(
            listener,
            router,
            shutdown.clone(),
            shutdown.clone(),
            Duration::from_millis(100),
        ));
        Self {
            url: format!("http://{addr}"),
            shared,
            shutdown,
        }
    }

    /// This instance as an endpoint entry.
    pub fn endpoint(&self, ready: bool) -> Endpoint {
        Endpoint {
            instance: self.shared.name.clone(),
            url: self.url.clone(),
            ready,
        }
    }

    pub fn count(&self) -> usize {
        self.shared.received.load(Ordering::SeqCst)
    }

    /// Lets `n` gated requests answer.
    pub fn release(&self, n: usize) {
        self.shared.gate.add_permits(n);
    }

    /// Waits (up to 10 s) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) {
        eventually(|| self.count() >= n).await;
    }
}

/// Polls `condition` until it holds, failing the test after 10 s.
pub async fn eventually(mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 10s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An address nothing listens on (a listener bound and closed).
pub async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// An endpoints table from `(service, endpoints)` pairs.
pub fn table(entries: Vec<(&str, Vec<Endpoint>)>) -> Endpoints {
    entries
        .into_iter()
        .map(|(service, endpoints)| (service.to_owned(), endpoints))
        .collect()
}

/// A running gateway on 127.0.0.1:0; stops when dropped.
pub struct TestGateway {
    pub url: String,
    pub keys: Arc<Keys>,
    pub endpoints: watch::Sender<Endpoints>,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    _dir: Arc<tempfile::TempDir>,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A configuration without rate limits (tests that want limits set them).
pub fn unlimited() -> GatewayConfig {
    let mut config = GatewayConfig::default();
    let off = ballast_gateway::Limit {
        rate_per_second: 0.0,
        burst: 1,
    };
    config.rate_limit.per_user = off;
    config.rate_limit.per_api_key = off;
    config.rate_limit.anonymous = off;
    config
}

impl TestGateway {
    pub async fn start(config: GatewayConfig, endpoints: Endpoints) -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let keys = ballast_kit::testing::keys(dir.path());
        Self::start_with_keys(config, endpoints, keys, dir).await
    }

    /// A second gateway sharing this one's keys (replicas).
    pub async fn replica(&self, config: GatewayConfig) -> Self {
        let endpoints = self.endpoints.borrow().clone();
        Self::start_with_keys(config, endpoints, self.keys.clone(), self._dir.clone()).await
    }

    async fn start_with_keys(
        config: GatewayConfig,
        endpoints: Endpoints,
        keys: Arc<Keys>,
        dir: Arc<tempfile::TempDir>,
    ) -> Self {
        ballast_kit::client::install_crypto_provider();
        let (tx, rx) = watch::channel(endpoints);
        let router = ballast_gateway::router(config, keys.clone(), rx)
            .await
            .unwrap_or_else(|e| panic!("building the gateway: {e:#}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(ballast_kit::server::serve(
            listener,
            router,
            shutdown.clone(),
            CancellationToken::new(),
            Duration::from_millis(100),
        ));
        Self {
            url: format!("http://{addr}"),
            keys,
            endpoints: tx,
            client: reqwest::Client::new(),
            shutdown,
            _dir: dir,
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub fn token(&self, user: &str, roles: &[Role]) -> String {
        self.keys
            .issue(user, &format!("{user}@example.com"), roles)
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.at(path)).send().await.unwrap()
    }

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.at(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The gateway's `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }
}

/// Asserts a problem+json response with `status`, returning its body.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "problem+json expected"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}

/// The echo body of a proxied response.
pub async fn echo(response: reqwest::Response) -> serde_json::Value {
    assert_eq!(
        response.status().as_u16(),
        200,
        "expected the upstream's 200"
    );
    response.json().await.unwrap()
}
