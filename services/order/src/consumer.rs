//! The service's event consumers: [`CatalogHandler`] keeps the catalog copy that prices
//! orders, and [`SagaHandler`] moves sagas on the outcomes inventory, payment and shipping
//! report. Each event is handled in the kit's transaction that also records it processed.

use ballast_kit::events::Event;
use ballast_kit::events::catalog::{
    PaymentCaptured, PaymentDeclined, PaymentRefunded, ProductCreated, ProductDeleted,
    ProductUpdated, ShipmentCreated, ShipmentStatusChanged, StockCommitted, StockRejected,
    StockReleased, StockReserved,
};
use ballast_kit::events::consumer::Handler;
use ballast_kit::service::ServiceContext;
use ballast_kit::store::now_millis;
use futures::future::BoxFuture;
use sqlx::AnyConnection;

use crate::metrics::OrderMetrics;
use crate::saga::Input;
use crate::store::{self, Product};
use crate::transition::{self, Outcome};

/// Keeps the `catalog` table in step with `product.*` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogHandler;

impl Handler for CatalogHandler {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let now = now_millis();
            if let Some(p) = event.decode::<ProductCreated>() {
                let p = p?;
                let product = Product {
                    product_id: p.product_id,
                    name: p.name,
                    price_minor: p.price_minor,
                    currency: p.currency,
                    weight_grams: p.weight_grams,
                    active: true,
                };
                store::upsert_product(conn, &product, now).await?;
            } else if let Some(p) = event.decode::<ProductUpdated>() {
                let p = p?;
                let product = Product {
                    product_id: p.product_id,
                    name: p.name,
                    price_minor: p.price_minor,
                    currency: p.currency,
                    weight_grams: p.weight_grams,
                    active: true,
                };
                if !store::update_product(conn, &product, now).await? {
                    store::upsert_product(conn, &product, now).await?;
                }
            } else if let Some(p) = event.decode::<ProductDeleted>() {
                store::deactivate_product(conn, &p?.product_id, now).await?;
            }
            Ok(())
        })
    }
}

/// Moves sagas on `inventory.*`, `payment.*` and `shipment.*` outcomes.
#[derive(Clone)]
pub struct SagaHandler {
    metrics: OrderMetrics,
}

impl SagaHandler {
    /// A handler counting into the instance's order metrics.
    pub fn new(context: &ServiceContext) -> Self {
        Self {
            metrics: OrderMetrics::for_instance(context),
        }
    }
}

/// The order id and saga input an event carries; `None` for kinds the saga does not follow.
pub fn saga_input(event: &Event) -> Option<anyhow::Result<(String, Input)>> {
    fn map<T, F>(event: &Event, f: F) -> Option<anyhow::Result<(String, Input)>>
    where
        T: ballast_kit::events::catalog::Payload,
        F: FnOnce(T) -> (String, Input),
    {
        event.decode::<T>().map(|p| p.map(f))
    }
    map(event, |p: StockReserved| (p.order_id, Input::StockReserved))
        .or_else(|| {
            map(event, |p: StockRejected| {
                (p.order_id, Input::StockRejected { reason: p.reason })
            })
        })
        .or_else(|| {
            map(event, |p: StockCommitted| {
                (p.order_id, Input::StockCommitted)
            })
        })
        .or_else(|| map(event, |p: StockReleased| (p.order_id, Input::StockReleased)))
        .or_else(|| {
            map(event, |p: PaymentCaptured| {
                let amount_minor = p.amount_minor;
                (p.order_id, Input::PaymentCaptured { amount_minor })
            })
        })
        .or_else(|| {
            map(event, |p: PaymentDeclined| {
                (p.order_id, Input::PaymentDeclined { reason: p.reason })
            })
        })
        .or_else(|| {
            map(event, |p: PaymentRefunded| {
                let amount_minor = p.amount_minor;
                (p.order_id, Input::PaymentRefunded { amount_minor })
            })
        })
        .or_else(|| {
            map(event, |p: ShipmentCreated| {
                (p.order_id, Input::ShipmentCreated)
            })
        })
        .or_else(|| {
            map(event, |p: ShipmentStatusChanged| {
                (p.order_id, Input::ShipmentStatus { status: p.status })
            })
        })
}

impl Handler for SagaHandler {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let Some(decoded) = saga_input(event) else {
                return Ok(());
            };
            let (order_id, input) = decoded?;
            match transition::apply(conn, &order_id, input, &self.metrics).await? {
                Outcome::Missing => {
                    tracing::warn!(order_id, kind = event.kind, "event for an unknown order");
                }
                Outcome::Unchanged(_) => {
                    tracing::debug!(order_id, kind = event.kind, "event changed nothing");
                }
                // Another instance moved the saga meanwhile: retry on the fresh state.
                Outcome::Conflict => {
                    anyhow::bail!("saga of order {order_id} changed concurrently; retrying")
                }
                Outcome::Applied { before, after } => {
                    tracing::info!(
                        order_id,
                        kind = event.kind,
                        from = %before.step,
                        to = %after.step,
                        status = %after.status,
                        "saga moved"
                    );
                }
            }
            Ok(())
        })
    }
}
