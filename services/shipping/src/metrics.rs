//! Shipping's own metrics, beside the kit's RED and bus metrics, declared here in one place:
//!
//! - `shipments{service,status}`: shipments per status now, from the database (every
//!   replica reports the same figure: aggregate with `max`), refreshed by each tracker pass
//! - `shipment_transitions_total{service,status}`: the moves this instance's tracker made,
//!   by the status reached (`in_transit`, `delivered`)

use ballast_kit::metrics::Metrics;
use prometheus::core::Collector;
use prometheus::{IntCounterVec, IntGaugeVec, Opts};

/// The shipping metrics of one instance.
#[derive(Clone)]
pub struct ShippingMetrics {
    shipments: IntGaugeVec,
    transitions: IntCounterVec,
}

/// Registers `collector` in `metrics`' registry, replacing an earlier registration of the
/// same metric (a restarted background task registers again; the registry matches by
/// description, so a fresh collector with the same options removes the old one).
pub(crate) fn replace_registration<C: Collector + Clone + 'static>(
    metrics: &Metrics,
    collector: &C,
) -> anyhow::Result<()> {
    let registry = metrics.registry();
    let _ = registry.unregister(Box::new(collector.clone()));
    registry.register(Box::new(collector.clone()))?;
    Ok(())
}

impl ShippingMetrics {
    /// Creates the metrics and registers them in the instance's registry.
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        let service = metrics.service();
        let shipments = IntGaugeVec::new(
            Opts::new("shipments", "Shipments per status now.").const_label("service", service),
            &["status"],
        )?;
        let transitions = IntCounterVec::new(
            Opts::new(
                "shipment_transitions_total",
                "Shipments this instance's tracker moved on, by the status reached.",
            )
            .const_label("service", service),
            &["status"],
        )?;
        replace_registration(metrics, &shipments)?;
        replace_registration(metrics, &transitions)?;
        Ok(Self {
            shipments,
            transitions,
        })
    }

    /// Sets the number of shipments in `status`.
    pub fn set_shipments(&self, status: &str, count: i64) {
        self.shipments.with_label_values(&[status]).set(count);
    }

    /// Counts one move to `status`.
    pub fn transition(&self, status: &str) {
        self.transitions.with_label_values(&[status]).inc();
    }
}
