//! The `stock` table: one row per product with the invariant
//! `initial + restocked = available + reserved + sold`, nothing negative (both enforced by
//! CHECK constraints). Every change is a single conditional `UPDATE`.

use ballast_kit::store::{Dialect, Store, now_millis};
use serde::Serialize;
use sqlx::{AnyConnection, Transaction};

use crate::error::InventoryError;

/// A stock row with every column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StockRow {
    /// Product id.
    pub product_id: String,
    /// The product's SKU.
    pub sku: String,
    /// Units the product started with.
    pub initial: i64,
    /// Units added by restocks since.
    pub restocked: i64,
    /// Units free to reserve.
    pub available: i64,
    /// Units held by reservations.
    pub reserved: i64,
    /// Units sold (committed reservations).
    pub sold: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

const COLUMNS: &str = "product_id, sku, initial, restocked, available, reserved, sold, updated_at";

/// Opens a write transaction: on SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
/// so a transaction never fails to upgrade from reading to writing.
pub async fn begin_write(store: &Store) -> Result<Transaction<'static, sqlx::Any>, sqlx::Error> {
    match store.dialect() {
        Dialect::Sqlite => store.pool().begin_with("BEGIN IMMEDIATE").await,
        Dialect::Postgres => store.pool().begin().await,
    }
}

/// Creates the stock row of a new product with `initial` units; false when it already exists
/// (a redelivered `product.created` changes nothing).
pub async fn create(
    conn: &mut AnyConnection,
    product_id: &str,
    sku: &str,
    initial: i64,
) -> Result<bool, InventoryError> {
    let initial = initial.max(0);
    let inserted = sqlx::query(
        "INSERT INTO stock (product_id, sku, initial, restocked, available, reserved, sold, updated_at)
         VALUES ($1, $2, $3, 0, $3, 0, 0, $4) ON CONFLICT (product_id) DO NOTHING",
    )
    .bind(product_id)
    .bind(sku)
    .bind(initial)
    .bind(now_millis())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// One product's stock row.
pub async fn get(
    conn: &mut AnyConnection,
    product_id: &str,
) -> Result<Option<StockRow>, InventoryError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM stock WHERE product_id = $1"
    )))
    .bind(product_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Every stock row, by product id.
pub async fn all(store: &Store) -> Result<Vec<StockRow>, InventoryError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM stock ORDER BY product_id"
    )))
    .fetch_all(store.pool())
    .await?)
}

/// Adds `quantity` (1..=[`crate::domain::MAX_RESTOCK`]) units: `restocked` and `available`
/// grow together. Returns the new row.
pub async fn restock(
    store: &Store,
    product_id: &str,
    quantity: i64,
) -> Result<StockRow, InventoryError> {
    if !(1..=crate::domain::MAX_RESTOCK).contains(&quantity) {
        return Err(InventoryError::Invalid {
            field: "quantity",
            reason: format!("must be between 1 and {}", crate::domain::MAX_RESTOCK),
        });
    }
    let mut tx = begin_write(store).await?;
    let changed = sqlx::query(
        "UPDATE stock SET restocked = restocked + $1, available = available + $1, updated_at = $2
         WHERE product_id = $3",
    )
    .bind(quantity)
    .bind(now_millis())
    .bind(product_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(InventoryError::UnknownProduct(product_id.to_owned()));
    }
    let row = get(&mut tx, product_id)
        .await?
        .ok_or_else(|| InventoryError::UnknownProduct(product_id.to_owned()))?;
    tx.commit().await?;
    Ok(row)
}

/// Sets the units available to `available` (a stock take): the difference is booked as a
/// restock (negative for shrinkage), so the invariant holds; refused with
/// [`InventoryError::Conflict`] when that would take `restocked` below zero.
pub async fn set_available(
    store: &Store,
    product_id: &str,
    available: i64,
) -> Result<StockRow, InventoryError> {
    if !(0..=crate::domain::MAX_RESTOCK).contains(&available) {
        return Err(InventoryError::Invalid {
            field: "available",
            reason: format!("must be between 0 and {}", crate::domain::MAX_RESTOCK),
        });
    }
    let mut tx = begin_write(store).await?;
    let changed = sqlx::query(
        "UPDATE stock SET restocked = restocked + ($1 - available), available = $1, updated_at = $2
         WHERE product_id = $3 AND restocked + ($1 - available) >= 0",
    )
    .bind(available)
    .bind(now_millis())
    .bind(product_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(if exists(&mut tx, product_id).await? {
            InventoryError::Conflict(
                "cannot remove more units than were restocked (initial stock is fixed)".into(),
            )
        } else {
            InventoryError::UnknownProduct(product_id.to_owned())
        });
    }
    let row = get(&mut tx, product_id)
        .await?
        .ok_or_else(|| InventoryError::UnknownProduct(product_id.to_owned()))?;
    tx.commit().await?;
    Ok(row)
}

/// Whether a stock row exists for `product_id`.
pub async fn exists(conn: &mut AnyConnection, product_id: &str) -> Result<bool, InventoryError> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT product_id FROM stock WHERE product_id = $1")
            .bind(product_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}
