//! The transactional outbox: events are written into the producer's own database in the same
//! transaction as the state change ([`enqueue`]), and a relay publishes them afterwards
//! ([`relay`]), so an event is never lost nor published for a change that rolled back.
//!
//! Several instances may relay the same outbox: each claims a batch under a lock (`FOR UPDATE
//! SKIP LOCKED` on PostgreSQL, the write lock on SQLite), publishes it, and marks it published
//! in the same transaction. A crash between publishing and marking republishes the batch;
//! consumers deduplicate by event id.

use std::time::Duration;

use sqlx::AnyConnection;

use super::{Event, EventBus};
use crate::metrics::Metrics;
use crate::store::{Dialect, Migration, Store, now_millis};

/// The kit's own tables in every service database: `outbox` and `processed_events`.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "outbox and processed events",
    "CREATE TABLE IF NOT EXISTS outbox (
        id TEXT PRIMARY KEY,
        topic TEXT NOT NULL,
        event_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        occurred_at BIGINT NOT NULL,
        traceparent TEXT,
        published_at BIGINT
    );
    CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (published_at, id);
    CREATE TABLE IF NOT EXISTS processed_events (
        consumer TEXT NOT NULL,
        event_id TEXT NOT NULL,
        processed_at BIGINT NOT NULL,
        PRIMARY KEY (consumer, event_id)
    );",
)];

/// Writes `event` into the outbox on `conn` (pass the transaction of the state change).
pub async fn enqueue(conn: &mut AnyConnection, event: &Event) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO outbox (id, topic, event_key, kind, payload, occurred_at, traceparent)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&event.id)
    .bind(&event.topic)
    .bind(&event.key)
    .bind(&event.kind)
    .bind(serde_json::to_string(&event.payload)?)
    .bind(event.occurred_at)
    .bind(event.traceparent.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Events written but not yet published.
pub async fn pending(store: &Store) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(store.pool())
        .await?,
    )
}

/// Publishes the outbox of `store` to `bus` forever (one batch at a time, polling every
/// `idle` when empty). Errors are logged and retried; it returns only if the task is dropped.
pub async fn relay(
    store: Store,
    bus: std::sync::Arc<dyn EventBus>,
    metrics: Metrics,
    idle: Duration,
) {
    let mut failures = 0u32;
    loop {
        match relay_batch(&store, bus.as_ref(), &metrics).await {
            Ok(0) => {
                failures = 0;
                if let Ok(n) = pending(&store).await {
                    metrics.set_outbox_pending(n);
                }
                tokio::time::sleep(idle).await;
            }
            Ok(_) => failures = 0,
            Err(error) => {
                failures += 1;
                tracing::warn!(
                    error = format!("{error:#}"),
                    failures,
                    "outbox relay failed; retrying"
                );
                tokio::time::sleep(idle * failures.min(20)).await;
            }
        }
    }
}

/// `id, topic, event_key, kind, payload, occurred_at, traceparent` of an outbox row.
type OutboxRow = (String, String, String, String, String, i64, Option<String>);

/// Claims, publishes and marks one batch; returns how many events it published.
pub async fn relay_batch(
    store: &Store,
    bus: &dyn EventBus,
    metrics: &Metrics,
) -> anyhow::Result<usize> {
    let mut tx = match store.dialect() {
        Dialect::Sqlite => store.pool().begin_with("BEGIN IMMEDIATE").await?,
        Dialect::Postgres => store.pool().begin().await?,
    };
    let lock = match store.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let rows: Vec<OutboxRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, topic, event_key, kind, payload, occurred_at, traceparent FROM outbox
             WHERE published_at IS NULL ORDER BY id LIMIT 100{lock}"
    )))
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let events = rows
        .into_iter()
        .map(
            |(id, topic, key, kind, payload, occurred_at, traceparent)| {
                Ok(Event {
                    id,
                    topic,
                    key,
                    kind,
                    payload: serde_json::from_str(&payload)?,
                    occurred_at,
                    traceparent,
                })
            },
        )
        .collect::<anyhow::Result<Vec<_>>>()?;
    bus.publish(&events).await?;
    let now = now_millis();
    for event in &events {
        sqlx::query("UPDATE outbox SET published_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&event.id)
            .execute(&mut *tx)
            .await?;
        metrics.event_published(&event.topic);
    }
    tx.commit().await?;
    Ok(events.len())
}
