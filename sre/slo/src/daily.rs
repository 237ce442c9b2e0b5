//! Daily roll-ups (per SLO per UTC day: good and total events) persisted through the kit's
//! [`Store`] (SQLite or PostgreSQL, portable SQL), for reports.
//!
//! Events are stored as whole milli-events (`BIGINT`): rates times seconds are not integers,
//! and the kit's `Any` driver decodes integers only. Writes add to the day's row, so a day
//! written by several ticks (or several flushes) sums up.

use ballast_kit::store::{Migration, Store};
use sqlx::Row;

use crate::engine::DailyRollup;

/// The service name the migrations are recorded under.
pub const MIGRATION_SERVICE: &str = "slo";

/// The roll-up table.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "slo_daily",
    "CREATE TABLE IF NOT EXISTS slo_daily (
        slo TEXT NOT NULL,
        day TEXT NOT NULL,
        good_milli BIGINT NOT NULL,
        total_milli BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (slo, day)
    )",
)];

/// Why persisting or reading roll-ups failed.
#[derive(Debug, thiserror::Error)]
pub enum DailyError {
    /// The store failed.
    #[error("slo daily roll-ups: {0}")]
    Store(#[from] sqlx::Error),
    /// Migrating failed.
    #[error("slo daily roll-ups migration: {0}")]
    Migrate(String),
}

/// Creates the table (idempotent).
pub async fn migrate(store: &Store) -> Result<(), DailyError> {
    store
        .migrate(MIGRATION_SERVICE, MIGRATIONS)
        .await
        .map_err(|e| DailyError::Migrate(format!("{e:#}")))
}

fn milli(v: f64) -> i64 {
    if v.is_finite() {
        (v * 1000.0).round() as i64
    } else {
        0
    }
}

/// Adds `rollups` to their days' rows, in one transaction.
pub async fn persist(store: &Store, rollups: &[DailyRollup]) -> Result<(), DailyError> {
    if rollups.is_empty() {
        return Ok(());
    }
    let now = ballast_kit::store::now_millis();
    let mut tx = store.pool().begin().await?;
    for r in rollups {
        sqlx::query(
            "INSERT INTO slo_daily (slo, day, good_milli, total_milli, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (slo, day) DO UPDATE SET
               good_milli = slo_daily.good_milli + excluded.good_milli,
               total_milli = slo_daily.total_milli + excluded.total_milli,
               updated_at = excluded.updated_at",
        )
        .bind(&r.slo)
        .bind(&r.day)
        .bind(milli(r.good))
        .bind(milli(r.total))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The roll-ups of `slo` (every SLO when `None`) for days in `[from, to]` (`YYYY-MM-DD`),
/// ordered by SLO then day.
pub async fn read(
    store: &Store,
    slo: Option<&str>,
    from: &str,
    to: &str,
) -> Result<Vec<DailyRollup>, DailyError> {
    let rows = sqlx::query(
        "SELECT slo, day, good_milli, total_milli FROM slo_daily
         WHERE ($1 = '' OR slo = $1) AND day >= $2 AND day <= $3
         ORDER BY slo, day",
    )
    .bind(slo.unwrap_or(""))
    .bind(from)
    .bind(to)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DailyRollup {
                slo: r.try_get("slo")?,
                day: r.try_get("day")?,
                good: r.try_get::<i64, _>("good_milli")? as f64 / 1000.0,
                total: r.try_get::<i64, _>("total_milli")? as f64 / 1000.0,
            })
        })
        .collect()
}
