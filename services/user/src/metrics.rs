//! The user service's own metrics, beside the kit's RED metrics:
//!
//! - `user_logins_total{service,result="success"|"failure"}`
//! - `user_registrations_total{service}`

use ballast_kit::metrics::Metrics;
use prometheus::{IntCounter, IntCounterVec, Opts};

/// Counters of logins and registrations, registered in one instance's registry.
#[derive(Clone, Default)]
pub struct UserMetrics {
    counters: Option<Counters>,
}

#[derive(Clone)]
struct Counters {
    logins: IntCounterVec,
    registrations: IntCounter,
}

impl UserMetrics {
    /// Creates the counters in the instance's registry; if that fails (a name clash) the
    /// failure is logged and the service runs without them.
    pub fn register(metrics: &Metrics) -> Self {
        match Counters::register(metrics) {
            Ok(counters) => Self {
                counters: Some(counters),
            },
            Err(error) => {
                tracing::warn!(%error, "user metrics not registered");
                Self::default()
            }
        }
    }

    /// Counts a login attempt.
    pub fn login(&self, success: bool) {
        if let Some(counters) = &self.counters {
            let result = if success { "success" } else { "failure" };
            counters.logins.with_label_values(&[result]).inc();
        }
    }

    /// Counts a registration.
    pub fn registered(&self) {
        if let Some(counters) = &self.counters {
            counters.registrations.inc();
        }
    }
}

impl Counters {
    fn register(metrics: &Metrics) -> prometheus::Result<Self> {
        let service = metrics.service().to_owned();
        let logins = IntCounterVec::new(
            Opts::new("user_logins_total", "Login attempts, by result.")
                .const_label("service", service.clone()),
            &["result"],
        )?;
        let registrations = IntCounter::with_opts(
            Opts::new("user_registrations_total", "Accounts registered.")
                .const_label("service", service),
        )?;
        metrics.registry().register(Box::new(logins.clone()))?;
        metrics
            .registry()
            .register(Box::new(registrations.clone()))?;
        Ok(Self {
            logins,
            registrations,
        })
    }
}
