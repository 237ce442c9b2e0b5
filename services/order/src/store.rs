//! Queries over the order service's own tables: the catalog copy, orders and their lines, the
//! saga of each order (saved with an optimistic version check) and idempotency keys.
//!
//! Functions that take an `AnyConnection` run inside the caller's transaction.

use ballast_kit::events::catalog::Address;
use ballast_kit::store::{Dialect, Store};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::saga::{Flags, Saga, Status};

/// A product as the order service knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Product id.
    pub product_id: String,
    /// Name.
    pub name: String,
    /// Unit price, minor units.
    pub price_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// Shipping weight per unit.
    pub weight_grams: i64,
    /// Whether new orders may include it.
    pub active: bool,
}

/// One stored order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// Product id.
    pub product_id: String,
    /// Product name when ordered.
    pub name: String,
    /// Units.
    pub quantity: i64,
    /// Unit price when ordered, minor units.
    pub unit_price_minor: i64,
    /// Unit weight when ordered.
    pub weight_grams: i64,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Order id (uuid v7).
    pub id: String,
    /// Buyer.
    pub user_id: String,
    /// Status.
    pub status: Status,
    /// Total, minor units.
    pub total_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// Card token for payment.
    pub card_token: String,
    /// Where to ship.
    pub shipping_address: Address,
    /// Total shipping weight.
    pub weight_grams: i64,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// The idempotency key it was created with.
    pub idempotency_key: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms.
    pub updated_at: i64,
    /// Lines.
    pub lines: Vec<OrderLine>,
}

/// A saga as stored, with the version its next save must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSaga {
    /// The state.
    pub saga: Saga,
    /// Optimistic concurrency version.
    pub version: i64,
}

/// Adds or replaces a product of the catalog copy (active).
pub async fn upsert_product(
    conn: &mut AnyConnection,
    product: &Product,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO catalog (product_id, name, price_minor, currency, weight_grams, active, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (product_id) DO UPDATE SET name = excluded.name,
             price_minor = excluded.price_minor, currency = excluded.currency,
             weight_grams = excluded.weight_grams, active = excluded.active,
             updated_at = excluded.updated_at",
    )
    .bind(&product.product_id)
    .bind(&product.name)
    .bind(product.price_minor)
    .bind(&product.currency)
    .bind(product.weight_grams)
    .bind(i64::from(product.active))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a product inactive (no new orders); true when it was known.
pub async fn deactivate_product(
    conn: &mut AnyConnection,
    product_id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE catalog SET active = 0, updated_at = $1 WHERE product_id = $2")
        .bind(now)
        .bind(product_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The known products among `ids`.
pub async fn products(store: &Store, ids: &[&str]) -> sqlx::Result<Vec<Product>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = (1..=ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT product_id, name, price_minor, currency, weight_grams, active FROM catalog
         WHERE product_id IN ({placeholders})"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(store.pool()).await?;
    rows.iter()
        .map(|row| {
            Ok(Product {
                product_id: row.try_get("product_id")?,
                name: row.try_get("name")?,
                price_minor: row.try_get("price_minor")?,
                currency: row.try_get("currency")?,
                weight_grams: row.try_get("weight_grams")?,
                active: row.try_get::<i64, _>("active")? != 0,
            })
        })
        .collect()
}

/// The order id and request hash stored under `(user_id, key)`.
pub async fn find_idempotency_key(
    store: &Store,
    user_id: &str,
    key: &str,
) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as(
        "SELECT order_id, request_hash FROM idempotency_keys WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_optional(store.pool())
    .await
}

/// Inserts the idempotency key, the order, its lines and its saga (inside the caller's
/// transaction). A second insert of the same `(user_id, key)` fails with a unique violation.
pub async fn insert_order(
    conn: &mut AnyConnection,
    order: &Order,
    request_hash: &str,
    saga: &Saga,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, order_id, request_hash, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&order.user_id)
    .bind(&order.idempotency_key)
    .bind(&order.id)
    .bind(request_hash)
    .bind(order.created_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO orders (id, user_id, status, total_minor, currency, card_token,
             shipping_address, weight_grams, reason, idempotency_key, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&order.id)
    .bind(&order.user_id)
    .bind(order.status.as_str())
    .bind(order.total_minor)
    .bind(&order.currency)
    .bind(&order.card_token)
    .bind(serde_json::to_string(&order.shipping_address)?)
    .bind(order.weight_grams)
    .bind(order.reason.as_deref())
    .bind(&order.idempotency_key)
    .bind(order.created_at)
    .bind(order.updated_at)
    .execute(&mut *conn)
    .await?;
    for (position, line) in order.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_lines (order_id, position, product_id, name, quantity,
                 unit_price_minor, weight_grams)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&order.id)
        .bind(i64::try_from(position)?)
        .bind(&line.product_id)
        .bind(&line.name)
        .bind(line.quantity)
        .bind(line.unit_price_minor)
        .bind(line.weight_grams)
        .execute(&mut *conn)
        .await?;
    }
    let f = &saga.flags;
    sqlx::query(
        "INSERT INTO saga (order_id, step, deadline_at, timeout_ms, reserved, nothing_held,
             charge_requested, captured, declined, commit_requested, committed,
             release_requested, released, refund_requested, refunded, captured_minor,
             shipment_status, version, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1, $18)",
    )
    .bind(&order.id)
    .bind(saga.step.as_str())
    .bind(saga.deadline_at)
    .bind(saga.timeout_ms)
    .bind(i64::from(f.reserved))
    .bind(i64::from(f.nothing_held))
    .bind(i64::from(f.charge_requested))
    .bind(i64::from(f.captured))
    .bind(i64::from(f.declined))
    .bind(i64::from(f.commit_requested))
    .bind(i64::from(f.committed))
    .bind(i64::from(f.release_requested))
    .bind(i64::from(f.released))
    .bind(i64::from(f.refund_requested))
    .bind(i64::from(f.refunded))
    .bind(saga.captured_minor)
    .bind(saga.shipment_status.as_deref())
    .bind(order.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const ORDER_COLUMNS: &str = "id, user_id, status, total_minor, currency, card_token,
    shipping_address, weight_grams, reason, idempotency_key, created_at, updated_at";

fn order_from_row(row: &AnyRow) -> anyhow::Result<Order> {
    let status: String = row.try_get("status")?;
    let address: String = row.try_get("shipping_address")?;
    Ok(Order {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        status: status.parse().map_err(anyhow::Error::msg)?,
        total_minor: row.try_get("total_minor")?,
        currency: row.try_get("currency")?,
        card_token: row.try_get("card_token")?,
        shipping_address: serde_json::from_str(&address)?,
        weight_grams: row.try_get("weight_grams")?,
        reason: row.try_get("reason")?,
        idempotency_key: row.try_get("idempotency_key")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        lines: Vec::new(),
    })
}

async fn lines(conn: &mut AnyConnection, order_id: &str) -> anyhow::Result<Vec<OrderLine>> {
    let rows = sqlx::query(
        "SELECT product_id, name, quantity, unit_price_minor, weight_grams FROM order_lines
         WHERE order_id = $1 ORDER BY position",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(OrderLine {
                product_id: row.try_get("product_id")?,
                name: row.try_get("name")?,
                quantity: row.try_get("quantity")?,
                unit_price_minor: row.try_get("unit_price_minor")?,
                weight_grams: row.try_get("weight_grams")?,
            })
        })
        .collect()
}

/// One order with its lines.
pub async fn order(conn: &mut AnyConnection, order_id: &str) -> anyhow::Result<Option<Order>> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(order_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut order = order_from_row(&row)?;
    order.lines = lines(conn, order_id).await?;
    Ok(Some(order))
}

/// One page of a user's orders, newest first, with lines; and how many they have.
pub async fn orders_of(
    store: &Store,
    user_id: &str,
    limit: i64,
    offset: i64,
) -> anyhow::Result<(Vec<Order>, i64)> {
    let mut conn = store.pool().acquire().await?;
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = $1
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
    let mut orders = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut order = order_from_row(row)?;
        order.lines = lines(&mut conn, &order.id).await?;
        orders.push(order);
    }
    let total: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok((orders, total))
}

const SAGA_COLUMNS: &str = "s.step, s.deadline_at, s.timeout_ms, s.reserved, s.nothing_held,
    s.charge_requested, s.captured, s.declined, s.commit_requested, s.committed,
    s.release_requested, s.released, s.refund_requested, s.refunded, s.captured_minor,
    s.shipment_status, s.version, o.status, o.reason";

fn saga_from_row(row: &AnyRow) -> anyhow::Result<StoredSaga> {
    let flag = |name: &str| -> anyhow::Result<bool> { Ok(row.try_get::<i64, _>(name)? != 0) };
    let step: String = row.try_get("step")?;
    let status: String = row.try_get("status")?;
    Ok(StoredSaga {
        saga: Saga {
            step: step.parse().map_err(anyhow::Error::msg)?,
            status: status.parse().map_err(anyhow::Error::msg)?,
            reason: row.try_get("reason")?,
            deadline_at: row.try_get("deadline_at")?,
            timeout_ms: row.try_get("timeout_ms")?,
            flags: Flags {
                reserved: flag("reserved")?,
                nothing_held: flag("nothing_held")?,
                charge_requested: flag("charge_requested")?,
                captured: flag("captured")?,
                declined: flag("declined")?,
                commit_requested: flag("commit_requested")?,
                committed: flag("committed")?,
                release_requested: flag("release_requested")?,
                released: flag("released")?,
                refund_requested: flag("refund_requested")?,
                refunded: flag("refunded")?,
            },
            captured_minor: row.try_get("captured_minor")?,
            shipment_status: row.try_get("shipment_status")?,
        },
        version: row.try_get("version")?,
    })
}

/// An order's saga (with the order's status and reason).
pub async fn saga(conn: &mut AnyConnection, order_id: &str) -> anyhow::Result<Option<StoredSaga>> {
    let sql = format!(
        "SELECT {SAGA_COLUMNS} FROM saga s JOIN orders o ON o.id = s.order_id
         WHERE s.order_id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(order_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(saga_from_row).transpose()
}

/// Saves `saga` over version `version` and the order's status and reason; false when another
/// writer saved it first (nothing is written then).
pub async fn save_saga(
    conn: &mut AnyConnection,
    order_id: &str,
    saga: &Saga,
    version: i64,
    now: i64,
) -> anyhow::Result<bool> {
    let f = &saga.flags;
    let done = sqlx::query(
        "UPDATE saga SET step = $1, deadline_at = $2, reserved = $3, nothing_held = $4,
             charge_requested = $5, captured = $6, declined = $7, commit_requested = $8,
             committed = $9, release_requested = $10, released = $11, refund_requested = $12,
             refunded = $13, captured_minor = $14, shipment_status = $15,
             version = version + 1, updated_at = $16
         WHERE order_id = $17 AND version = $18",
    )
    .bind(saga.step.as_str())
    .bind(saga.deadline_at)
    .bind(i64::from(f.reserved))
    .bind(i64::from(f.nothing_held))
    .bind(i64::from(f.charge_requested))
    .bind(i64::from(f.captured))
    .bind(i64::from(f.declined))
    .bind(i64::from(f.commit_requested))
    .bind(i64::from(f.committed))
    .bind(i64::from(f.release_requested))
    .bind(i64::from(f.released))
    .bind(i64::from(f.refund_requested))
    .bind(i64::from(f.refunded))
    .bind(saga.captured_minor)
    .bind(saga.shipment_status.as_deref())
    .bind(now)
    .bind(order_id)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("UPDATE orders SET status = $1, reason = $2, updated_at = $3 WHERE id = $4")
        .bind(saga.status.as_str())
        .bind(saga.reason.as_deref())
        .bind(now)
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// Orders whose unfinished saga is past its deadline at `now`, oldest deadline first.
pub async fn due_sagas(store: &Store, now: i64, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT order_id FROM saga WHERE step <> 'done' AND deadline_at <= $1
         ORDER BY deadline_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(store.pool())
    .await
}

/// One order as `ballast verify` sees it.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// The order.
    pub order: Order,
    /// Its saga.
    pub saga: Saga,
}

/// Every order with its saga (lines left empty), in id order, after `after`, at most `limit`.
pub async fn audit(
    store: &Store,
    after: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<AuditRow>> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS_O}, {SAGA_COLUMNS} FROM orders o JOIN saga s ON s.order_id = o.id
         WHERE o.id > $1 ORDER BY o.id LIMIT $2",
        ORDER_COLUMNS_O = "o.id, o.user_id, o.total_minor, o.currency, o.card_token,
            o.shipping_address, o.weight_grams, o.idempotency_key, o.created_at, o.updated_at"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(AuditRow {
                order: order_from_row(row)?,
                saga: saga_from_row(row)?.saga,
            })
        })
        .collect()
}

/// Everything stored about `order_id` in one read, for tests and diagnostics.
pub async fn load(store: &Store, order_id: &str) -> anyhow::Result<Option<(Order, Saga)>> {
    let mut conn = store.pool().acquire().await?;
    let Some(order) = order(&mut conn, order_id).await? else {
        return Ok(None);
    };
    let saga = saga(&mut conn, order_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("order {order_id} has no saga"))?;
    Ok(Some((order, saga.saga)))
}

/// Changes a known product's sellable fields (keeping whether it is active); false when the
/// product is unknown.
pub async fn update_product(
    conn: &mut AnyConnection,
    product: &Product,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE catalog SET name = $1, price_minor = $2, currency = $3, weight_grams = $4,
             updated_at = $5
         WHERE product_id = $6",
    )
    .bind(&product.name)
    .bind(product.price_minor)
    .bind(&product.currency)
    .bind(product.weight_grams)
    .bind(now)
    .bind(&product.product_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A transaction for reading then writing: on SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so a concurrent writer makes it wait instead of failing its upgrade;
/// on PostgreSQL the saga's version check catches concurrent writers.
pub async fn begin_write(store: &Store) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
    match store.dialect() {
        Dialect::Sqlite => store.pool().begin_with("BEGIN IMMEDIATE").await,
        Dialect::Postgres => store.pool().begin().await,
    }
}
