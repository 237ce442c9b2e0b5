//! Applying one saga input to a stored saga, inside the caller's transaction: load the state,
//! run the pure [`saga::step`], save the new state over the version it was read at, and write
//! the commands it asks for to the outbox. The consumer, the sweeper and the cancel endpoint
//! all move sagas through [`apply`]; [`events_for`] turns saga commands into catalog events.

use ballast_kit::events::Event;
use ballast_kit::events::catalog::{
    ChargePayment, CommitStock, Line, OrderCancelled, OrderConfirmed, OrderCreated, OrderFailed,
    RefundPayment, ReleaseStock, ReserveStock,
};
use ballast_kit::events::outbox;
use ballast_kit::store::now_millis;
use sqlx::AnyConnection;

use crate::metrics::OrderMetrics;
use crate::saga::{self, Command, Input, Saga, Step};
use crate::store::{self, Order};

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No such order.
    Missing,
    /// The input changed nothing.
    Unchanged(Saga),
    /// Another writer saved the saga since it was read; nothing was written.
    Conflict,
    /// The saga moved; its commands are in the outbox.
    Applied {
        /// The state before.
        before: Saga,
        /// The state after.
        after: Saga,
    },
}

/// Applies `input` to the saga of `order_id` on `conn` (a transaction the caller commits).
pub async fn apply(
    conn: &mut AnyConnection,
    order_id: &str,
    input: Input,
    metrics: &OrderMetrics,
) -> anyhow::Result<Outcome> {
    let Some(stored) = store::saga(conn, order_id).await? else {
        return Ok(Outcome::Missing);
    };
    let (after, commands) = saga::step(&stored.saga, input);
    if after == stored.saga && commands.is_empty() {
        return Ok(Outcome::Unchanged(after));
    }
    let now = now_millis();
    if !store::save_saga(conn, order_id, &after, stored.version, now).await? {
        return Ok(Outcome::Conflict);
    }
    let order = store::order(conn, order_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("order {order_id} has a saga but no order row"))?;
    for event in events_for(&order, &after, &commands, 0)? {
        outbox::enqueue(conn, &event).await?;
    }
    record(metrics, &stored.saga, &after, order.created_at, now);
    Ok(Outcome::Applied {
        before: stored.saga,
        after,
    })
}

/// Counts a status change and, when the saga just finished, its duration.
pub fn record(metrics: &OrderMetrics, before: &Saga, after: &Saga, created_at: i64, now: i64) {
    if after.status != before.status {
        metrics.reached(after.status);
    }
    if before.step != Step::Done && after.step == Step::Done {
        #[allow(clippy::cast_precision_loss)] // durations in ms fit an f64 exactly
        let seconds = (now - created_at) as f64 / 1000.0;
        metrics.saga_finished(after.status, seconds);
    }
}

/// The catalog events for `commands` about `order` (reservations expire `margin_ms` after the
/// saga's deadline).
pub fn events_for(
    order: &Order,
    saga: &Saga,
    commands: &[Command],
    margin_ms: i64,
) -> anyhow::Result<Vec<Event>> {
    let id = order.id.as_str();
    let lines: Vec<Line> = order
        .lines
        .iter()
        .map(|l| Line {
            product_id: l.product_id.clone(),
            quantity: l.quantity,
        })
        .collect();
    commands
        .iter()
        .map(|command| match command {
            Command::OrderCreated => Event::of(
                id,
                &OrderCreated {
                    order_id: id.to_owned(),
                    user_id: order.user_id.clone(),
                    lines: lines.clone(),
                    total_minor: order.total_minor,
                    currency: order.currency.clone(),
                },
            ),
            Command::ReserveStock => Event::of(
                id,
                &ReserveStock {
                    order_id: id.to_owned(),
                    lines: lines.clone(),
                    expires_at: saga.deadline_at.saturating_add(margin_ms),
                },
            ),
            Command::ChargePayment => Event::of(
                id,
                &ChargePayment {
                    order_id: id.to_owned(),
                    user_id: order.user_id.clone(),
                    amount_minor: order.total_minor,
                    currency: order.currency.clone(),
                    card_token: order.card_token.clone(),
                },
            ),
            Command::CommitStock => Event::of(
                id,
                &CommitStock {
                    order_id: id.to_owned(),
                },
            ),
            Command::ReleaseStock { reason } => Event::of(
                id,
                &ReleaseStock {
                    order_id: id.to_owned(),
                    reason: reason.clone(),
                },
            ),
            Command::RefundPayment { reason } => Event::of(
                id,
                &RefundPayment {
                    order_id: id.to_owned(),
                    amount_minor: None,
                    reason: reason.clone(),
                },
            ),
            Command::OrderConfirmed => Event::of(
                id,
                &OrderConfirmed {
                    order_id: id.to_owned(),
                    user_id: order.user_id.clone(),
                    lines: lines.clone(),
                    weight_grams: order.weight_grams,
                    shipping_address: order.shipping_address.clone(),
                    total_minor: order.total_minor,
                    currency: order.currency.clone(),
                },
            ),
            Command::OrderFailed { reason } => Event::of(
                id,
                &OrderFailed {
                    order_id: id.to_owned(),
                    user_id: order.user_id.clone(),
                    reason: reason.clone(),
                },
            ),
            Command::OrderCancelled => Event::of(
                id,
                &OrderCancelled {
                    order_id: id.to_owned(),
                    user_id: order.user_id.clone(),
                },
            ),
        })
        .collect()
}
