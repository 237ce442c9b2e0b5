//! RED metrics with the uniform names every SLO template relies on, and saturation gauges.
//!
//! Every instance owns a [`Metrics`] (its own registry), so several instances in one process
//! each expose only their own counts at `/metrics`:
//!
//! - `http_requests_total{service,route,method,code}`
//! - `http_request_duration_seconds{service,route,method}` (histogram, seconds)
//! - `db_pool_connections_in_use{service}`, `db_pool_connections_max{service}`
//! - `cache_requests_total{service,result="hit"|"miss"}`
//! - `outbox_pending_events{service}`, `bus_events_published_total{service,topic}`,
//!   `bus_events_consumed_total{service,group,topic,outcome}`,
//!   `bus_dead_letters_total{service,group,topic}`, `bus_consumer_lag{service,group,topic}`
//! - `process_cpu_seconds_total`, `process_resident_memory_bytes` (the whole process)
//!
//! `route` is the matched route template (`/v1/products/{id}`), never the raw path.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The route label of requests that matched no route (keeps label cardinality bounded).
pub const UNMATCHED_ROUTE: &str = "unmatched";

type ScrapeHook = Box<dyn Fn() + Send + Sync>;

/// One instance's metrics registry and the RED and saturation metrics in it.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    pool_in_use: IntGauge,
    pool_max: IntGauge,
    cache: IntCounterVec,
    outbox_pending: IntGauge,
    published: IntCounterVec,
    consumed: IntCounterVec,
    dead_letters: IntCounterVec,
    consumer_lag: prometheus::IntGaugeVec,
    hooks: Mutex<Vec<ScrapeHook>>,
}

impl Metrics {
    /// A fresh registry for one instance of `service`.
    pub fn new(service: &str) -> anyhow::Result<Self> {
        let registry = Registry::new();
        let service_label = |opts: Opts| opts.const_label("service", service);
        let requests = IntCounterVec::new(
            service_label(Opts::new(
                "http_requests_total",
                "HTTP requests handled, by matched route, method and status code.",
            )),
            &["route", "method", "code"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request received to response head sent, in seconds.",
            )
            .const_label("service", service)
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route", "method"],
        )?;
        let pool_in_use = IntGauge::with_opts(service_label(Opts::new(
            "db_pool_connections_in_use",
            "Database connections currently checked out of the pool.",
        )))?;
        let pool_max = IntGauge::with_opts(service_label(Opts::new(
            "db_pool_connections_max",
            "Maximum size of the database connection pool.",
        )))?;
        let cache = IntCounterVec::new(
            service_label(Opts::new(
                "cache_requests_total",
                "Cache lookups, by result (hit or miss).",
            )),
            &["result"],
        )?;
        let outbox_pending = IntGauge::with_opts(service_label(Opts::new(
            "outbox_pending_events",
            "Events written to the outbox and not yet published.",
        )))?;
        let published = IntCounterVec::new(
            service_label(Opts::new(
                "bus_events_published_total",
                "Events relayed from the outbox to the bus, by topic.",
            )),
            &["topic"],
        )?;
        let consumed = IntCounterVec::new(
            service_label(Opts::new(
                "bus_events_consumed_total",
                "Events consumed, by group, topic and outcome (processed, duplicate, dead_lettered).",
            )),
            &["group", "topic", "outcome"],
        )?;
        let dead_letters = IntCounterVec::new(
            service_label(Opts::new(
                "bus_dead_letters_total",
                "Events moved to a dead-letter topic after failing every attempt.",
            )),
            &["group", "topic"],
        )?;
        let consumer_lag = prometheus::IntGaugeVec::new(
            service_label(Opts::new(
                "bus_consumer_lag",
                "Events published but not yet acknowledged by the consumer group.",
            )),
            &["group", "topic"],
        )?;
        registry.register(Box::new(outbox_pending.clone()))?;
        registry.register(Box::new(published.clone()))?;
        registry.register(Box::new(consumed.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        registry.register(Box::new(consumer_lag.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(pool_in_use.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(cache.clone()))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                registry,
                requests,
                duration,
                pool_in_use,
                pool_max,
                cache,
                outbox_pending,
                published,
                consumed,
                dead_letters,
                consumer_lag,
                hooks: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The service these metrics are labelled with.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The registry, for components that add metrics of their own.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Runs `hook` before every scrape (to refresh gauges read from elsewhere).
    pub fn on_scrape(&self, hook: impl Fn() + Send + Sync + 'static) {
        self.inner.hooks.lock().push(Box::new(hook));
    }

    /// Sets the database pool gauges.
    pub fn set_pool(&self, in_use: u32, max: u32) {
        self.inner.pool_in_use.set(i64::from(in_use));
        self.inner.pool_max.set(i64::from(max));
    }

    /// Counts a cache lookup.
    pub fn cache_lookup(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.inner.cache.with_label_values(&[result]).inc();
    }

    /// Sets the number of unpublished outbox events.
    pub fn set_outbox_pending(&self, pending: i64) {
        self.inner.outbox_pending.set(pending);
    }

    /// Counts an event relayed to the bus.
    pub fn event_published(&self, topic: &str) {
        self.inner.published.with_label_values(&[topic]).inc();
    }

    /// Counts a consumed event by outcome.
    pub fn event_consumed(
        &self,
        group: &str,
        topic: &str,
        outcome: crate::events::consumer::Outcome,
    ) {
        use crate::events::consumer::Outcome;
        let label = match outcome {
            Outcome::Processed => "processed",
            Outcome::Duplicate => "duplicate",
            Outcome::DeadLettered => {
                self.inner
                    .dead_letters
                    .with_label_values(&[group, topic])
                    .inc();
                "dead_lettered"
            }
        };
        self.inner
            .consumed
            .with_label_values(&[group, topic, label])
            .inc();
    }

    /// Sets a consumer group's lag on a topic.
    pub fn set_consumer_lag(&self, group: &str, topic: &str, lag: i64) {
        self.inner
            .consumer_lag
            .with_label_values(&[group, topic])
            .set(lag);
    }

    /// Creates the request series of `route` and `method` at zero (Prometheus' advice: a
    /// counter that exists at 0 reads as "no requests", a missing one as "no data"), so an SLO
    /// over a service nobody has called yet is quiet instead of absent.
    pub fn init_route(&self, route: &str, method: &str) {
        let _ = self
            .inner
            .requests
            .with_label_values(&[route, method, "200"]);
        let _ = self.inner.duration.with_label_values(&[route, method]);
    }

    /// Counts one finished request.
    pub fn observe_request(&self, route: &str, method: &str, code: u16, seconds: f64) {
        self.inner
            .requests
            .with_label_values(&[route, method, &code.to_string()])
            .inc();
        self.inner
            .duration
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    /// The registry in Prometheus text format (version 0.0.4).
    pub fn render(&self) -> anyhow::Result<String> {
        for hook in self.inner.hooks.lock().iter() {
            hook();
        }
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.inner.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8(buffer)?)
    }
}

/// Middleware recording RED metrics for every request, labelled with the matched route.
pub async fn record(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, |m| m.as_str())
        .to_owned();
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    metrics.observe_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: the instance's registry in Prometheus text format.
pub async fn handler(State(metrics): State<Metrics>) -> Response {
    match metrics.render() {
        Ok(body) => {
            let mut response = body.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        Err(error) => crate::error::ApiError::Internal(error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_uniform_names_and_labels() {
        let metrics = Metrics::new("product").unwrap();
        metrics.observe_request("/v1/products/{id}", "GET", 200, 0.012);
        metrics.cache_lookup(true);
        metrics.set_pool(2, 10);
        let text = metrics.render().unwrap();
        assert!(text.contains(
            r#"http_requests_total{code="200",method="GET",route="/v1/products/{id}",service="product"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"http_request_duration_seconds_bucket{method="GET",route="/v1/products/{id}",service="product",le="0.025"} 1"#
        ), "{text}");
        assert!(text.contains(r#"db_pool_connections_max{service="product"} 10"#));
        assert!(text.contains(r#"cache_requests_total{result="hit",service="product"} 1"#));
        assert!(text.contains("process_resident_memory_bytes"));
    }
}
