//! What every Ballast service shares.
//!
//! A service crate provides its router, domain logic and store queries and implements
//! [`service::Service`]; this kit turns it into a running instance with the same endpoints,
//! middleware and telemetry as every other:
//!
//! - [`config`]: typed configuration (defaults, file, `BALLAST_*` environment), [`config::Secret`]
//! - [`telemetry`]: JSON logs with trace ids, OTLP export, W3C `traceparent` propagation
//! - [`metrics`]: the uniform RED metrics and saturation gauges, `/metrics`
//! - [`error`] and [`extract`]: problem+json errors and extractors whose rejections are 4xx
//! - [`events`]: the event bus (embedded log; Kafka in `ballast-kafka`), outbox, idempotent consumers
//! - [`store`]: sqlx over SQLite (embedded) or PostgreSQL, portable migrations
//! - [`cache`]: in-memory or Redis read-through cache with hit/miss counters
//! - [`auth`]: Ed25519 JWTs, key rotation by key id, JWKS, roles and extractors
//! - [`faults`]: per-instance latency, error and crash hooks for the orchestrator
//! - [`service`]: the `Service` trait and the instance assembly (health, metrics, OpenAPI)
//! - [`server`]: serving a router with graceful shutdown and an abrupt crash
//! - [`client`]: outgoing HTTP with trace propagation
//! - [`testing`]: the integration-test harness (fresh database per test, instance on port 0)

pub mod auth;
pub mod cache;
pub mod client;
pub mod config;
pub mod error;
pub mod events;
pub mod extract;
pub mod faults;
pub mod metrics;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod testing;

pub use error::{ApiError, ApiResult};
