//! The writes of a shipment's life, each with its event in the same transaction: a shipment
//! for a confirmed order (`shipment.created`), a status change by the carrier, a cancellation
//! or a return (`shipment.status_changed`).
//!
//! Every status change is one conditional `UPDATE ... WHERE status = <from>`, so when two
//! replicas (or a tracker and a cancellation) race, exactly one of them moves the shipment and
//! emits the event; the other changes nothing.

use ballast_kit::events::catalog::{
    OrderConfirmed, Payload, ShipmentCreated, ShipmentStatusChanged,
};
use ballast_kit::events::{Event, outbox};
use ballast_kit::store::Store;
use sqlx::AnyConnection;

use crate::domain::{self, Schedule, ShipmentStatus};
use crate::error::ShippingError;
use crate::store::{self, Shipment, ShipmentReturn, new_id};

/// Shipments moved per status per tracker pass, at most.
const BATCH: i64 = 100;

async fn emit<T: Payload>(
    conn: &mut AnyConnection,
    order_id: &str,
    payload: &T,
) -> Result<(), ShippingError> {
    outbox::enqueue(conn, &Event::of(order_id, payload)?).await?;
    Ok(())
}

/// Adds a line to a shipment's tracking history.
async fn record(
    conn: &mut AnyConnection,
    shipment_id: &str,
    status: ShipmentStatus,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shipment_events (id, shipment_id, status, detail, occurred_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new_id())
    .bind(shipment_id)
    .bind(status.as_str())
    .bind(status.detail())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Creates the shipment of a confirmed order (label created) and emits `shipment.created`;
/// `None` when the order already has a shipment (a repeated confirmation changes nothing).
pub async fn create_for_order(
    conn: &mut AnyConnection,
    order: &OrderConfirmed,
    now: i64,
) -> Result<Option<Shipment>, ShippingError> {
    let id = new_id();
    let tracking_number = domain::tracking_number();
    let address = &order.shipping_address;
    let inserted = sqlx::query(
        "INSERT INTO shipments (id, order_id, user_id, recipient, line1, city, postal_code, \
         country, weight_grams, tracking_number, status, status_changed_at, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12) \
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(&id)
    .bind(&order.order_id)
    .bind(&order.user_id)
    .bind(&address.name)
    .bind(&address.line1)
    .bind(&address.city)
    .bind(&address.postal_code)
    .bind(address.country.to_ascii_uppercase())
    .bind(order.weight_grams.max(0))
    .bind(&tracking_number)
    .bind(ShipmentStatus::LabelCreated.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    record(conn, &id, ShipmentStatus::LabelCreated, now).await?;
    let created = ShipmentCreated {
        order_id: order.order_id.clone(),
        user_id: order.user_id.clone(),
        shipment_id: id.clone(),
        tracking_number,
    };
    emit(conn, &order.order_id, &created).await?;
    tracing::info!(
        order_id = order.order_id,
        shipment_id = id,
        "shipment created"
    );
    Ok(store::shipment(conn, &id).await?)
}

/// Moves shipment `shipment_id` from `from` to `to`, records it in the tracking history and
/// emits `shipment.status_changed`; `None` (and no change) when it is not in `from` any more.
pub async fn transition(
    conn: &mut AnyConnection,
    shipment_id: &str,
    from: ShipmentStatus,
    to: ShipmentStatus,
    now: i64,
) -> Result<Option<Shipment>, ShippingError> {
    let moved = sqlx::query(
        "UPDATE shipments SET status = $1, status_changed_at = $2, updated_at = $2 \
         WHERE id = $3 AND status = $4",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(shipment_id)
    .bind(from.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(None);
    }
    record(conn, shipment_id, to, now).await?;
    let shipment = store::shipment(conn, shipment_id)
        .await?
        .ok_or(ShippingError::NotFound)?;
    let changed = ShipmentStatusChanged {
        order_id: shipment.order_id.clone(),
        user_id: shipment.user_id.clone(),
        shipment_id: shipment.id.clone(),
        status: to.as_str().to_owned(),
    };
    emit(conn, &shipment.order_id, &changed).await?;
    tracing::info!(
        order_id = shipment.order_id,
        shipment_id,
        from = from.as_str(),
        to = to.as_str(),
        "shipment status changed"
    );
    Ok(Some(shipment))
}

/// Cancels the shipment of a cancelled order if its label is not picked up yet; a shipment
/// already in transit (or none at all) is left alone.
pub async fn cancel_for_order(
    conn: &mut AnyConnection,
    order_id: &str,
    now: i64,
) -> Result<Option<Shipment>, ShippingError> {
    let Some(shipment) = store::shipment_of_order(conn, order_id).await? else {
        tracing::info!(order_id, "order cancelled before any shipment");
        return Ok(None);
    };
    let cancelled = transition(
        conn,
        &shipment.id,
        ShipmentStatus::LabelCreated,
        ShipmentStatus::Cancelled,
        now,
    )
    .await?;
    if cancelled.is_none() {
        tracing::info!(
            order_id,
            shipment_id = shipment.id,
            status = shipment.status,
            "order cancelled after pickup; shipment kept"
        );
    }
    Ok(cancelled)
}

/// Records the return of a delivered shipment by its owner (`returned`); 404 when the
/// shipment is missing or not `user_id`'s, 409 when it is not delivered (or already returned).
pub async fn request_return(
    store: &Store,
    shipment_id: &str,
    user_id: &str,
    reason: &str,
    now: i64,
) -> Result<ShipmentReturn, ShippingError> {
    let mut tx = store::begin_write(store).await?;
    let shipment = store::shipment(&mut tx, shipment_id)
        .await?
        .filter(|s| s.user_id == user_id)
        .ok_or(ShippingError::NotFound)?;
    let returned = transition(
        &mut tx,
        shipment_id,
        ShipmentStatus::Delivered,
        ShipmentStatus::Returned,
        now,
    )
    .await?;
    if returned.is_none() {
        return Err(ShippingError::Conflict(format!(
            "the shipment is {}; only a delivered shipment can be returned",
            shipment.status
        )));
    }
    let record = ShipmentReturn {
        id: new_id(),
        shipment_id: shipment_id.to_owned(),
        user_id: user_id.to_owned(),
        reason: reason.to_owned(),
        created_at: ballast_kit::store::millis_to_rfc3339(now),
    };
    sqlx::query(
        "INSERT INTO shipment_returns (id, shipment_id, user_id, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&record.id)
    .bind(shipment_id)
    .bind(user_id)
    .bind(reason)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(record)
}

/// One tracker pass at `now`: every shipment whose time in its status is up moves on, one
/// transaction each; answers the status each move of this pass reached. Safe beside other
/// replicas' passes.
pub async fn advance_due(
    store: &Store,
    schedule: &Schedule,
    now: i64,
) -> Result<Vec<ShipmentStatus>, ShippingError> {
    let mut moved = Vec::new();
    for from in [ShipmentStatus::InTransit, ShipmentStatus::LabelCreated] {
        let Some((wait, to)) = schedule.step(from) else {
            continue;
        };
        let before = now.saturating_sub(domain::millis(wait));
        for id in store::due(store, from, before, BATCH).await? {
            let mut tx = store::begin_write(store).await?;
            if transition(&mut tx, &id, from, to, now).await?.is_some() {
                tx.commit().await?;
                moved.push(to);
            } else {
                tx.rollback().await?;
            }
        }
    }
    Ok(moved)
}
