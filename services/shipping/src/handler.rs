//! The `shipping` consumer of the `orders` topic: `order.confirmed` creates the order's
//! shipment, `order.cancelled` cancels it while its label is not picked up yet. Other order
//! events are ignored. Everything runs in the consumer's transaction, so the effect, its
//! event (through the outbox) and the processed-event record commit together.

use ballast_kit::events::Event;
use ballast_kit::events::catalog::{OrderCancelled, OrderConfirmed};
use ballast_kit::events::consumer::Handler;
use ballast_kit::store::now_millis;
use futures::future::BoxFuture;
use sqlx::AnyConnection;

use crate::lifecycle;

/// The consumer group.
pub const GROUP: &str = "shipping";

/// Handles order events.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrdersHandler;

impl Handler for OrdersHandler {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(handle(event, conn))
    }
}

/// Handles one event on `conn` (inside the consumer's transaction).
pub async fn handle(event: &Event, conn: &mut AnyConnection) -> anyhow::Result<()> {
    let now = now_millis();
    if let Some(order) = event.decode::<OrderConfirmed>() {
        let order = order?;
        if lifecycle::create_for_order(conn, &order, now)
            .await?
            .is_none()
        {
            tracing::info!(order_id = order.order_id, "order already has a shipment");
        }
    } else if let Some(order) = event.decode::<OrderCancelled>() {
        let order = order?;
        lifecycle::cancel_for_order(conn, &order.order_id, now).await?;
    }
    Ok(())
}
