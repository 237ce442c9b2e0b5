//! The Ballast payment service: charges, refunds, and a built-in payment provider.
//!
//! The order saga asks for money through `payments.commands`: `payment.charge` records at
//! most one charge per order and asks the provider outside any transaction; the answer
//! becomes `payment.captured` or `payment.declined` on `payments`. `payment.refund` refunds a
//! captured charge (fully or partly) or voids a pending one so it can never capture, and is
//! answered with `payment.refunded`. A sweeper retries provider calls lost in a crash.
//!
//! Layout:
//!
//! - [`provider`]: the built-in provider (deterministic test tokens) and [`PaymentConfig`]
//! - [`charges`]: the `charges` and `refunds` tables (migrations in `migrations/`)
//! - [`commands`]: the command consumer, provider calls, and the retry sweeper
//! - [`api`]: the documented `/v1` router
//! - [`error`]: [`error::PaymentError`] and its HTTP statuses

pub mod api;
pub mod charges;
pub mod commands;
pub mod error;
pub mod provider;

use std::sync::Arc;

use ballast_kit::service::{Background, Service, ServiceContext};
use ballast_kit::store::Migration;
use utoipa_axum::router::OpenApiRouter;

pub use provider::{PaymentConfig, Provider};

/// The payment service's migrations.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "charges and refunds",
    include_str!("../migrations/0001_payments.sql"),
)];

/// The payment service, for `assemble` and `ballast serve payment`.
#[derive(Debug, Clone, Default)]
pub struct PaymentService {
    /// Settings (provider behaviour, retries).
    pub config: PaymentConfig,
}

impl Service for PaymentService {
    fn name(&self) -> &'static str {
        "payment"
    }

    fn migrations(&self) -> &'static [Migration] {
        MIGRATIONS
    }

    fn api(&self, context: ServiceContext) -> OpenApiRouter {
        api::router(context)
    }

    fn background(&self) -> Vec<Background> {
        let provider = Arc::new(Provider::new(&self.config));
        let consumer_provider = provider.clone();
        let (retry_after, interval) = (self.config.retry_after, self.config.sweep_interval);
        vec![
            Background::new("consumer", move |context: ServiceContext| {
                commands::run(context, consumer_provider.clone())
            }),
            Background::new("provider-retry", move |context: ServiceContext| {
                let provider = provider.clone();
                async move {
                    loop {
                        commands::retry_stale(&context.store, &provider, retry_after).await?;
                        tokio::time::sleep(interval).await;
                    }
                }
            }),
        ]
    }
}
