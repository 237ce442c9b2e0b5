//! The `inventory` consumer: `product.created` from `catalog` creates a stock row; the
//! `inventory.commands` (reserve, commit, release) act on reservations and answer on the
//! `inventory` topic. Everything runs in the consumer's transaction, so the effect, its
//! answer (through the outbox) and the processed-event record commit together.

use ballast_kit::events::catalog::{
    CommitStock, ProductCreated, ReleaseStock, ReserveStock, StockCommitted, StockRejected,
    StockReleased, StockReserved,
};
use ballast_kit::events::consumer::Handler;
use ballast_kit::events::{Event, outbox};
use ballast_kit::store::now_millis;
use futures::future::BoxFuture;
use sqlx::AnyConnection;

use crate::domain::{self, ReservationStatus};
use crate::reservations::{self, CommitOutcome, ReleaseOutcome, Reservation, ReserveOutcome};

/// The consumer group.
pub const GROUP: &str = "inventory";

/// Handles catalog events and inventory commands.
#[derive(Debug, Clone, Copy, Default)]
pub struct InventoryHandler;

impl Handler for InventoryHandler {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(handle(event, conn))
    }
}

async fn emit<T: ballast_kit::events::catalog::Payload>(
    conn: &mut AnyConnection,
    order_id: &str,
    payload: &T,
) -> anyhow::Result<()> {
    outbox::enqueue(conn, &Event::of(order_id, payload)?).await
}

/// Handles one event on `conn` (inside the consumer's transaction).
pub async fn handle(event: &Event, conn: &mut AnyConnection) -> anyhow::Result<()> {
    let now = now_millis();
    if let Some(product) = event.decode::<ProductCreated>() {
        let product = product?;
        if product.initial_stock < 0 {
            tracing::warn!(
                product_id = product.product_id,
                initial_stock = product.initial_stock,
                "negative initial stock; starting at 0"
            );
        }
        crate::stock::create(
            conn,
            &product.product_id,
            &product.sku,
            product.initial_stock,
        )
        .await?;
    } else if let Some(command) = event.decode::<ReserveStock>() {
        let command = command?;
        let order_id = command.order_id.as_str();
        match reservations::reserve(conn, order_id, &command.lines, command.expires_at, now).await?
        {
            ReserveOutcome::Reserved => {
                tracing::info!(order_id, "stock reserved");
                emit(conn, order_id, &reserved(order_id)).await?;
            }
            ReserveOutcome::Rejected(reason) => {
                tracing::info!(order_id, reason, "reservation rejected");
                emit(conn, order_id, &rejected(order_id, &reason)).await?;
            }
            ReserveOutcome::Existing(existing) => re_emit(conn, &existing).await?,
        }
    } else if let Some(command) = event.decode::<CommitStock>() {
        let command = command?;
        let order_id = command.order_id.as_str();
        match reservations::commit(conn, order_id, now).await? {
            CommitOutcome::Committed | CommitOutcome::AlreadyCommitted => {
                emit(
                    conn,
                    order_id,
                    &StockCommitted {
                        order_id: order_id.to_owned(),
                    },
                )
                .await?;
            }
            CommitOutcome::ExpiredNow => {
                emit(conn, order_id, &released(order_id, domain::EXPIRED)).await?;
                emit(
                    conn,
                    order_id,
                    &rejected(order_id, domain::RESERVATION_EXPIRED),
                )
                .await?;
            }
            CommitOutcome::Refused(reason) => {
                emit(conn, order_id, &rejected(order_id, &reason)).await?;
            }
        }
    } else if let Some(command) = event.decode::<ReleaseStock>() {
        let command = command?;
        let order_id = command.order_id.as_str();
        let outcome = reservations::release(conn, order_id, &command.reason, now).await?;
        if outcome == ReleaseOutcome::Released {
            tracing::info!(order_id, reason = command.reason, "stock released");
        }
        // Answered either way, so a compensation always learns that nothing is held.
        emit(conn, order_id, &released(order_id, &command.reason)).await?;
    }
    Ok(())
}

/// Answers a repeated reserve with the reservation's current state.
async fn re_emit(conn: &mut AnyConnection, existing: &Reservation) -> anyhow::Result<()> {
    let order_id = existing.order_id.as_str();
    let reason = existing.reason.as_deref().unwrap_or(domain::EXPIRED);
    match ReservationStatus::parse(&existing.status) {
        Some(ReservationStatus::Held | ReservationStatus::Committed) => {
            emit(conn, order_id, &reserved(order_id)).await
        }
        Some(ReservationStatus::Rejected) => {
            emit(conn, order_id, &rejected(order_id, reason)).await
        }
        Some(ReservationStatus::Released | ReservationStatus::Expired) | None => {
            emit(conn, order_id, &released(order_id, reason)).await
        }
    }
}

fn reserved(order_id: &str) -> StockReserved {
    StockReserved {
        order_id: order_id.to_owned(),
    }
}

fn rejected(order_id: &str, reason: &str) -> StockRejected {
    StockRejected {
        order_id: order_id.to_owned(),
        reason: reason.to_owned(),
    }
}

fn released(order_id: &str, reason: &str) -> StockReleased {
    StockReleased {
        order_id: order_id.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Expires every hold past its expiry at `now` (returning its stock and emitting
/// `inventory.released{reason:"expired"}`), one transaction per reservation; returns how
/// many this call expired. Safe when several replicas sweep at once: only the one whose
/// conditional update moves the reservation out of `held` returns its stock.
pub async fn sweep_expired(store: &ballast_kit::store::Store, now: i64) -> anyhow::Result<usize> {
    let mut expired = 0;
    for order_id in reservations::due(store, now, 200).await? {
        let mut tx = crate::stock::begin_write(store).await?;
        if reservations::expire(&mut tx, &order_id, now).await? {
            emit(&mut tx, &order_id, &released(&order_id, domain::EXPIRED)).await?;
            tx.commit().await?;
            tracing::info!(order_id, "reservation expired");
            expired += 1;
        } else {
            tx.rollback().await?;
        }
    }
    Ok(expired)
}
