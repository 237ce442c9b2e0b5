//! Reservations: hold, commit, release and expire an order's stock, all-or-nothing and
//! idempotent per order id.
//!
//! Every function takes the connection of a transaction the caller owns (the consumer's, so
//! the effect and the processed-event record commit together). Stock moves only through
//! conditional `UPDATE`s (`... WHERE available >= $n`), and a reservation changes status only
//! through `UPDATE ... WHERE status = 'held'` (checked by rows affected), so two orders racing
//! for the last unit, or a sweeper racing a commit, can never both win.

use ballast_kit::store::{Store, now_millis};
use serde::Serialize;
use sqlx::{AnyConnection, Connection};

use crate::domain::{self, ReservationStatus};
use crate::error::InventoryError;

/// What a reserve did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// Every line is held now.
    Reserved,
    /// Nothing was held, for `reason` (`out_of_stock`, `unknown_product`, `invalid_lines`).
    Rejected(String),
    /// The order already had a reservation; nothing changed.
    Existing(Reservation),
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The held stock is sold now.
    Committed,
    /// It was committed before; nothing changed.
    AlreadyCommitted,
    /// The hold was past its expiry: it expired now and its stock went back.
    ExpiredNow,
    /// No live hold (released, expired, rejected or unknown), for `reason`.
    Refused(String),
}

/// What a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// Held or committed stock went back to available.
    Released,
    /// Nothing was held (already released, expired, rejected, or unknown); nothing changed.
    NothingHeld,
}

/// A reservation as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reservation {
    /// Order id.
    pub order_id: String,
    /// `held`, `committed`, `released`, `expired` or `rejected`.
    pub status: String,
    /// Why it was rejected, released or expired.
    pub reason: Option<String>,
    /// When an uncommitted hold expires, Unix ms.
    pub expires_at: i64,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// The held quantities (empty for a rejected reserve).
    pub lines: Vec<ReservationLine>,
}

/// One product's quantity in a reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ReservationLine {
    /// Product id.
    pub product_id: String,
    /// Units.
    pub quantity: i64,
}

type ReservationRow = (String, String, Option<String>, i64, i64, i64);

const COLUMNS: &str = "order_id, status, reason, expires_at, created_at, updated_at";

fn from_row(
    (order_id, status, reason, expires_at, created_at, updated_at): ReservationRow,
) -> Reservation {
    Reservation {
        order_id,
        status,
        reason,
        expires_at,
        created_at,
        updated_at,
        lines: Vec::new(),
    }
}

/// The reservation of `order_id` with its lines.
pub async fn get(
    conn: &mut AnyConnection,
    order_id: &str,
) -> Result<Option<Reservation>, InventoryError> {
    let row: Option<ReservationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM reservations WHERE order_id = $1"
    )))
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut reservation = from_row(row);
    reservation.lines = lines(conn, order_id).await?;
    Ok(Some(reservation))
}

/// Every reservation with its lines, oldest first.
pub async fn all(store: &Store) -> Result<Vec<Reservation>, InventoryError> {
    let rows: Vec<ReservationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM reservations ORDER BY created_at, order_id"
    )))
    .fetch_all(store.pool())
    .await?;
    let all_lines: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT order_id, product_id, quantity FROM reservation_lines ORDER BY order_id, product_id",
    )
    .fetch_all(store.pool())
    .await?;
    let mut by_order: std::collections::HashMap<String, Vec<ReservationLine>> =
        std::collections::HashMap::new();
    for (order_id, product_id, quantity) in all_lines {
        by_order.entry(order_id).or_default().push(ReservationLine {
            product_id,
            quantity,
        });
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut reservation = from_row(row);
            reservation.lines = by_order.remove(&reservation.order_id).unwrap_or_default();
            reservation
        })
        .collect())
}

async fn lines(
    conn: &mut AnyConnection,
    order_id: &str,
) -> Result<Vec<ReservationLine>, InventoryError> {
    Ok(sqlx::query_as(
        "SELECT product_id, quantity FROM reservation_lines WHERE order_id = $1 ORDER BY product_id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Holds every line of `order_id` until `expires_at`, or nothing. A second reserve for the
/// same order changes nothing and reports the existing reservation.
pub async fn reserve(
    conn: &mut AnyConnection,
    order_id: &str,
    lines: &[ballast_kit::events::catalog::Line],
    expires_at: i64,
    now: i64,
) -> Result<ReserveOutcome, InventoryError> {
    // The reservation row is the idempotency guard: a concurrent reserve of the same order
    // waits on it (PostgreSQL) or on the write lock (SQLite) and then finds it.
    let inserted = sqlx::query(
        "INSERT INTO reservations (order_id, status, reason, expires_at, created_at, updated_at)
         VALUES ($1, 'held', NULL, $2, $3, $3) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        let existing = get(conn, order_id)
            .await?
            .ok_or_else(|| InventoryError::Invariant(format!("reservation {order_id} vanished")))?;
        return Ok(ReserveOutcome::Existing(existing));
    }
    let refusal = match domain::merge_lines(lines) {
        None => Some(domain::INVALID_LINES.to_owned()),
        Some(merged) => hold_all(conn, order_id, &merged, now).await?,
    };
    match refusal {
        None => Ok(ReserveOutcome::Reserved),
        Some(reason) => {
            sqlx::query(
                "UPDATE reservations SET status = 'rejected', reason = $1, updated_at = $2
                 WHERE order_id = $3",
            )
            .bind(&reason)
            .bind(now)
            .bind(order_id)
            .execute(&mut *conn)
            .await?;
            Ok(ReserveOutcome::Rejected(reason))
        }
    }
}

/// Moves every line from available to reserved inside a savepoint; on the first line that
/// cannot be held, rolls the savepoint back and returns why.
async fn hold_all(
    conn: &mut AnyConnection,
    order_id: &str,
    merged: &[(String, i64)],
    now: i64,
) -> Result<Option<String>, InventoryError> {
    let mut savepoint = conn.begin().await?;
    for (product_id, quantity) in merged {
        let held = sqlx::query(
            "UPDATE stock SET available = available - $1, reserved = reserved + $1, updated_at = $2
             WHERE product_id = $3 AND available >= $1",
        )
        .bind(quantity)
        .bind(now)
        .bind(product_id)
        .execute(&mut *savepoint)
        .await?
        .rows_affected();
        if held == 0 {
            let reason = if crate::stock::exists(&mut savepoint, product_id).await? {
                domain::OUT_OF_STOCK
            } else {
                domain::UNKNOWN_PRODUCT
            };
            savepoint.rollback().await?;
            return Ok(Some(reason.to_owned()));
        }
        sqlx::query(
            "INSERT INTO reservation_lines (order_id, product_id, quantity) VALUES ($1, $2, $3)",
        )
        .bind(order_id)
        .bind(product_id)
        .bind(quantity)
        .execute(&mut *savepoint)
        .await?;
    }
    savepoint.commit().await?;
    Ok(None)
}

/// Which figure a reservation's units leave when they go back to available.
#[derive(Debug, Clone, Copy)]
enum Bucket {
    Reserved,
    Sold,
}

/// Moves every line of `order_id` from `from` back to available.
async fn give_back(
    conn: &mut AnyConnection,
    order_id: &str,
    from: Bucket,
    now: i64,
) -> Result<(), InventoryError> {
    let statement = match from {
        Bucket::Reserved => {
            "UPDATE stock SET available = available + $1, reserved = reserved - $1, updated_at = $2
             WHERE product_id = $3 AND reserved >= $1"
        }
        Bucket::Sold => {
            "UPDATE stock SET available = available + $1, sold = sold - $1, updated_at = $2
             WHERE product_id = $3 AND sold >= $1"
        }
    };
    for line in lines(conn, order_id).await? {
        let moved = sqlx::query(statement)
            .bind(line.quantity)
            .bind(now)
            .bind(&line.product_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if moved == 0 {
            return Err(InventoryError::Invariant(format!(
                "order {order_id}: product {} has fewer than {} units {from:?}",
                line.product_id, line.quantity
            )));
        }
    }
    Ok(())
}

/// Moves a reservation from `from` to `to` if it is still in `from`; true when this call did.
async fn transition(
    conn: &mut AnyConnection,
    order_id: &str,
    from: ReservationStatus,
    to: ReservationStatus,
    reason: Option<&str>,
    now: i64,
) -> Result<bool, InventoryError> {
    let changed = sqlx::query(
        "UPDATE reservations SET status = $1, reason = COALESCE($2, reason), updated_at = $3
         WHERE order_id = $4 AND status = $5",
    )
    .bind(to.as_str())
    .bind(reason)
    .bind(now)
    .bind(order_id)
    .bind(from.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Makes the hold of `order_id` sold stock, unless it is gone or past its expiry (then it
/// expires now and its stock goes back).
pub async fn commit(
    conn: &mut AnyConnection,
    order_id: &str,
    now: i64,
) -> Result<CommitOutcome, InventoryError> {
    let committed = sqlx::query(
        "UPDATE reservations SET status = 'committed', updated_at = $1
         WHERE order_id = $2 AND status = 'held' AND expires_at >= $1",
    )
    .bind(now)
    .bind(order_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if committed == 1 {
        move_reserved_to_sold(conn, order_id, now).await?;
        return Ok(CommitOutcome::Committed);
    }
    let Some(existing) = get(conn, order_id).await? else {
        return Ok(CommitOutcome::Refused(
            domain::RESERVATION_EXPIRED.to_owned(),
        ));
    };
    match ReservationStatus::parse(&existing.status) {
        Some(ReservationStatus::Committed) => Ok(CommitOutcome::AlreadyCommitted),
        Some(ReservationStatus::Held) => {
            if expire(conn, order_id, now).await? {
                Ok(CommitOutcome::ExpiredNow)
            } else {
                Err(InventoryError::Invariant(format!(
                    "reservation {order_id} changed while committing"
                )))
            }
        }
        Some(ReservationStatus::Released) => Ok(CommitOutcome::Refused(
            domain::RESERVATION_RELEASED.to_owned(),
        )),
        Some(ReservationStatus::Rejected) => Ok(CommitOutcome::Refused(
            domain::RESERVATION_REJECTED.to_owned(),
        )),
        Some(ReservationStatus::Expired) | None => Ok(CommitOutcome::Refused(
            domain::RESERVATION_EXPIRED.to_owned(),
        )),
    }
}

async fn move_reserved_to_sold(
    conn: &mut AnyConnection,
    order_id: &str,
    now: i64,
) -> Result<(), InventoryError> {
    for line in lines(conn, order_id).await? {
        let moved = sqlx::query(
            "UPDATE stock SET reserved = reserved - $1, sold = sold + $1, updated_at = $2
             WHERE product_id = $3 AND reserved >= $1",
        )
        .bind(line.quantity)
        .bind(now)
        .bind(&line.product_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if moved == 0 {
            return Err(InventoryError::Invariant(format!(
                "order {order_id}: product {} has fewer than {} units reserved",
                line.product_id, line.quantity
            )));
        }
    }
    Ok(())
}

/// Returns the held or committed (a cancellation) stock of `order_id` to available. A release
/// for an order inventory never saw leaves a `released` marker, so a late reserve of that
/// order holds nothing.
pub async fn release(
    conn: &mut AnyConnection,
    order_id: &str,
    reason: &str,
    now: i64,
) -> Result<ReleaseOutcome, InventoryError> {
    use ReservationStatus::{Committed, Held, Released};
    if transition(conn, order_id, Held, Released, Some(reason), now).await? {
        give_back(conn, order_id, Bucket::Reserved, now).await?;
        return Ok(ReleaseOutcome::Released);
    }
    if transition(conn, order_id, Committed, Released, Some(reason), now).await? {
        give_back(conn, order_id, Bucket::Sold, now).await?;
        return Ok(ReleaseOutcome::Released);
    }
    sqlx::query(
        "INSERT INTO reservations (order_id, status, reason, expires_at, created_at, updated_at)
         VALUES ($1, 'released', $2, $3, $3, $3) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(ReleaseOutcome::NothingHeld)
}

/// Expires the hold of `order_id` (if still held) and returns its stock; true when this call
/// did it.
pub async fn expire(
    conn: &mut AnyConnection,
    order_id: &str,
    now: i64,
) -> Result<bool, InventoryError> {
    let expired = transition(
        conn,
        order_id,
        ReservationStatus::Held,
        ReservationStatus::Expired,
        Some(domain::EXPIRED),
        now,
    )
    .await?;
    if expired {
        give_back(conn, order_id, Bucket::Reserved, now).await?;
    }
    Ok(expired)
}

/// Orders whose hold is past its expiry at `now`, oldest first, at most `limit`.
pub async fn due(store: &Store, now: i64, limit: i64) -> Result<Vec<String>, InventoryError> {
    Ok(sqlx::query_scalar(
        "SELECT order_id FROM reservations WHERE status = 'held' AND expires_at < $1
         ORDER BY expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(store.pool())
    .await?)
}

/// Reserves in a transaction of its own (for tools and tests; the service reserves inside
/// its consumer's transaction).
pub async fn reserve_now(
    store: &Store,
    order_id: &str,
    lines: &[ballast_kit::events::catalog::Line],
    expires_at: i64,
) -> Result<ReserveOutcome, InventoryError> {
    let mut tx = crate::stock::begin_write(store).await?;
    let outcome = reserve(&mut tx, order_id, lines, expires_at, now_millis()).await?;
    tx.commit().await?;
    Ok(outcome)
}
