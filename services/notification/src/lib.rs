//! The Ballast notification service: email, SMS and push notifications recorded per user from
//! order, payment and shipping events, delivered through a sink, listed by their users.
//!
//! The service consumes `orders`, `payments` and `shipping` (group `notification`). Each event
//! a user should hear about becomes one notification, recorded in the consumer's transaction
//! (so a redelivered event records nothing new); a dispatcher then delivers pending
//! notifications through the configured [`sink::Sink`] (the log by default) and marks them
//! delivered.
//!
//! Layout:
//!
//! - [`message`]: which event becomes which notification, rendered (pure)
//! - [`handler`]: the consumer
//! - [`store`]: the `notifications` table and remembered facts (schema in `migrations/`)
//! - [`sink`]: the delivery trait and the log sink
//! - [`dispatch`]: claims, delivers and marks pending notifications
//! - [`api`]: the documented `/v1` router
//! - [`metrics`]: `notifications_pending`, `notifications_delivered_total{channel,sink}`,
//!   `notification_delivery_failures_total{sink}`
//! - [`error`]: [`error::NotificationError`] and its HTTP statuses

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod dispatch;
pub mod error;
pub mod handler;
pub mod message;
pub mod metrics;
pub mod sink;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::events::catalog::topics;
use ballast_kit::events::consumer::Consumer;
use ballast_kit::service::{Background, Service, ServiceContext};
use ballast_kit::store::{Migration, now_millis};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;

use crate::metrics::NotificationMetrics;
use crate::sink::{LogSink, Sink};

/// The notification service's migrations.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "notifications",
    include_str!("../migrations/0001_notifications.sql"),
)];

/// Notification settings (`[notification]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationConfig {
    /// How often the dispatcher looks for notifications to deliver.
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub dispatch_interval: Duration,
    /// How long a dispatcher holds a notification it is delivering; a failed delivery is
    /// retried after this.
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub claim_for: Duration,
}

impl Default for NotificationConfig {
    fn default() -> Self {
        Self {
            dispatch_interval: Duration::from_millis(250),
            claim_for: Duration::from_secs(30),
        }
    }
}

/// The notification service, for `assemble` and `ballast serve notification`.
#[derive(Clone)]
pub struct NotificationService {
    /// Settings.
    pub config: NotificationConfig,
    /// Where notifications are delivered.
    pub sink: Arc<dyn Sink>,
}

impl Default for NotificationService {
    fn default() -> Self {
        Self {
            config: NotificationConfig::default(),
            sink: Arc::new(LogSink),
        }
    }
}

impl std::fmt::Debug for NotificationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationService")
            .field("config", &self.config)
            .field("sink", &self.sink.name())
            .finish()
    }
}

impl Service for NotificationService {
    fn name(&self) -> &'static str {
        "notification"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn api(&self, context: ServiceContext) -> OpenApiRouter {
        api::router(context)
    }

    fn background(&self) -> Vec<Background> {
        let config = self.config.clone();
        let sink = self.sink.clone();
        vec![
            Background::consumer(
                Consumer::new(
                    handler::GROUP,
                    &[topics::ORDERS, topics::PAYMENTS, topics::SHIPPING],
                ),
                Arc::new(handler::EventsHandler),
            ),
            Background::new("notification-dispatch", move |context: ServiceContext| {
                dispatch_forever(context, sink.clone(), config.clone())
            }),
        ]
    }
}

/// Delivers pending notifications every `dispatch_interval` until the instance stops.
async fn dispatch_forever(
    context: ServiceContext,
    sink: Arc<dyn Sink>,
    config: NotificationConfig,
) -> anyhow::Result<()> {
    let metrics = NotificationMetrics::register(&context.metrics)?;
    loop {
        let pass = dispatch::deliver_due(
            &context.store,
            sink.as_ref(),
            config.claim_for,
            now_millis(),
        )
        .await?;
        for channel in &pass.delivered {
            metrics.delivered(channel, sink.name());
        }
        for _ in 0..pass.failed {
            metrics.failed(sink.name());
        }
        metrics.set_pending(store::pending_count(&context.store).await?);
        tokio::time::sleep(config.dispatch_interval).await;
    }
}
