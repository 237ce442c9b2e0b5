//! The gateway's metrics beyond RED, declared in one place and registered in the gateway's
//! [`Metrics`] registry:
//!
//! - `gateway_upstream_requests_total{upstream,code}`: calls to upstream instances, by status
//!   code (or `connect_error`, `timeout`, `error` when no status came back)
//! - `gateway_rate_limited_total{scope}`: requests refused by a rate limit (`user`, `api_key`,
//!   `anonymous`)
//! - `gateway_shed_total`: requests refused because `max_in_flight` were in flight

use ballast_kit::metrics::Metrics;
use prometheus::{IntCounter, IntCounterVec, Opts};

/// The gateway's own counters.
#[derive(Clone)]
pub struct GatewayMetrics {
    upstream: IntCounterVec,
    rate_limited: IntCounterVec,
    shed: IntCounter,
}

impl GatewayMetrics {
    /// Registers the counters in `metrics`' registry.
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        let upstream = IntCounterVec::new(
            Opts::new(
                "gateway_upstream_requests_total",
                "Requests the gateway sent upstream, by upstream service and status code.",
            ),
            &["upstream", "code"],
        )?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "gateway_rate_limited_total",
                "Requests refused with 429, by rate-limit scope.",
            ),
            &["scope"],
        )?;
        let shed = IntCounter::new(
            "gateway_shed_total",
            "Requests refused with 503 because the gateway was at max_in_flight.",
        )?;
        let registry = metrics.registry();
        registry.register(Box::new(upstream.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(shed.clone()))?;
        Ok(Self {
            upstream,
            rate_limited,
            shed,
        })
    }

    /// Counts one upstream call by its outcome.
    pub fn upstream(&self, upstream: &str, code: &str) {
        self.upstream.with_label_values(&[upstream, code]).inc();
    }

    /// Counts one rate-limited request.
    pub fn rate_limited(&self, scope: &str) {
        self.rate_limited.with_label_values(&[scope]).inc();
    }

    /// Counts one shed request.
    pub fn shed(&self) {
        self.shed.inc();
    }
}
