//! The Ballast gateway: the one public door of the shop.
//!
//! `/api/v1/<rest>` is proxied to `/v1/<rest>` on a ready instance of the owning service, per
//! the route table. [`router`] builds the whole gateway; the caller serves it with
//! `ballast_kit::server::serve` and feeds it the instance table through a `watch` channel.
//!
//! Layout:
//!
//! - [`config`] - [`GatewayConfig`] (body and concurrency bounds, timeout, limits, API keys)
//! - [`routes`] - the route table as data ([`routes::ROUTES`]: method, path, upstream, access)
//! - [`auth`] - bearer tokens and API keys to a principal; access rules (401 / 403)
//! - [`ratelimit`] - GCRA as a pure function; in-memory and Redis limiters (429)
//! - [`body`] - the JSON media-type rule (415) and the body size limit (413)
//! - [`balancer`] - [`Endpoints`], round robin over ready instances
//! - [`proxy`] - header hygiene, retries on connection errors, timeouts (503 / 504), streaming
//! - [`gateway`] - the request pipeline and load shedding (503)
//! - [`openapi`] - the merged public OpenAPI document
//! - [`metrics`] - `gateway_upstream_requests_total`, `gateway_rate_limited_total`,
//!   `gateway_shed_total`

pub mod auth;
pub mod balancer;
pub mod body;
pub mod config;
pub mod gateway;
pub mod metrics;
pub mod openapi;
pub mod proxy;
pub mod ratelimit;
pub mod routes;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use ballast_kit::auth::Keys;
use ballast_kit::metrics::Metrics;
use tokio::sync::{Semaphore, watch};

pub use balancer::{Endpoint, Endpoints};
pub use config::{ApiKeyConfig, GatewayConfig, Limit, RateLimitConfig};

use crate::auth::Authenticator;
use crate::balancer::Balancer;
use crate::gateway::{Cells, Gateway};
use crate::metrics::GatewayMetrics;
use crate::openapi::OpenApiMerger;
use crate::proxy::Forwarder;
use crate::ratelimit::redis::RedisLimiter;
use crate::ratelimit::{Cell, MemoryLimiter, RateLimiter};
use crate::routes::{ROUTES, Rule};

/// The service name in metrics and logs.
pub const SERVICE: &str = "gateway";

/// Builds the gateway: every route of the table, `/api/v1/.well-known/jwks.json`,
/// `/api/v1/openapi.json`, `/health/live`, `/health/ready` and `/metrics`.
///
/// Connects to Redis when `config.rate_limit.redis_url` is set (and fails if it cannot).
pub async fn router(
    config: GatewayConfig,
    keys: Arc<Keys>,
    endpoints: watch::Receiver<Endpoints>,
) -> anyhow::Result<Router> {
    for (index, api_key) in config.api_keys.iter().enumerate() {
        if api_key.key.expose().is_empty() {
            anyhow::bail!(
                "gateway.api_keys[{index}] ({}): the key is empty",
                api_key.name
            );
        }
    }
    let metrics = Metrics::new(SERVICE)?;
    let gateway_metrics = GatewayMetrics::register(&metrics)?;
    let limits = &config.rate_limit;
    let limiter: Arc<dyn RateLimiter> = match &limits.redis_url {
        Some(url) => {
            let backend = ballast_kit::cache::RedisBackend::connect(url.expose(), "").await?;
            Arc::new(RedisLimiter::new(backend.connection(), &limits.key_prefix))
        }
        None => Arc::new(MemoryLimiter::default()),
    };
    let cells = Cells {
        user: Cell::of(limits.per_user),
        api_key: Cell::of(limits.per_api_key),
        anonymous: Cell::of(limits.anonymous),
    };
    let client = ballast_kit::client::http_client(config.upstream_timeout)?;
    let forwarder = Forwarder::new(client, Balancer::new(endpoints), gateway_metrics.clone());
    let gateway = Arc::new(Gateway {
        authenticator: Authenticator::new(keys.clone(), config.api_keys.clone()),
        in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        keys,
        limiter,
        cells,
        forwarder,
        metrics: gateway_metrics,
        openapi: OpenApiMerger::default(),
        config,
    });

    let mut by_path: BTreeMap<&'static str, Vec<&'static Rule>> = BTreeMap::new();
    for rule in ROUTES {
        by_path.entry(rule.path).or_default().push(rule);
    }
    let mut api = Router::new();
    for (path, rules) in by_path {
        let mut allow: Vec<&str> = rules.iter().map(|rule| rule.method.as_str()).collect();
        if allow.contains(&"GET") {
            allow.push("HEAD");
        }
        let allow = allow.join(", ");
        let mut methods = MethodRouter::new();
        for rule in rules {
            let gateway = gateway.clone();
            methods = methods.on(rule.method.filter(), move |request: Request| {
                gateway.clone().handle(rule, request)
            });
        }
        api = api.route(
            path,
            methods.fallback(move || method_not_allowed(allow.clone())),
        );
    }
    let api = api
        .route(
            "/api/v1/.well-known/jwks.json",
            get(jwks).with_state(gateway.clone()),
        )
        .route(
            "/api/v1/openapi.json",
            get(openapi).with_state(gateway.clone()),
        )
        .layer(middleware::from_fn_with_state(
            gateway.clone(),
            gateway::shed,
        ));
    let standard = Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready).with_state(gateway))
        .route(
            "/metrics",
            get(ballast_kit::metrics::handler).with_state(metrics.clone()),
        );
    Ok(ballast_kit::service::with_standard_layers(
        api.merge(standard),
        &metrics,
        SERVICE,
    ))
}

async fn method_not_allowed(allow: String) -> Response {
    let mut response = ballast_kit::error::problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("this route allows {allow}"),
        None,
    );
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

async fn jwks(State(gateway): State<Arc<Gateway>>) -> Response {
    axum::Json(gateway.keys.jwks()).into_response()
}

async fn openapi(State(gateway): State<Arc<Gateway>>) -> Response {
    let document = gateway.openapi.document(&gateway.forwarder).await;
    axum::Json(document.as_ref().clone()).into_response()
}

async fn live() -> Response {
    axum::Json(serde_json::json!({ "status": "live" })).into_response()
}

/// The gateway itself is ready once built; it reports which upstreams have a ready instance.
async fn ready(State(gateway): State<Arc<Gateway>>) -> Response {
    let upstreams = gateway.forwarder.balancer().ready_services();
    axum::Json(serde_json::json!({ "status": "ready", "ready_upstreams": upstreams }))
        .into_response()
}
