//! The order service's own metrics, beside the kit's RED metrics:
//!
//! - `orders_total{service,status}`: orders that reached a status (`pending` when accepted,
//!   then `confirmed`, `failed`, `cancelled`, ...)
//! - `order_saga_duration_seconds{service,outcome}`: from acceptance to the saga's outcome
//!   (`confirmed`, `failed`, `cancelled`)
//!
//! One set per instance. The API and the background tasks of an instance are built separately
//! from its context, so [`OrderMetrics::for_instance`] hands them the same set, found by the
//! instance's name and environment (an instance restarted under its name keeps counting).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use ballast_kit::auth::Keys;
use ballast_kit::metrics::Metrics;
use ballast_kit::service::ServiceContext;
use parking_lot::Mutex;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};

use crate::saga::Status;

/// The order counters and the saga-duration histogram of one instance.
#[derive(Clone, Default)]
pub struct OrderMetrics {
    inner: Option<Inner>,
}

#[derive(Clone)]
struct Inner {
    orders: IntCounterVec,
    saga_duration: HistogramVec,
}

/// Sets already made, by service, instance name and environment (the environment's keys are
/// kept alive with the set, so their address is never reused by another environment).
type Instances = HashMap<String, (Arc<Keys>, Inner)>;
static INSTANCES: LazyLock<Mutex<Instances>> = LazyLock::new(|| Mutex::new(HashMap::new()));

impl OrderMetrics {
    /// The set registered in `metrics`' registry for `instance`, made on first use. If
    /// registering fails the failure is logged and the service runs without them.
    pub fn for_instance(context: &ServiceContext) -> Self {
        let metrics = &context.metrics;
        let key = format!(
            "{}/{}/{:p}",
            context.service,
            context.instance,
            Arc::as_ptr(&context.keys)
        );
        let mut instances = INSTANCES.lock();
        if let Some((_, inner)) = instances.get(&key) {
            // Same name, maybe a new registry (an instance restarted in this process): make
            // sure this registry shows the set; "already registered" means it does.
            let _ = metrics.registry().register(Box::new(inner.orders.clone()));
            let _ = metrics
                .registry()
                .register(Box::new(inner.saga_duration.clone()));
            return Self {
                inner: Some(inner.clone()),
            };
        }
        match Inner::register(metrics) {
            Ok(inner) => {
                instances.insert(key, (context.keys.clone(), inner.clone()));
                Self { inner: Some(inner) }
            }
            Err(error) => {
                tracing::warn!(%error, "order metrics not registered");
                Self::default()
            }
        }
    }

    /// Counts an order reaching `status`.
    pub fn reached(&self, status: Status) {
        if let Some(inner) = &self.inner {
            inner.orders.with_label_values(&[status.as_str()]).inc();
        }
    }

    /// Records a saga's time from acceptance to its `outcome`.
    pub fn saga_finished(&self, outcome: Status, seconds: f64) {
        if let Some(inner) = &self.inner {
            inner
                .saga_duration
                .with_label_values(&[outcome.as_str()])
                .observe(seconds.max(0.0));
        }
    }
}

impl Inner {
    fn register(metrics: &Metrics) -> prometheus::Result<Self> {
        let service = metrics.service().to_owned();
        let orders = IntCounterVec::new(
            Opts::new("orders_total", "Orders that reached a status, by status.")
                .const_label("service", service.clone()),
            &["status"],
        )?;
        let saga_duration = HistogramVec::new(
            HistogramOpts::new(
                "order_saga_duration_seconds",
                "Time from an order's acceptance to its saga's outcome, in seconds.",
            )
            .const_label("service", service)
            .buckets(vec![
                0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
            ]),
            &["outcome"],
        )?;
        metrics.registry().register(Box::new(orders.clone()))?;
        metrics
            .registry()
            .register(Box::new(saga_duration.clone()))?;
        Ok(Self {
            orders,
            saga_duration,
        })
    }
}
