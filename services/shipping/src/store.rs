//! The shipping service's reads over its own tables (`shipments`, `shipment_events`,
//! `shipment_returns`) and the views the API answers with.

use ballast_kit::events::catalog::Address;
use ballast_kit::store::{Dialect, Store, millis_to_rfc3339};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Row, Transaction};
use utoipa::ToSchema;

use crate::domain::ShipmentStatus;

/// The columns every shipment query selects.
const COLUMNS: &str = "id, order_id, user_id, recipient, line1, city, postal_code, country, \
     weight_grams, tracking_number, status, status_changed_at, created_at, updated_at";

/// A shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Shipment {
    /// Shipment id.
    pub id: String,
    /// The order it ships (one shipment per order).
    pub order_id: String,
    /// The buyer.
    pub user_id: String,
    /// `label_created`, `in_transit`, `delivered`, `returned` or `cancelled`.
    pub status: String,
    /// Carrier tracking number.
    pub tracking_number: String,
    /// Parcel weight.
    pub weight_grams: i64,
    /// Where it goes.
    pub address: Address,
    /// When the status last changed (RFC 3339).
    pub status_changed_at: String,
    /// When the label was created (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

/// One step of a shipment's tracking history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrackingEvent {
    /// The status reached.
    pub status: String,
    /// What happened, for people.
    pub detail: String,
    /// When (RFC 3339).
    pub occurred_at: String,
}

/// A return of a delivered shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShipmentReturn {
    /// Return id.
    pub id: String,
    /// The shipment sent back.
    pub shipment_id: String,
    /// Who asked.
    pub user_id: String,
    /// Why (may be empty).
    pub reason: String,
    /// When (RFC 3339).
    pub created_at: String,
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A write transaction: `BEGIN IMMEDIATE` on SQLite (so concurrent writers queue instead of
/// failing on a stale snapshot), a plain transaction on PostgreSQL.
pub async fn begin_write(store: &Store) -> Result<Transaction<'static, Any>, sqlx::Error> {
    match store.dialect() {
        Dialect::Sqlite => store.pool().begin_with("BEGIN IMMEDIATE").await,
        Dialect::Postgres => store.pool().begin().await,
    }
}

fn shipment_from_row(row: &AnyRow) -> Result<Shipment, sqlx::Error> {
    Ok(Shipment {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        user_id: row.try_get("user_id")?,
        status: row.try_get("status")?,
        tracking_number: row.try_get("tracking_number")?,
        weight_grams: row.try_get("weight_grams")?,
        address: Address {
            name: row.try_get("recipient")?,
            line1: row.try_get("line1")?,
            city: row.try_get("city")?,
            postal_code: row.try_get("postal_code")?,
            country: row.try_get("country")?,
        },
        status_changed_at: millis_to_rfc3339(row.try_get("status_changed_at")?),
        created_at: millis_to_rfc3339(row.try_get("created_at")?),
        updated_at: millis_to_rfc3339(row.try_get("updated_at")?),
    })
}

/// The shipment with `id`, if any.
pub async fn shipment(conn: &mut AnyConnection, id: &str) -> Result<Option<Shipment>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM shipments WHERE id = $1");
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(shipment_from_row)
        .transpose()
}

/// The shipment of order `order_id`, if any.
pub async fn shipment_of_order(
    conn: &mut AnyConnection,
    order_id: &str,
) -> Result<Option<Shipment>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM shipments WHERE order_id = $1");
    sqlx::query(AssertSqlSafe(sql))
        .bind(order_id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(shipment_from_row)
        .transpose()
}

/// A shipment's tracking history, oldest first.
pub async fn history(
    conn: &mut AnyConnection,
    shipment_id: &str,
) -> Result<Vec<TrackingEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT status, detail, occurred_at FROM shipment_events WHERE shipment_id = $1 \
         ORDER BY occurred_at, id",
    )
    .bind(shipment_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(TrackingEvent {
                status: row.try_get("status")?,
                detail: row.try_get("detail")?,
                occurred_at: millis_to_rfc3339(row.try_get("occurred_at")?),
            })
        })
        .collect()
}

/// A shipment's return, if one was requested.
pub async fn return_of(
    conn: &mut AnyConnection,
    shipment_id: &str,
) -> Result<Option<ShipmentReturn>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, shipment_id, user_id, reason, created_at FROM shipment_returns \
         WHERE shipment_id = $1",
    )
    .bind(shipment_id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(ShipmentReturn {
            id: row.try_get("id")?,
            shipment_id: row.try_get("shipment_id")?,
            user_id: row.try_get("user_id")?,
            reason: row.try_get("reason")?,
            created_at: millis_to_rfc3339(row.try_get("created_at")?),
        })
    })
    .transpose()
}

/// Every shipment, oldest first (for `ballast verify`).
pub async fn all(store: &Store) -> Result<Vec<Shipment>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM shipments ORDER BY created_at, id");
    let rows = sqlx::query(AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(shipment_from_row).collect()
}

/// Ids of shipments in `status` since at or before `before` (Unix ms), oldest first.
pub async fn due(
    store: &Store,
    status: ShipmentStatus,
    before: i64,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM shipments WHERE status = $1 AND status_changed_at <= $2 \
         ORDER BY status_changed_at, id LIMIT $3",
    )
    .bind(status.as_str())
    .bind(before)
    .bind(limit)
    .fetch_all(store.pool())
    .await
}

/// How many shipments are in each status (statuses with none are absent).
pub async fn count_by_status(store: &Store) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, CAST(COUNT(*) AS BIGINT) FROM shipments GROUP BY status ORDER BY status",
    )
    .fetch_all(store.pool())
    .await
}

/// Up to 100 shipments, newest first: `user_id`'s (every user's when `None`), of order
/// `order_id` when given.
pub async fn list(
    store: &Store,
    user_id: Option<&str>,
    order_id: Option<&str>,
) -> Result<Vec<Shipment>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM shipments WHERE ($1 IS NULL OR user_id = $1) \
         AND ($2 IS NULL OR order_id = $2) ORDER BY created_at DESC, id DESC LIMIT 100"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(user_id)
        .bind(order_id)
        .fetch_all(store.pool())
        .await?;
    rows.iter().map(shipment_from_row).collect()
}
