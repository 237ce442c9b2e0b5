//! The embedded event bus: a durable append-only log per topic in its own database (SQLite
//! `bus.db` in the data directory, or a `bus` database on PostgreSQL), with committed offsets
//! per consumer group, shared by every instance in the process.
//!
//! Like a Kafka topic with one partition: a group is consumed by the one member holding the
//! group's lease (renewed while it reads, expiring `lease_ttl` after its holder stops), so
//! events of a topic are delivered in order, and two members never handle events of the same
//! key from two topics at once; a new holder resumes from the last acknowledgement. Publishers wake waiting subscribers at once; subscribers also poll.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::Notify;

use super::{Delivery, Event, EventBus, Subscription};
use crate::store::{Dialect, Migration, Store, now_millis};

/// The log's tables.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "event log",
    "CREATE TABLE IF NOT EXISTS bus_log (
        topic TEXT NOT NULL,
        position BIGINT NOT NULL,
        id TEXT NOT NULL,
        event TEXT NOT NULL,
        appended_at BIGINT NOT NULL,
        PRIMARY KEY (topic, position)
    );
    CREATE TABLE IF NOT EXISTS bus_offsets (
        group_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        committed BIGINT NOT NULL,
        PRIMARY KEY (group_id, topic)
    );
    CREATE TABLE IF NOT EXISTS bus_leases (
        group_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        holder TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (group_id, topic)
    );",
)];

/// The embedded bus. Cheap to clone; every clone shares the log and the wake-ups.
#[derive(Clone)]
pub struct LogBus {
    store: Store,
    appended: Arc<Notify>,
    lease_ttl: Duration,
    poll: Duration,
}

impl LogBus {
    /// Opens (and migrates) the log in `store`.
    pub async fn open(store: Store) -> anyhow::Result<Self> {
        store.migrate("bus", MIGRATIONS).await?;
        Ok(Self {
            store,
            appended: Arc::new(Notify::new()),
            lease_ttl: Duration::from_secs(5),
            poll: Duration::from_millis(250),
        })
    }

    /// Sets how long a stopped member keeps its topics before another takes over.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Every event of `topic` in order (for tests and `ballast verify`).
    pub async fn read_all(&self, topic: &str) -> anyhow::Result<Vec<Event>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT event FROM bus_log WHERE topic = $1 ORDER BY position")
                .bind(topic)
                .fetch_all(self.store.pool())
                .await?;
        rows.into_iter()
            .map(|(text,)| Ok(serde_json::from_str(&text)?))
            .collect()
    }

    async fn append(&self, events: &[Event]) -> anyhow::Result<()> {
        let mut tx = match self.store.dialect() {
            Dialect::Sqlite => self.store.pool().begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => {
                let mut tx = self.store.pool().begin().await?;
                sqlx::query("LOCK TABLE bus_log IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        let now = now_millis();
        for event in events {
            let next: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(MAX(position), 0) + 1 AS BIGINT) FROM bus_log WHERE topic = $1",
            )
            .bind(&event.topic)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO bus_log (topic, position, id, event, appended_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&event.topic)
            .bind(next)
            .bind(&event.id)
            .bind(serde_json::to_string(event)?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.appended.notify_waiters();
        Ok(())
    }

    async fn committed(&self, group: &str, topic: &str) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT committed FROM bus_offsets WHERE group_id = $1 AND topic = $2",
        )
        .bind(group)
        .bind(topic)
        .fetch_optional(self.store.pool())
        .await?
        .unwrap_or(0))
    }

    /// Takes or renews the lease of `group` on `topic` for `holder`; true when held.
    async fn lease(&self, group: &str, topic: &str, holder: &str) -> anyhow::Result<bool> {
        let now = now_millis();
        let expires = now + i64::try_from(self.lease_ttl.as_millis()).unwrap_or(5000);
        let updated = sqlx::query(
            "UPDATE bus_leases SET holder = $1, expires_at = $2
             WHERE group_id = $3 AND topic = $4 AND (holder = $1 OR expires_at < $5)",
        )
        .bind(holder)
        .bind(expires)
        .bind(group)
        .bind(topic)
        .bind(now)
        .execute(self.store.pool())
        .await?
        .rows_affected();
        if updated == 1 {
            return Ok(true);
        }
        let inserted = sqlx::query(
            "INSERT INTO bus_leases (group_id, topic, holder, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (group_id, topic) DO NOTHING",
        )
        .bind(group)
        .bind(topic)
        .bind(holder)
        .bind(expires)
        .execute(self.store.pool())
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn release(&self, group: &str, holder: &str) {
        let _ = sqlx::query("DELETE FROM bus_leases WHERE group_id = $1 AND holder = $2")
            .bind(group)
            .bind(holder)
            .execute(self.store.pool())
            .await;
    }
}

impl EventBus for LogBus {
    fn publish<'a>(&'a self, events: &'a [Event]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(self.append(events))
    }

    fn subscribe<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Subscription>>> {
        Box::pin(async move {
            let subscription: Box<dyn Subscription> = Box::new(LogSubscription {
                bus: self.clone(),
                group: group.to_owned(),
                topics: topics.to_vec(),
                holder: uuid::Uuid::new_v4().to_string(),
                cursor: BTreeMap::new(),
                renewed: None,
                buffer: std::collections::VecDeque::new(),
                next_topic: 0,
            });
            Ok(subscription)
        })
    }

    fn lag<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<BTreeMap<String, i64>>> {
        Box::pin(async move {
            let mut lags = BTreeMap::new();
            for topic in topics {
                let head: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(MAX(position), 0) AS BIGINT) FROM bus_log WHERE topic = $1",
                )
                .bind(topic)
                .fetch_one(self.store.pool())
                .await?;
                let committed = self.committed(group, topic).await?;
                lags.insert(topic.clone(), (head - committed).max(0));
            }
            Ok(lags)
        })
    }

    fn ping(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(self.store.ping())
    }
}

struct LogSubscription {
    bus: LogBus,
    group: String,
    topics: Vec<String>,
    holder: String,
    /// The last position handed out per topic (not yet acknowledged, perhaps).
    cursor: BTreeMap<String, i64>,
    /// When the group's lease was last renewed (None: not held).
    renewed: Option<std::time::Instant>,
    /// Deliveries read ahead, in order, per the topics' round robin.
    buffer: std::collections::VecDeque<Delivery>,
    next_topic: usize,
}

/// The lease row that stands for a whole consumer group.
const GROUP_LEASE: &str = "*";

/// Events read from the log in one query.
const READ_AHEAD: i64 = 64;

impl LogSubscription {
    /// Holds (or renews, when a third of its time has passed) the group's lease.
    async fn hold(&mut self) -> anyhow::Result<bool> {
        let fresh = self
            .renewed
            .is_some_and(|at| at.elapsed() < self.bus.lease_ttl / 3);
        if fresh {
            return Ok(true);
        }
        if self
            .bus
            .lease(&self.group, GROUP_LEASE, &self.holder)
            .await?
        {
            self.renewed = Some(std::time::Instant::now());
            Ok(true)
        } else {
            // Another member holds the group: forget what we read ahead; it delivers that.
            self.renewed = None;
            self.cursor.clear();
            self.buffer.clear();
            Ok(false)
        }
    }

    async fn poll_once(&mut self) -> anyhow::Result<Option<Delivery>> {
        for _ in 0..self.topics.len() {
            let topic = self.topics[self.next_topic % self.topics.len()].clone();
            self.next_topic = self.next_topic.wrapping_add(1);
            if !self.hold().await? {
                return Ok(None);
            }
            let after = match self.cursor.get(&topic) {
                Some(position) => *position,
                None => self.bus.committed(&self.group, &topic).await?,
            };
            let rows: Vec<(i64, String)> = sqlx::query_as(
                "SELECT position, event FROM bus_log WHERE topic = $1 AND position > $2 ORDER BY position LIMIT $3",
            )
            .bind(&topic)
            .bind(after)
            .bind(READ_AHEAD)
            .fetch_all(self.bus.store.pool())
            .await?;
            if let Some((last, _)) = rows.last() {
                self.cursor.insert(topic.clone(), *last);
            }
            for (position, text) in rows {
                self.buffer.push_back(Delivery {
                    event: serde_json::from_str(&text)?,
                    partition: 0,
                    offset: position,
                });
            }
            if let Some(delivery) = self.buffer.pop_front() {
                return Ok(Some(delivery));
            }
        }
        Ok(None)
    }
}

impl Subscription for LogSubscription {
    fn next(&mut self) -> BoxFuture<'_, anyhow::Result<Delivery>> {
        Box::pin(async move {
            if self.topics.is_empty() {
                anyhow::bail!("a subscription needs at least one topic");
            }
            loop {
                if !self.buffer.is_empty() {
                    // Still ours? (Renews the lease when due; drops the read-ahead if lost.)
                    if self.hold().await?
                        && let Some(delivery) = self.buffer.pop_front()
                    {
                        return Ok(delivery);
                    }
                    continue;
                }
                let appended = self.bus.appended.clone();
                let woken = appended.notified();
                if let Some(delivery) = self.poll_once().await? {
                    return Ok(delivery);
                }
                let _ = tokio::time::timeout(self.bus.poll, woken).await;
            }
        })
    }

    fn ack<'a>(&'a mut self, delivery: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let updated = sqlx::query(
                "UPDATE bus_offsets SET committed = $1 WHERE group_id = $2 AND topic = $3 AND committed < $1",
            )
            .bind(delivery.offset)
            .bind(&self.group)
            .bind(&delivery.event.topic)
            .execute(self.bus.store.pool())
            .await?
            .rows_affected();
            if updated == 0 {
                sqlx::query(
                    "INSERT INTO bus_offsets (group_id, topic, committed) VALUES ($1, $2, $3)
                     ON CONFLICT (group_id, topic) DO NOTHING",
                )
                .bind(&self.group)
                .bind(&delivery.event.topic)
                .bind(delivery.offset)
                .execute(self.bus.store.pool())
                .await?;
            }
            Ok(())
        })
    }
}

impl Drop for LogSubscription {
    fn drop(&mut self) {
        // Hand the topics over now rather than after the lease expires.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let bus = self.bus.clone();
            let group = std::mem::take(&mut self.group);
            let holder = std::mem::take(&mut self.holder);
            runtime.spawn(async move { bus.release(&group, &holder).await });
        }
    }
}
