//! Ballast's metrics layer (the SRE suite's view of the shop's metrics).
//!
//! - [`exposition`]: Prometheus text format and OpenMetrics parser
//! - [`scrape`]: the scrape loop over a watched target list, with `up`, staleness markers
//! - [`chunk`] and [`storage`]: the embedded store (Gorilla chunks, postings, retention,
//!   memory bound, snapshot)
//! - [`promql`]: the PromQL evaluator (parsed with `promql-parser`, evaluated here)
//! - [`source`]: the [`source::MetricSource`] trait over the embedded store and Prometheus
//! - [`api`]: the Prometheus HTTP API (`/api/v1/query`, ...) over the embedded store
//! - [`import`]: loading an OpenMetrics file with timestamps into a store
//! - [`labels`], [`error`]: shared types

pub mod api;
pub mod chunk;
pub mod error;
pub mod exposition;
pub mod import;
pub mod labels;
pub mod promql;
pub mod scrape;
pub mod source;
pub mod storage;

pub use api::{api_router, serve_api};
pub use error::{MetricsError, Result};
pub use import::{import_openmetrics, import_openmetrics_text};
pub use labels::Labels;
pub use scrape::{ScrapeConfig, Target, spawn_scrape_manager};
pub use source::{EmbeddedSource, MetricSource, PrometheusSource};
pub use storage::{Storage, StorageConfig};
