//! The alerting metrics, declared in one place: notifications by integration and outcome,
//! alerts by state, and groups.

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// The dispatcher's metrics.
#[derive(Debug, Clone)]
pub struct AlertingMetrics {
    /// `alerting_notifications_total{integration,outcome}` (`outcome`: sent, failed).
    pub notifications: IntCounterVec,
    /// `alerting_alerts{state}` (active, suppressed, resolved) after each tick.
    pub alerts: IntGaugeVec,
    /// `alerting_groups`, aggregation groups held.
    pub groups: IntGauge,
}

impl AlertingMetrics {
    /// Creates the metrics and registers them in `registry` (a metric already registered
    /// there is left as it is, so two dispatchers can share a registry in tests).
    // Provably infallible: the names, help texts and label names are constant and valid.
    #[allow(clippy::expect_used)]
    pub fn new(registry: &Registry) -> Self {
        let notifications = IntCounterVec::new(
            Opts::new(
                "alerting_notifications_total",
                "Notifications by integration and outcome.",
            ),
            &["integration", "outcome"],
        )
        .expect("constant, valid metric definition");
        let alerts = IntGaugeVec::new(
            Opts::new("alerting_alerts", "Alerts held, by state."),
            &["state"],
        )
        .expect("constant, valid metric definition");
        let groups = IntGauge::new("alerting_groups", "Aggregation groups held.")
            .expect("constant, valid metric definition");
        let _ = registry.register(Box::new(notifications.clone()));
        let _ = registry.register(Box::new(alerts.clone()));
        let _ = registry.register(Box::new(groups.clone()));
        AlertingMetrics {
            notifications,
            alerts,
            groups,
        }
    }

    /// Counts a notification.
    pub fn notified(&self, integration: &str, ok: bool) {
        let kind = integration.split(':').next().unwrap_or(integration);
        self.notifications
            .with_label_values(&[kind, if ok { "sent" } else { "failed" }])
            .inc();
    }
}

impl Default for AlertingMetrics {
    fn default() -> Self {
        AlertingMetrics::new(&Registry::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_integration_kind() {
        let registry = Registry::new();
        let m = AlertingMetrics::new(&registry);
        m.notified("slack:#oncall", true);
        m.notified("pagerduty:0", false);
        assert_eq!(
            m.notifications.with_label_values(&["slack", "sent"]).get(),
            1
        );
        assert_eq!(
            m.notifications
                .with_label_values(&["pagerduty", "failed"])
                .get(),
            1
        );
        assert!(
            registry
                .gather()
                .iter()
                .any(|f| f.name() == "alerting_notifications_total")
        );
    }
}
