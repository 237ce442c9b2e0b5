//! The Ballast order service: orders placed with an idempotency key, and the saga that turns
//! each one into reserved stock, a captured payment and a confirmed order, or compensates it.
//!
//! Layout:
//! - [`saga`]: the saga as pure functions, `step(state, input) -> (state, commands)`
//! - [`domain`]: validated request values (idempotency key, lines, address) and the request hash
//! - [`store`]: the service's tables (catalog copy, orders, lines, saga, idempotency keys)
//! - [`transition`]: applies one saga input in a transaction: load, step, save, enqueue
//! - [`consumer`]: the event consumers (catalog copy; inventory, payment and shipping outcomes)
//! - [`sweeper`]: the deadline sweeper that compensates sagas past their deadline
//! - [`api`]: the documented `/v1` router (orders, cancel, audit)
//! - [`metrics`]: `orders_total{status}` and `order_saga_duration_seconds`
//! - [`error`]: [`error::OrderError`] and its HTTP statuses
//!
//! [`OrderService`] ties them together for the kit; [`OrderConfig`] holds its timeouts.

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::events::catalog::topics;
use ballast_kit::events::consumer::Consumer;
use ballast_kit::service::{Background, Service, ServiceContext};
use ballast_kit::store::{Migration, humantime_serde_compat};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;

pub mod api;
pub mod consumer;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod saga;
pub mod store;
pub mod sweeper;
pub mod transition;

/// The order service's schema.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "orders and saga",
    include_str!("../migrations/0001_orders.sql"),
)];

/// The consumer group that keeps the catalog copy.
pub const CATALOG_GROUP: &str = "order-catalog";
/// The consumer group that moves sagas on inventory, payment and shipping outcomes.
pub const SAGA_GROUP: &str = "order-saga";

/// The order service's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderConfig {
    /// How long a saga may take before it is compensated (`"30s"`).
    #[serde(with = "humantime_serde_compat")]
    pub saga_timeout: Duration,
    /// How long inventory keeps a reservation after the saga's deadline (`"30s"`).
    #[serde(with = "humantime_serde_compat")]
    pub reservation_margin: Duration,
    /// How often the sweeper looks for sagas past their deadline (`"1s"`).
    #[serde(with = "humantime_serde_compat")]
    pub sweep_interval: Duration,
}

impl Default for OrderConfig {
    fn default() -> Self {
        Self {
            saga_timeout: Duration::from_secs(30),
            reservation_margin: Duration::from_secs(30),
            sweep_interval: Duration::from_secs(1),
        }
    }
}

impl OrderConfig {
    /// The saga timeout in ms (at least 1).
    pub fn saga_timeout_ms(&self) -> i64 {
        millis(self.saga_timeout).max(1)
    }

    /// The reservation margin in ms.
    pub fn reservation_margin_ms(&self) -> i64 {
        millis(self.reservation_margin)
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The order service, as the kit runs it.
#[derive(Debug, Clone, Default)]
pub struct OrderService {
    /// Its settings.
    pub config: OrderConfig,
}

impl OrderService {
    /// The service with `config`.
    pub fn new(config: OrderConfig) -> Self {
        Self { config }
    }
}

impl Service for OrderService {
    fn name(&self) -> &'static str {
        "order"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn api(&self, context: ServiceContext) -> OpenApiRouter {
        api::router(context, self.config.clone())
    }

    fn background(&self) -> Vec<Background> {
        let catalog = Consumer::new(CATALOG_GROUP, &[topics::CATALOG]);
        // More, shorter retries than the default: a saga event that meets a concurrent writer
        // (the sweeper, a cancel, another instance) must be retried, not dead-lettered.
        let saga = Consumer {
            max_attempts: 8,
            backoff: Duration::from_millis(50),
            ..Consumer::new(
                SAGA_GROUP,
                &[topics::INVENTORY, topics::PAYMENTS, topics::SHIPPING],
            )
        };
        let config = self.config.clone();
        vec![
            Background::consumer(catalog, Arc::new(consumer::CatalogHandler)),
            Background::new("saga-consumer", move |context: ServiceContext| {
                let handler = Arc::new(consumer::SagaHandler::new(&context));
                ballast_kit::events::consumer::run(
                    saga.clone(),
                    context.store.clone(),
                    context.bus.clone(),
                    context.metrics.clone(),
                    handler,
                )
            }),
            Background::new("saga-sweeper", move |context: ServiceContext| {
                sweeper::run(context, config.clone())
            }),
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn config_defaults_and_humantime_strings() {
        let config: OrderConfig =
            serde_json::from_str(r#"{"saga_timeout":"2s","reservation_margin":"500ms"}"#).unwrap();
        assert_eq!(config.saga_timeout_ms(), 2000);
        assert_eq!(config.reservation_margin_ms(), 500);
        assert_eq!(config.sweep_interval, Duration::from_secs(1));
        assert_eq!(
            serde_json::from_str::<OrderConfig>("{}").unwrap(),
            OrderConfig::default()
        );
        assert!(serde_json::from_str::<OrderConfig>(r#"{"nope":1}"#).is_err());
    }
}
