//! Notification's own metrics, beside the kit's RED and bus metrics, declared here in one
//! place:
//!
//! - `notifications_pending{service}`: notifications not delivered yet, from the database
//!   (every replica reports the same figure: aggregate with `max`), refreshed each pass
//! - `notifications_delivered_total{service,channel,sink}`: deliveries this instance made
//! - `notification_delivery_failures_total{service,sink}`: deliveries that failed (retried)

use ballast_kit::metrics::Metrics;
use prometheus::core::Collector;
use prometheus::{IntCounterVec, IntGauge, Opts};

/// The notification metrics of one instance.
#[derive(Clone)]
pub struct NotificationMetrics {
    pending: IntGauge,
    delivered: IntCounterVec,
    failures: IntCounterVec,
}

/// Registers `collector` in `metrics`' registry, replacing an earlier registration of the
/// same metric (a restarted background task registers again; the registry matches by
/// description, so a fresh collector with the same options removes the old one).
fn replace_registration<C: Collector + Clone + 'static>(
    metrics: &Metrics,
    collector: &C,
) -> anyhow::Result<()> {
    let registry = metrics.registry();
    let _ = registry.unregister(Box::new(collector.clone()));
    registry.register(Box::new(collector.clone()))?;
    Ok(())
}

impl NotificationMetrics {
    /// Creates the metrics and registers them in the instance's registry.
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        let service = metrics.service();
        let pending = IntGauge::with_opts(
            Opts::new("notifications_pending", "Notifications not delivered yet.")
                .const_label("service", service),
        )?;
        let delivered = IntCounterVec::new(
            Opts::new(
                "notifications_delivered_total",
                "Notifications this instance delivered, by channel and sink.",
            )
            .const_label("service", service),
            &["channel", "sink"],
        )?;
        let failures = IntCounterVec::new(
            Opts::new(
                "notification_delivery_failures_total",
                "Deliveries that failed and will be retried, by sink.",
            )
            .const_label("service", service),
            &["sink"],
        )?;
        replace_registration(metrics, &pending)?;
        replace_registration(metrics, &delivered)?;
        replace_registration(metrics, &failures)?;
        Ok(Self {
            pending,
            delivered,
            failures,
        })
    }

    /// Sets the number of undelivered notifications.
    pub fn set_pending(&self, count: i64) {
        self.pending.set(count);
    }

    /// Counts one delivery on `channel` through `sink`.
    pub fn delivered(&self, channel: &str, sink: &str) {
        self.delivered.with_label_values(&[channel, sink]).inc();
    }

    /// Counts one failed delivery through `sink`.
    pub fn failed(&self, sink: &str) {
        self.failures.with_label_values(&[sink]).inc();
    }
}
