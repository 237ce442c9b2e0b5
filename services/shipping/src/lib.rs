//! The Ballast shipping service: quotes, shipments for confirmed orders, tracking that moves
//! on over time, cancellation before pickup, and returns.
//!
//! The service consumes `orders` (group `shipping`): `order.confirmed` creates one shipment
//! per order (label created, `shipment.created`), `order.cancelled` cancels a shipment whose
//! label is not picked up yet. A tracker moves shipments `label_created → in_transit →
//! delivered` on a [`domain::Schedule`], emitting `shipment.status_changed` each time; every
//! change is a conditional `UPDATE` on the current status, so replicas never double-move.
//!
//! Layout:
//!
//! - [`rates`]: the rate table, zones and quote validation (pure)
//! - [`domain`]: statuses, the tracking schedule, tracking numbers (pure)
//! - [`store`]: reads over `shipments`, `shipment_events`, `shipment_returns` (schema in
//!   `migrations/`) and the API's views
//! - [`lifecycle`]: every write with its event, in one transaction; the tracker pass
//! - [`handler`]: the `orders` consumer
//! - [`api`]: the documented `/v1` router
//! - [`metrics`]: `shipments{status}` and `shipment_transitions_total{status}`
//! - [`error`]: [`error::ShippingError`] and its HTTP statuses

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod domain;
pub mod error;
pub mod handler;
pub mod lifecycle;
pub mod metrics;
pub mod rates;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::events::catalog::topics;
use ballast_kit::events::consumer::Consumer;
use ballast_kit::service::{Background, Service, ServiceContext};
use ballast_kit::store::{Migration, now_millis};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;

use crate::domain::{Schedule, ShipmentStatus};
use crate::metrics::ShippingMetrics;

/// The shipping service's migrations.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "shipments, tracking events, returns",
    include_str!("../migrations/0001_shipping.sql"),
)];

/// Shipping settings (`[shipping]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShippingConfig {
    /// How long a label waits for pickup (`label_created → in_transit`).
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub in_transit_after: Duration,
    /// How long a shipment is in transit (`in_transit → delivered`).
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub delivered_after: Duration,
    /// How often the tracker looks for shipments to move.
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub tick: Duration,
}

impl Default for ShippingConfig {
    fn default() -> Self {
        Self {
            in_transit_after: Duration::from_secs(30),
            delivered_after: Duration::from_secs(60),
            tick: Duration::from_secs(1),
        }
    }
}

impl ShippingConfig {
    /// The tracking schedule these settings describe.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            in_transit_after: self.in_transit_after,
            delivered_after: self.delivered_after,
        }
    }
}

/// The shipping service, for `assemble` and `ballast serve shipping`.
#[derive(Debug, Clone, Default)]
pub struct ShippingService {
    /// Settings.
    pub config: ShippingConfig,
}

impl Service for ShippingService {
    fn name(&self) -> &'static str {
        "shipping"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn api(&self, context: ServiceContext) -> OpenApiRouter {
        api::router(context)
    }

    fn background(&self) -> Vec<Background> {
        let schedule = self.config.schedule();
        let tick = self.config.tick;
        vec![
            Background::consumer(
                Consumer::new(handler::GROUP, &[topics::ORDERS]),
                Arc::new(handler::OrdersHandler),
            ),
            Background::new("shipment-tracker", move |context: ServiceContext| {
                track_forever(context, schedule, tick)
            }),
        ]
    }
}

/// Moves due shipments on every `tick` until the instance stops.
async fn track_forever(
    context: ServiceContext,
    schedule: Schedule,
    tick: Duration,
) -> anyhow::Result<()> {
    let metrics = ShippingMetrics::register(&context.metrics)?;
    loop {
        for status in lifecycle::advance_due(&context.store, &schedule, now_millis()).await? {
            metrics.transition(status.as_str());
        }
        let counts = store::count_by_status(&context.store).await?;
        for status in ShipmentStatus::ALL {
            let count = counts
                .iter()
                .find(|(name, _)| name == status.as_str())
                .map_or(0, |(_, count)| *count);
            metrics.set_shipments(status.as_str(), count);
        }
        tokio::time::sleep(tick).await;
    }
}
