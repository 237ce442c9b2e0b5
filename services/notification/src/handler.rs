//! The `notification` consumer of `orders`, `payments` and `shipping`: each event a user
//! should hear about becomes one pending notification (see [`crate::message`]), recorded in
//! the consumer's transaction, so a redelivered event records nothing new. Delivery happens
//! afterwards, in [`crate::dispatch`].

use ballast_kit::events::Event;
use ballast_kit::events::catalog::{
    OrderCancelled, OrderConfirmed, OrderCreated, OrderFailed, PaymentCaptured, PaymentDeclined,
    PaymentRefunded, ShipmentCreated, ShipmentStatusChanged,
};
use ballast_kit::events::consumer::Handler;
use ballast_kit::store::now_millis;
use futures::future::BoxFuture;
use sqlx::AnyConnection;

use crate::message::{self, Message};
use crate::store;

/// The consumer group.
pub const GROUP: &str = "notification";

/// Turns events into notifications.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventsHandler;

impl Handler for EventsHandler {
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
    let Some(message) = message_for(event, conn).await? else {
        return Ok(());
    };
    if store::insert(conn, &event.id, &message, now_millis()).await? {
        tracing::info!(
            event_id = event.id,
            user_id = message.user_id,
            channel = message.channel.as_str(),
            kind = message.kind,
            "notification recorded"
        );
    }
    Ok(())
}

/// The notification `event` calls for, if any (remembering what later messages need).
async fn message_for(event: &Event, conn: &mut AnyConnection) -> anyhow::Result<Option<Message>> {
    if let Some(order) = event.decode::<OrderCreated>() {
        let order = order?;
        store::remember_order(conn, &order.order_id, &order.currency).await?;
        return Ok(Some(message::order_created(&order)));
    }
    if let Some(order) = event.decode::<OrderConfirmed>() {
        return Ok(Some(message::order_confirmed(&order?)));
    }
    if let Some(order) = event.decode::<OrderFailed>() {
        return Ok(Some(message::order_failed(&order?)));
    }
    if let Some(order) = event.decode::<OrderCancelled>() {
        return Ok(Some(message::order_cancelled(&order?)));
    }
    if let Some(payment) = event.decode::<PaymentCaptured>() {
        let payment = payment?;
        store::remember_order(conn, &payment.order_id, &payment.currency).await?;
        return Ok(Some(message::payment_captured(&payment)));
    }
    if let Some(payment) = event.decode::<PaymentDeclined>() {
        return Ok(Some(message::payment_declined(&payment?)));
    }
    if let Some(refund) = event.decode::<PaymentRefunded>() {
        let refund = refund?;
        let currency = store::order_currency(conn, &refund.order_id).await?;
        return Ok(message::payment_refunded(&refund, currency.as_deref()));
    }
    if let Some(shipment) = event.decode::<ShipmentCreated>() {
        let shipment = shipment?;
        store::remember_shipment(conn, &shipment.shipment_id, &shipment.tracking_number).await?;
        return Ok(None);
    }
    if let Some(change) = event.decode::<ShipmentStatusChanged>() {
        let change = change?;
        let tracking = store::tracking_number(conn, &change.shipment_id).await?;
        return Ok(message::shipment_status(&change, tracking.as_deref()));
    }
    Ok(None)
}
