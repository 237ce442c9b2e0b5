//! The dispatcher's persisted state through sqlx (portable SQL, SQLite or PostgreSQL):
//! alerts, aggregation groups, the notification log and its history, silences and
//! acknowledgements.

use std::collections::BTreeMap;

use ballast_kit::store::{Migration, Store};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::core::{Group, LogEntry, Silence};
use crate::error::AlertingError;
use crate::model::StoredAlert;

/// The migrations of the alerting tables (run them with `Store::migrate("alerting", ..)`).
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "alerting state",
    include_str!("../migrations/0001_alerting.sql"),
)];

/// An acknowledgement (or a resolution made in PagerDuty) of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The group.
    pub group_key: String,
    /// `acknowledged` or `resolved`.
    pub state: String,
    /// Who.
    pub by: String,
    /// `slack`, `pagerduty`, `api`.
    pub source: String,
    /// When (ms).
    pub at: i64,
}

/// One delivered notification, as the history records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentNotification {
    /// The group.
    pub group_key: String,
    /// The receiver.
    pub receiver: String,
    /// The integration (`slack:#c`, `pagerduty:0`, `webhook:url`, `console`).
    pub integration: String,
    /// `trigger`, `resolve`, `acknowledge`, `post`, `update`, ...
    pub action: String,
    /// The remote id.
    pub remote_id: Option<String>,
    /// When (ms).
    pub sent_at: i64,
}

/// Everything the dispatcher keeps, loaded at start.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Alerts by fingerprint.
    pub alerts: BTreeMap<String, StoredAlert>,
    /// Groups by key.
    pub groups: BTreeMap<String, Group>,
    /// The notification log by (group key, integration).
    pub nlog: BTreeMap<(String, String), LogEntry>,
    /// Silences.
    pub silences: Vec<Silence>,
    /// Acknowledgements by group key.
    pub acks: BTreeMap<String, Ack>,
}

/// The alerting tables of one store.
#[derive(Debug, Clone)]
pub struct AlertStore {
    store: Store,
}

fn json<T: Serialize>(value: &T) -> Result<String, AlertingError> {
    Ok(serde_json::to_string(value)?)
}

impl AlertStore {
    /// Wraps a store (migrated with [`MIGRATIONS`]).
    pub fn new(store: Store) -> Self {
        AlertStore { store }
    }

    /// Applies the migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.store.migrate("alerting", MIGRATIONS).await
    }

    /// Loads everything.
    pub async fn load(&self) -> Result<Snapshot, AlertingError> {
        let pool = self.store.pool();
        let mut snap = Snapshot::default();
        for row in sqlx::query("SELECT fingerprint, labels, annotations, starts_at, ends_at, ends_at_explicit, generator_url, updated_at FROM alerting_alerts")
            .fetch_all(pool)
            .await?
        {
            let a = StoredAlert {
                fingerprint: row.try_get(0)?,
                labels: serde_json::from_str(&row.try_get::<String, _>(1)?)?,
                annotations: serde_json::from_str(&row.try_get::<String, _>(2)?)?,
                starts_at: row.try_get(3)?,
                ends_at: row.try_get(4)?,
                ends_at_explicit: row.try_get::<i64, _>(5)? != 0,
                generator_url: row.try_get(6)?,
                updated_at: row.try_get(7)?,
            };
            snap.alerts.insert(a.fingerprint.clone(), a);
        }
        for row in sqlx::query("SELECT group_key, route_id, receiver, labels, members, created_at, next_flush_at, has_flushed FROM alerting_groups")
            .fetch_all(pool)
            .await?
        {
            let g = Group {
                key: row.try_get(0)?,
                route_id: row.try_get(1)?,
                receiver: row.try_get(2)?,
                labels: serde_json::from_str(&row.try_get::<String, _>(3)?)?,
                members: serde_json::from_str(&row.try_get::<String, _>(4)?)?,
                created_at: row.try_get(5)?,
                next_flush_at: row.try_get(6)?,
                has_flushed: row.try_get::<i64, _>(7)? != 0,
            };
            snap.groups.insert(g.key.clone(), g);
        }
        for row in sqlx::query(
            "SELECT group_key, integration, firing, resolved, sent_at, remote_id FROM alerting_nlog",
        )
        .fetch_all(pool)
        .await?
        {
            let e = LogEntry {
                firing: serde_json::from_str(&row.try_get::<String, _>(2)?)?,
                resolved: serde_json::from_str(&row.try_get::<String, _>(3)?)?,
                sent_at: row.try_get(4)?,
                remote_id: row.try_get(5)?,
            };
            snap.nlog.insert((row.try_get(0)?, row.try_get(1)?), e);
        }
        snap.silences = self.silences().await?;
        for row in sqlx::query("SELECT group_key, state, by_whom, source, at FROM alerting_acks")
            .fetch_all(pool)
            .await?
        {
            let a = Ack {
                group_key: row.try_get(0)?,
                state: row.try_get(1)?,
                by: row.try_get(2)?,
                source: row.try_get(3)?,
                at: row.try_get(4)?,
            };
            snap.acks.insert(a.group_key.clone(), a);
        }
        Ok(snap)
    }

    /// Inserts or replaces an alert.
    pub async fn put_alert(&self, a: &StoredAlert) -> Result<(), AlertingError> {
        sqlx::query(
            "INSERT INTO alerting_alerts (fingerprint, labels, annotations, starts_at, ends_at, ends_at_explicit, generator_url, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (fingerprint) DO UPDATE SET labels = excluded.labels, annotations = excluded.annotations,
               starts_at = excluded.starts_at, ends_at = excluded.ends_at, ends_at_explicit = excluded.ends_at_explicit,
               generator_url = excluded.generator_url, updated_at = excluded.updated_at",
        )
        .bind(&a.fingerprint)
        .bind(json(&a.labels)?)
        .bind(json(&a.annotations)?)
        .bind(a.starts_at)
        .bind(a.ends_at)
        .bind(i64::from(a.ends_at_explicit))
        .bind(&a.generator_url)
        .bind(a.updated_at)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Deletes an alert no group holds any more.
    pub async fn delete_alert(&self, fingerprint: &str) -> Result<(), AlertingError> {
        sqlx::query("DELETE FROM alerting_alerts WHERE fingerprint = $1")
            .bind(fingerprint)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Inserts or replaces a group.
    pub async fn put_group(&self, g: &Group) -> Result<(), AlertingError> {
        sqlx::query(
            "INSERT INTO alerting_groups (group_key, route_id, receiver, labels, members, created_at, next_flush_at, has_flushed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (group_key) DO UPDATE SET route_id = excluded.route_id, receiver = excluded.receiver,
               labels = excluded.labels, members = excluded.members, next_flush_at = excluded.next_flush_at,
               has_flushed = excluded.has_flushed",
        )
        .bind(&g.key)
        .bind(&g.route_id)
        .bind(&g.receiver)
        .bind(json(&g.labels)?)
        .bind(json(&g.members)?)
        .bind(g.created_at)
        .bind(g.next_flush_at)
        .bind(i64::from(g.has_flushed))
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Deletes a group that has no alerts left.
    pub async fn delete_group(&self, key: &str) -> Result<(), AlertingError> {
        sqlx::query("DELETE FROM alerting_groups WHERE group_key = $1")
            .bind(key)
            .execute(self.store.pool())
            .await?;
        sqlx::query("DELETE FROM alerting_acks WHERE group_key = $1")
            .bind(key)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Records a delivered notification: the log entry (for dedup) and a history row.
    pub async fn record_sent(
        &self,
        group_key: &str,
        integration: &str,
        entry: &LogEntry,
        sent: &SentNotification,
    ) -> Result<(), AlertingError> {
        let mut tx = self.store.pool().begin().await?;
        sqlx::query(
            "INSERT INTO alerting_nlog (group_key, integration, firing, resolved, sent_at, remote_id)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (group_key, integration) DO UPDATE SET firing = excluded.firing,
               resolved = excluded.resolved, sent_at = excluded.sent_at, remote_id = excluded.remote_id",
        )
        .bind(group_key)
        .bind(integration)
        .bind(json(&entry.firing)?)
        .bind(json(&entry.resolved)?)
        .bind(entry.sent_at)
        .bind(entry.remote_id.as_deref())
        .execute(&mut *tx)
        .await?;
        insert_history(&mut tx, sent).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a notification that does not change the dedup log (acknowledge, thread reply).
    pub async fn record_history(&self, sent: &SentNotification) -> Result<(), AlertingError> {
        let mut tx = self.store.pool().begin().await?;
        insert_history(&mut tx, sent).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The notification history of a group, oldest first.
    pub async fn history(&self, group_key: &str) -> Result<Vec<SentNotification>, AlertingError> {
        let rows = sqlx::query(
            "SELECT group_key, receiver, integration, action, remote_id, sent_at FROM alerting_notifications
             WHERE group_key = $1 ORDER BY sent_at, id",
        )
        .bind(group_key)
        .fetch_all(self.store.pool())
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(SentNotification {
                    group_key: row.try_get(0)?,
                    receiver: row.try_get(1)?,
                    integration: row.try_get(2)?,
                    action: row.try_get(3)?,
                    remote_id: row.try_get(4)?,
                    sent_at: row.try_get(5)?,
                })
            })
            .collect()
    }

    /// Inserts or replaces a silence.
    pub async fn put_silence(&self, s: &Silence) -> Result<(), AlertingError> {
        sqlx::query(
            "INSERT INTO alerting_silences (id, matchers, starts_at, ends_at, created_by, comment, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at,
               ends_at = excluded.ends_at, created_by = excluded.created_by, comment = excluded.comment,
               updated_at = excluded.updated_at",
        )
        .bind(&s.id)
        .bind(json(&s.matchers)?)
        .bind(s.starts_at)
        .bind(s.ends_at)
        .bind(&s.created_by)
        .bind(&s.comment)
        .bind(s.updated_at)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Every silence, newest first.
    pub async fn silences(&self) -> Result<Vec<Silence>, AlertingError> {
        let rows = sqlx::query(
            "SELECT id, matchers, starts_at, ends_at, created_by, comment, updated_at FROM alerting_silences ORDER BY updated_at DESC, id",
        )
        .fetch_all(self.store.pool())
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(Silence {
                    id: row.try_get(0)?,
                    matchers: serde_json::from_str(&row.try_get::<String, _>(1)?)?,
                    starts_at: row.try_get(2)?,
                    ends_at: row.try_get(3)?,
                    created_by: row.try_get(4)?,
                    comment: row.try_get(5)?,
                    updated_at: row.try_get(6)?,
                })
            })
            .collect()
    }

    /// Inserts or replaces an acknowledgement.
    pub async fn put_ack(&self, a: &Ack) -> Result<(), AlertingError> {
        sqlx::query(
            "INSERT INTO alerting_acks (group_key, state, by_whom, source, at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (group_key) DO UPDATE SET state = excluded.state, by_whom = excluded.by_whom,
               source = excluded.source, at = excluded.at",
        )
        .bind(&a.group_key)
        .bind(&a.state)
        .bind(&a.by)
        .bind(&a.source)
        .bind(a.at)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }
}

async fn insert_history(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sent: &SentNotification,
) -> Result<(), AlertingError> {
    sqlx::query(
        "INSERT INTO alerting_notifications (id, group_key, receiver, integration, action, remote_id, sent_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&sent.group_key)
    .bind(&sent.receiver)
    .bind(&sent.integration)
    .bind(&sent.action)
    .bind(sent.remote_id.as_deref())
    .bind(sent.sent_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
