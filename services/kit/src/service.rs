//! How a domain service becomes a running instance: the [`Service`] trait each service crate
//! implements, the [`ServiceContext`] its handlers get, and [`assemble`], which wraps the
//! service's API with the endpoints and middleware every instance has.
//!
//! Every instance serves `/health/live`, `/health/ready`, `/metrics` and `/openapi.json`
//! beside its `/v1/...` API; every request runs in a span carrying the service, route, request
//! id and trace id, is counted in the RED metrics, and passes the fault hooks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;

use futures::future::BoxFuture;

use crate::auth::Keys;
use crate::cache::{Cache, CacheBackend};
use crate::events::EventBus;
use crate::events::consumer::{Consumer, Handler};
use crate::faults::Faults;
use crate::metrics::Metrics;
use crate::store::{Migration, Store, StoreConfig};

/// The header carrying a request id, set by the gateway and echoed by every instance.
pub const REQUEST_ID: &str = "x-request-id";

/// A domain service: its name, its schema and its API.
pub trait Service: Send + Sync + 'static {
    /// The service name (`product`), used in metrics labels, database names and routing.
    fn name(&self) -> &'static str;
    /// The migrations of its database, applied in order.
    fn migrations(&self) -> &'static [Migration];
    /// The `/v1/...` API, documented for OpenAPI.
    fn api(&self, context: ServiceContext) -> OpenApiRouter;
    /// Long-running tasks of each instance (event consumers, sweepers), supervised: one that
    /// fails is logged and restarted. The outbox relay runs for every service without asking.
    fn background(&self) -> Vec<Background> {
        Vec::new()
    }
}

type BackgroundFn = dyn Fn(ServiceContext) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync;

/// A named long-running task of an instance.
#[derive(Clone)]
pub struct Background {
    /// For logs.
    pub name: &'static str,
    run: Arc<BackgroundFn>,
}

impl Background {
    /// A task built from the instance's context each time it (re)starts.
    pub fn new<F, Fut>(name: &'static str, run: F) -> Self
    where
        F: Fn(ServiceContext) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Self {
            name,
            run: Arc::new(move |context| Box::pin(run(context))),
        }
    }

    /// An idempotent event consumer (see [`crate::events::consumer`]).
    pub fn consumer(consumer: Consumer, handler: Arc<dyn Handler>) -> Self {
        Self::new("consumer", move |context: ServiceContext| {
            crate::events::consumer::run(
                consumer.clone(),
                context.store.clone(),
                context.bus.clone(),
                context.metrics.clone(),
                handler.clone(),
            )
        })
    }
}

/// What an instance's handlers share.
#[derive(Clone)]
pub struct ServiceContext {
    /// The service name.
    pub service: &'static str,
    /// This instance's id (`product-3`).
    pub instance: String,
    /// The service's database.
    pub store: Store,
    /// The read-through cache.
    pub cache: Cache,
    /// Token keys (verify; sign where configured).
    pub keys: Arc<Keys>,
    /// This instance's metrics.
    pub metrics: Metrics,
    /// This instance's fault hooks.
    pub faults: Faults,
    /// The event bus (events leave through the outbox, not directly).
    pub bus: Arc<dyn EventBus>,
}

/// What every instance of every service is built from.
#[derive(Clone)]
pub struct Environment {
    /// Where SQLite files live.
    pub data_dir: PathBuf,
    /// Store configuration.
    pub store: StoreConfig,
    /// Token keys.
    pub keys: Arc<Keys>,
    /// The event bus every instance shares.
    pub bus: Arc<dyn EventBus>,
}

/// Connects a new instance of `service`: its own pool, metrics and faults; `cache` is shared
/// by the service's instances (in-memory per process, or Redis).
pub async fn connect_instance(
    service: &dyn Service,
    instance: String,
    environment: &Environment,
    cache: Arc<dyn CacheBackend>,
) -> anyhow::Result<ServiceContext> {
    let name = service.name();
    let store = Store::connect(&environment.store, name, &environment.data_dir).await?;
    let metrics = Metrics::new(name)?;
    let pool = store.clone();
    let gauges = metrics.clone();
    metrics.on_scrape(move || {
        let (in_use, max) = pool.pool_usage();
        gauges.set_pool(in_use, max);
    });
    Ok(ServiceContext {
        service: name,
        instance,
        store,
        cache: Cache::new(cache, metrics.clone()),
        keys: environment.keys.clone(),
        metrics,
        faults: Faults::default(),
        bus: environment.bus.clone(),
    })
}

/// Applies the kit's tables (outbox, processed events) and then the service's migrations.
pub async fn migrate(store: &Store, service: &dyn Service) -> anyhow::Result<()> {
    store
        .migrate(
            &format!("kit:{}", service.name()),
            crate::events::outbox::MIGRATIONS,
        )
        .await?;
    store.migrate(service.name(), service.migrations()).await
}

/// Runs an instance: serves its router on `listener` and runs the outbox relay and the
/// service's background tasks beside it, until `shutdown` (graceful) or a crash. Background
/// tasks stop with the server.
pub async fn run_instance(
    service: &dyn Service,
    context: ServiceContext,
    listener: tokio::net::TcpListener,
    shutdown: tokio_util::sync::CancellationToken,
    grace: Duration,
) -> crate::server::Stopped {
    let router = assemble(service, context.clone());
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(crate::events::outbox::relay(
        context.store.clone(),
        context.bus.clone(),
        context.metrics.clone(),
        Duration::from_millis(100),
    ));
    for task in service.background() {
        let context = context.clone();
        tasks.spawn(async move {
            let mut failures = 0u32;
            loop {
                match (task.run)(context.clone()).await {
                    Ok(()) => failures = 0,
                    Err(error) => {
                        failures += 1;
                        tracing::warn!(
                            service = context.service,
                            task = task.name,
                            error = format!("{error:#}"),
                            "background task failed; restarting"
                        );
                    }
                }
                tokio::time::sleep(Duration::from_millis(200) * failures.clamp(1, 25)).await;
            }
        });
    }
    let crash = context.faults.crash_token();
    let stopped = crate::server::serve(listener, router, shutdown, crash, grace).await;
    tasks.shutdown().await;
    stopped
}

/// Builds the instance's router: the service's API behind the fault hooks, the standard
/// endpoints, and the request span and RED metrics around everything.
pub fn assemble(service: &dyn Service, context: ServiceContext) -> Router {
    let (api, openapi) = service.api(context.clone()).split_for_parts();
    for (route, item) in &openapi.paths.paths {
        let operations = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, operation) in operations {
            if operation.is_some() {
                context.metrics.init_route(route, method);
            }
        }
    }
    let openapi = Arc::new(openapi);
    let api = api.layer(middleware::from_fn_with_state(
        context.faults.clone(),
        crate::faults::inject,
    ));
    let standard = Router::new()
        .route("/health/live", get(live))
        .route(
            "/health/ready",
            get(ready).with_state((context.store.clone(), context.bus.clone())),
        )
        .route(
            "/metrics",
            get(crate::metrics::handler).with_state(context.metrics.clone()),
        )
        .route(
            "/v1/audit/outbox",
            get(audit_outbox).with_state(context.store.clone()),
        )
        .route(
            "/openapi.json",
            get(move || {
                let openapi = openapi.clone();
                async move { axum::Json(openapi.as_ref().clone()) }
            }),
        );
    with_standard_layers(api.merge(standard), &context.metrics, context.service)
        .layer(Extension(context.keys.clone()))
}

/// Wraps any router (a service, the gateway) with RED metrics and the request span.
pub fn with_standard_layers(router: Router, metrics: &Metrics, service: &'static str) -> Router {
    router
        .fallback(|| async {
            crate::error::ApiError::NotFound("no such route".into()).into_response()
        })
        .layer(middleware::from_fn_with_state(
            metrics.clone(),
            crate::metrics::record,
        ))
        .layer(middleware::from_fn_with_state(service, request_span))
}

/// Runs the request in a span with service, method, route, request id and trace id (continuing
/// an incoming `traceparent`), echoes the request id, and logs the outcome.
async fn request_span(
    State(service): State<&'static str>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(crate::metrics::UNMATCHED_ROUTE, |m| m.as_str())
        .to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        service,
        %method,
        route,
        request_id,
        trace_id = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let trace_id = crate::telemetry::adopt_remote_parent(&span, request.headers());
    if !trace_id.is_empty() {
        span.record("trace_id", trace_id.as_str());
    }
    let started = std::time::Instant::now();
    let quiet = route.starts_with("/health") || route == "/metrics";
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("status", status);
    if !quiet || status >= 500 {
        span.in_scope(|| {
            tracing::info!(
                status,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request"
            )
        });
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// `GET /v1/audit/outbox` (admin or sre): events not yet published, for `ballast verify`.
async fn audit_outbox(
    State(store): State<Store>,
    _auditor: crate::auth::AuditorUser,
) -> Result<impl IntoResponse, crate::error::ApiError> {
    let pending = crate::events::outbox::pending(&store).await?;
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT MIN(occurred_at) FROM outbox WHERE published_at IS NULL")
            .fetch_one(store.pool())
            .await
            .map_err(crate::error::ApiError::from)?;
    let total: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM outbox")
        .fetch_one(store.pool())
        .await
        .map_err(crate::error::ApiError::from)?;
    Ok(axum::Json(serde_json::json!({
        "total": total,
        "pending": pending,
        "oldest_pending_age_ms": oldest.map(|t| (crate::store::now_millis() - t).max(0)),
    })))
}

async fn live() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "live" }))
}

async fn ready(State((store, bus)): State<(Store, Arc<dyn EventBus>)>) -> Response {
    let within = Duration::from_secs(2);
    let (database, bus) = tokio::join!(
        tokio::time::timeout(within, store.ping()),
        tokio::time::timeout(within, bus.ping()),
    );
    let database_ok = check("database", database);
    let bus_ok = check("bus", bus);
    let word = |ok: bool| if ok { "ok" } else { "failing" };
    let ready = database_ok && bus_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": { "database": word(database_ok), "bus": word(bus_ok) },
    });
    (status, axum::Json(body)).into_response()
}

/// Logs a failed readiness check; true when it passed.
fn check(name: &str, result: Result<anyhow::Result<()>, tokio::time::error::Elapsed>) -> bool {
    match result {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(check = name, error = format!("{error:#}"), "not ready");
            false
        }
        Err(_) => {
            tracing::warn!(check = name, "not ready: no answer within 2s");
            false
        }
    }
}
