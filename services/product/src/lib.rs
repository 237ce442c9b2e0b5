//! The Ballast product service: the catalog, its categories, full-text search and reviews.
//!
//! Layout:
//! - [`domain`]: validated values (SKU, slug, currency, money in minor units, rating, page)
//! - [`model`]: the API's JSON (views and request bodies) with OpenAPI schemas
//! - [`search`]: shopper text to a safe full-text query (FTS5 on SQLite, tsquery on PostgreSQL)
//! - [`store`]: the queries over the service's own tables
//! - [`routes`]: the `/v1` handlers, one module per resource
//! - [`seed`]: the deterministic demo catalog and its initial stock for inventory
//!
//! [`ProductService`] ties them together for the kit: its name, its migrations
//! (`migrations/`: portable tables, then one search migration per dialect) and its API.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use ballast_kit::service::{Service, ServiceContext};
use ballast_kit::store::Migration;
use utoipa_axum::router::OpenApiRouter;

pub mod domain;
pub mod model;
pub mod routes;
pub mod search;
pub mod seed;
pub mod store;

pub use seed::{SeedOutcome, seed_catalog, seed_stock};

/// The product service's schema, applied in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(1, "catalog", include_str!("../migrations/0001_catalog.sql")),
    Migration::per_dialect(
        2,
        "search",
        include_str!("../migrations/0002_search.sqlite.sql"),
        include_str!("../migrations/0002_search.postgres.sql"),
    ),
];

/// The product service, as the kit runs it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProductService;

impl Service for ProductService {
    fn name(&self) -> &'static str {
        "product"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn api(&self, context: ServiceContext) -> OpenApiRouter {
        routes::router(context)
    }
}
