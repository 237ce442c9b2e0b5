//! Idempotent consumers: each delivery is handled in one database transaction that also
//! records its event id in `processed_events`, so a redelivered event has no second effect.
//! A handler that keeps failing is retried with backoff `max_attempts` times; then the event
//! goes to the topic's dead-letter topic (counted in `bus_dead_letters_total`) and the
//! consumer moves on. Consumer lag is exported as `bus_consumer_lag{group,topic}`.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::AnyConnection;

use super::{Event, EventBus, dead_letter_topic};
use crate::metrics::Metrics;
use crate::store::{Store, now_millis};

/// What a consumer does with one event, inside the transaction that records it processed.
/// Events it emits go to the outbox on the same connection ([`super::outbox::enqueue`]).
pub trait Handler: Send + Sync + 'static {
    /// Handles `event`; an error rolls the transaction back and the event is retried.
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// A consumer's settings.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// Consumer group (one per service and purpose, e.g. `inventory`).
    pub group: String,
    /// Topics it reads.
    pub topics: Vec<String>,
    /// Attempts before an event is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    pub backoff: Duration,
}

impl Consumer {
    /// A consumer with 5 attempts and a 100 ms first backoff.
    pub fn new(group: &str, topics: &[&str]) -> Self {
        Self {
            group: group.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            max_attempts: 5,
            backoff: Duration::from_millis(100),
        }
    }
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handled now.
    Processed,
    /// Seen before; skipped.
    Duplicate,
    /// Failed every attempt; sent to the dead-letter topic.
    DeadLettered,
}

/// Runs `consumer` until an error of the bus itself (the caller restarts it).
pub async fn run(
    consumer: Consumer,
    store: Store,
    bus: Arc<dyn EventBus>,
    metrics: Metrics,
    handler: Arc<dyn Handler>,
) -> anyhow::Result<()> {
    let lag_task = tokio::spawn(report_lag(consumer.clone(), bus.clone(), metrics.clone()));
    let _abort_lag = AbortOnDrop(lag_task);
    let mut subscription = bus.subscribe(&consumer.group, &consumer.topics).await?;
    loop {
        let delivery = subscription.next().await?;
        let outcome = process(
            &consumer,
            &store,
            bus.as_ref(),
            handler.as_ref(),
            &delivery.event,
        )
        .await?;
        metrics.event_consumed(&consumer.group, &delivery.event.topic, outcome);
        subscription.ack(&delivery).await?;
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Handles one event with retries, deduplication and dead-lettering. Errors only when the
/// dead-letter publish itself fails (the event is then redelivered later).
pub async fn process(
    consumer: &Consumer,
    store: &Store,
    bus: &dyn EventBus,
    handler: &dyn Handler,
    event: &Event,
) -> anyhow::Result<Outcome> {
    let mut last_error = None;
    for attempt in 1..=consumer.max_attempts.max(1) {
        match attempt_once(consumer, store, handler, event).await {
            Ok(outcome) => return Ok(outcome),
            Err(error) => {
                tracing::warn!(
                    group = consumer.group,
                    event_id = event.id,
                    kind = event.kind,
                    attempt,
                    error = format!("{error:#}"),
                    "handling an event failed"
                );
                last_error = Some(error);
                if attempt < consumer.max_attempts {
                    tokio::time::sleep(consumer.backoff * 2u32.saturating_pow(attempt - 1)).await;
                }
            }
        }
    }
    let mut dead = event.clone();
    dead.topic = dead_letter_topic(&event.topic);
    if let serde_json::Value::Object(map) = &mut dead.payload {
        map.insert(
            "_dead_letter".into(),
            serde_json::json!({
                "group": consumer.group,
                "error": last_error.map(|e| format!("{e:#}")).unwrap_or_default(),
                "attempts": consumer.max_attempts,
            }),
        );
    }
    bus.publish(std::slice::from_ref(&dead)).await?;
    tracing::error!(
        group = consumer.group,
        event_id = event.id,
        kind = event.kind,
        topic = dead.topic,
        "event dead-lettered"
    );
    Ok(Outcome::DeadLettered)
}

async fn attempt_once(
    consumer: &Consumer,
    store: &Store,
    handler: &dyn Handler,
    event: &Event,
) -> anyhow::Result<Outcome> {
    // On SQLite take the write lock up front: a deferred transaction that reads first and
    // writes later fails with SQLITE_BUSY when another writer got in between.
    let mut tx = match store.dialect() {
        crate::store::Dialect::Sqlite => store.pool().begin_with("BEGIN IMMEDIATE").await?,
        crate::store::Dialect::Postgres => store.pool().begin().await?,
    };
    let seen: Option<i64> = sqlx::query_scalar(
        "SELECT processed_at FROM processed_events WHERE consumer = $1 AND event_id = $2",
    )
    .bind(&consumer.group)
    .bind(&event.id)
    .fetch_optional(&mut *tx)
    .await?;
    if seen.is_some() {
        tx.rollback().await?;
        return Ok(Outcome::Duplicate);
    }
    handler.handle(event, &mut tx).await?;
    // The primary key makes a concurrent second processing fail here and roll back.
    sqlx::query(
        "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, $3)",
    )
    .bind(&consumer.group)
    .bind(&event.id)
    .bind(now_millis())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Outcome::Processed)
}

async fn report_lag(consumer: Consumer, bus: Arc<dyn EventBus>, metrics: Metrics) {
    loop {
        match bus.lag(&consumer.group, &consumer.topics).await {
            Ok(lags) => {
                for (topic, lag) in lags {
                    metrics.set_consumer_lag(&consumer.group, &topic, lag);
                }
            }
            Err(error) => {
                tracing::debug!(error = format!("{error:#}"), "reading consumer lag failed")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
