//! The notification service's queries over its own tables: `notifications` (with their
//! delivery state), and the facts remembered from earlier events (`known_orders`,
//! `known_shipments`).

use ballast_kit::store::{Store, millis_to_rfc3339};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use crate::message::Message;

/// A notification as its user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotificationView {
    /// Notification id.
    pub id: String,
    /// `email`, `sms` or `push`.
    pub channel: String,
    /// What it is about (`order.confirmed`, `shipment.delivered`, ...).
    pub kind: String,
    /// The order it concerns.
    pub order_id: Option<String>,
    /// Subject or title.
    pub subject: String,
    /// The text.
    pub body: String,
    /// `pending` or `delivered`.
    pub status: String,
    /// When it was recorded (RFC 3339).
    pub created_at: String,
    /// When it was delivered (RFC 3339).
    pub delivered_at: Option<String>,
}

/// A notification waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Notification id.
    pub id: String,
    /// Recipient.
    pub user_id: String,
    /// `email`, `sms` or `push`.
    pub channel: String,
    /// What it is about.
    pub kind: String,
    /// Subject or title.
    pub subject: String,
    /// The text.
    pub body: String,
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Records `message` for the event `event_id` (pending delivery); false when that event
/// already has its notification.
pub async fn insert(
    conn: &mut AnyConnection,
    event_id: &str,
    message: &Message,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO notifications (id, event_id, user_id, channel, kind, order_id, subject, \
         body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(new_id())
    .bind(event_id)
    .bind(&message.user_id)
    .bind(message.channel.as_str())
    .bind(&message.kind)
    .bind(message.order_id.as_deref())
    .bind(&message.subject)
    .bind(&message.body)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

/// Remembers an order's currency.
pub async fn remember_order(
    conn: &mut AnyConnection,
    order_id: &str,
    currency: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO known_orders (order_id, currency) VALUES ($1, $2) \
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(currency)
    .execute(conn)
    .await?;
    Ok(())
}

/// An order's currency, if its `order.created` was seen.
pub async fn order_currency(
    conn: &mut AnyConnection,
    order_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT currency FROM known_orders WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(conn)
        .await
}

/// Remembers a shipment's tracking number.
pub async fn remember_shipment(
    conn: &mut AnyConnection,
    shipment_id: &str,
    tracking_number: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO known_shipments (shipment_id, tracking_number) VALUES ($1, $2) \
         ON CONFLICT (shipment_id) DO NOTHING",
    )
    .bind(shipment_id)
    .bind(tracking_number)
    .execute(conn)
    .await?;
    Ok(())
}

/// A shipment's tracking number, if its `shipment.created` was seen.
pub async fn tracking_number(
    conn: &mut AnyConnection,
    shipment_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT tracking_number FROM known_shipments WHERE shipment_id = $1")
        .bind(shipment_id)
        .fetch_optional(conn)
        .await
}

fn view_from_row(row: &AnyRow) -> Result<NotificationView, sqlx::Error> {
    let delivered_at: Option<i64> = row.try_get("delivered_at")?;
    Ok(NotificationView {
        id: row.try_get("id")?,
        channel: row.try_get("channel")?,
        kind: row.try_get("kind")?,
        order_id: row.try_get("order_id")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        status: if delivered_at.is_some() {
            "delivered"
        } else {
            "pending"
        }
        .to_owned(),
        created_at: millis_to_rfc3339(row.try_get("created_at")?),
        delivered_at: delivered_at.map(millis_to_rfc3339),
    })
}

/// One page of `user_id`'s notifications, newest first, and how many they have.
pub async fn list_for_user(
    store: &Store,
    user_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<NotificationView>, i64), sqlx::Error> {
    let total: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(store.pool())
            .await?;
    let rows = sqlx::query(
        "SELECT id, channel, kind, order_id, subject, body, created_at, delivered_at \
         FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC \
         LIMIT $2 OFFSET $3",
    )
    .bind(user_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(store.pool())
    .await?;
    let items = rows
        .iter()
        .map(view_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total))
}

/// Up to `limit` undelivered notifications not claimed by a dispatcher at `now`, oldest
/// first.
pub async fn due(store: &Store, now: i64, limit: i64) -> Result<Vec<Pending>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, user_id, channel, kind, subject, body FROM notifications \
         WHERE delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until < $1) \
         ORDER BY created_at, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Pending {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                channel: row.try_get("channel")?,
                kind: row.try_get("kind")?,
                subject: row.try_get("subject")?,
                body: row.try_get("body")?,
            })
        })
        .collect()
}

/// Claims notification `id` for delivery until `until`, if it is still undelivered and
/// unclaimed at `now`; true when this caller holds the claim.
pub async fn claim(store: &Store, id: &str, now: i64, until: i64) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE notifications SET claimed_until = $1, attempts = attempts + 1 \
         WHERE id = $2 AND delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until < $3)",
    )
    .bind(until)
    .bind(id)
    .bind(now)
    .execute(store.pool())
    .await?;
    Ok(claimed.rows_affected() > 0)
}

/// Marks notification `id` delivered through `sink` at `now`.
pub async fn mark_delivered(
    store: &Store,
    id: &str,
    sink: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications SET delivered_at = $1, sink = $2, claimed_until = NULL \
         WHERE id = $3 AND delivered_at IS NULL",
    )
    .bind(now)
    .bind(sink)
    .bind(id)
    .execute(store.pool())
    .await?;
    Ok(())
}

/// Counts for `ballast verify`: every notification, the undelivered ones, and per channel.
pub async fn counts(store: &Store) -> Result<(i64, i64, Vec<(String, i64)>), sqlx::Error> {
    let total: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM notifications")
        .fetch_one(store.pool())
        .await?;
    let pending = pending_count(store).await?;
    let per_channel: Vec<(String, i64)> = sqlx::query_as(
        "SELECT channel, CAST(COUNT(*) AS BIGINT) FROM notifications GROUP BY channel \
         ORDER BY channel",
    )
    .fetch_all(store.pool())
    .await?;
    Ok((total, pending, per_channel))
}

/// How many notifications are not delivered yet.
pub async fn pending_count(store: &Store) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE delivered_at IS NULL",
    )
    .fetch_one(store.pool())
    .await
}
