//! The Ballast inventory service: stock per product, reservations with an expiry, commit,
//! release and admin restock.
//!
//! Stock rows appear when the catalog announces a product (`product.created`). The order saga
//! drives reservations through `inventory.commands` (reserve, commit, release) and reads the
//! answers on `inventory`. A reservation holds all of an order's lines or none, through
//! conditional `UPDATE`s in one transaction, so stock never goes negative and the last unit
//! goes to exactly one order. A sweeper expires abandoned holds and returns their stock. The
//! invariant `initial + restocked = available + reserved + sold` is a CHECK constraint.
//!
//! Layout:
//!
//! - [`domain`]: reservation statuses, reasons, line merging (pure)
//! - [`stock`]: the `stock` table (create, read, restock)
//! - [`reservations`]: reserve, commit, release, expire (migrations in `migrations/`)
//! - [`handler`]: the event consumer and the expiry sweep
//! - [`api`]: the documented `/v1` router
//! - [`error`]: [`error::InventoryError`] and its HTTP statuses

pub mod api;
pub mod domain;
pub mod error;
pub mod handler;
pub mod reservations;
pub mod stock;

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::events::catalog::topics;
use ballast_kit::events::consumer::Consumer;
use ballast_kit::service::{Background, Service, ServiceContext};
use ballast_kit::store::{Migration, now_millis};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;

/// The inventory service's migrations.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "stock and reservations",
    include_str!("../migrations/0001_inventory.sql"),
)];

/// Inventory settings (`[inventory]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InventoryConfig {
    /// How often the sweeper looks for expired holds.
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub sweep_interval: Duration,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            sweep_interval: Duration::from_secs(1),
        }
    }
}

/// The inventory service, for `assemble` and `ballast serve inventory`.
#[derive(Debug, Clone, Default)]
pub struct InventoryService {
    /// Settings.
    pub config: InventoryConfig,
}

impl Service for InventoryService {
    fn name(&self) -> &'static str {
        "inventory"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn api(&self, context: ServiceContext) -> OpenApiRouter {
        api::router(context)
    }

    fn background(&self) -> Vec<Background> {
        let interval = self.config.sweep_interval;
        vec![
            Background::consumer(
                Consumer::new(
                    handler::GROUP,
                    &[topics::CATALOG, topics::INVENTORY_COMMANDS],
                ),
                Arc::new(handler::InventoryHandler),
            ),
            Background::new("reservation-expiry", move |context: ServiceContext| {
                sweep_forever(context, interval)
            }),
        ]
    }
}

/// Expires overdue holds every `interval` until the instance stops.
async fn sweep_forever(context: ServiceContext, interval: Duration) -> anyhow::Result<()> {
    loop {
        handler::sweep_expired(&context.store, now_millis()).await?;
        tokio::time::sleep(interval).await;
    }
}
