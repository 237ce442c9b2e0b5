//! Ballast's Alertmanager: routing, grouping, inhibition, silences and notifications to
//! Slack, PagerDuty, a webhook and the console, with state that survives restarts and
//! two-way Slack and PagerDuty integration.
//!
//! Layout:
//! - [`model`]: the alert model Prometheus posts to `/api/v2/alerts`, matchers, fingerprints
//! - [`routing`]: `alerts/routing.yaml` (route tree, receivers, inhibit rules), validation with
//!   file and line, and the pure routing decision (`amtool config routes test`)
//! - [`core`]: the pure, clock-free core: aggregation groups and their timers, the
//!   notification log's dedup decision, silences and inhibition
//! - [`store`]: the persisted state (sqlx, portable SQL)
//! - [`templates`]: handlebars templates for every message, defaults in `alerts/templates/`
//! - [`notify`]: the integrations (Slack through slack-morphism, PagerDuty Events v2,
//!   webhook, console) with retries, and request-signature verification
//! - [`dispatcher`]: [`dispatcher::Dispatcher`], which ingests alerts, flushes due groups
//!   through the integrations and handles acknowledgements and silences
//! - [`api`]: the HTTP API (`/api/v2/alerts`, `/api/v2/silences`, `/api/v2/alerts/groups`,
//!   `/slack/interactions`, `/pagerduty/webhook`)
//! - [`standin`]: local stand-ins for Slack's Web API and PagerDuty's Events API that record
//!   what they receive, for tests and demos
//! - [`metrics`]: the alerting metrics (notifications, alerts by state, groups)
//! - [`error`]: the crate's error type and configuration problems

pub mod api;
pub mod core;
pub mod dispatcher;
pub mod error;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod routing;
pub mod standin;
pub mod store;
pub mod templates;
mod yaml;

pub use dispatcher::{Dispatcher, DispatcherConfig};
pub use error::{AlertingError, Problem};
pub use model::Alert;
pub use routing::RoutingConfig;
