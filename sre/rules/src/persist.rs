//! Alert states persisted through the kit's [`Store`] (SQLite or PostgreSQL), so a restarted
//! suite resumes every group where it was ([`crate::RuleEngine::resume`]): a firing alert
//! stays firing without waiting out its `for` again, a pending one keeps its `active_at`, and
//! one whose condition cleared while the suite was down resolves at the first evaluation.
//!
//! One row per group holds its [`GroupState`] as JSON. [`StateSaver`] writes a group only when
//! an alert appeared, changed state or went away, not on every evaluation.

use std::collections::BTreeMap;

use ballast_kit::store::{Migration, Store};
use sqlx::Row;

use crate::alert::AlertState;
use crate::group::GroupState;

/// The service name the migrations are recorded under.
pub const MIGRATION_SERVICE: &str = "rules";

/// The state table.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    1,
    "rule_group_state",
    "CREATE TABLE IF NOT EXISTS rule_group_state (
        group_name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    )",
)];

/// Why reading or writing states failed.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// The store failed.
    #[error("rule states: {0}")]
    Store(#[from] sqlx::Error),
    /// Migrating failed.
    #[error("rule states migration: {0}")]
    Migrate(String),
    /// A stored row is not a group state.
    #[error("rule states: group {group}: {reason}")]
    Corrupt {
        /// The group.
        group: String,
        /// Why it does not decode.
        reason: String,
    },
}

/// Creates the table (idempotent).
pub async fn migrate(store: &Store) -> Result<(), PersistError> {
    store
        .migrate(MIGRATION_SERVICE, MIGRATIONS)
        .await
        .map_err(|e| PersistError::Migrate(format!("{e:#}")))
}

/// Every saved group state.
pub async fn load(store: &Store) -> Result<Vec<GroupState>, PersistError> {
    let rows = sqlx::query("SELECT group_name, state FROM rule_group_state ORDER BY group_name")
        .fetch_all(store.pool())
        .await?;
    rows.iter()
        .map(|row| {
            let group: String = row.try_get("group_name")?;
            let text: String = row.try_get("state")?;
            serde_json::from_str(&text).map_err(|e| PersistError::Corrupt {
                group,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Writes `states` (one row per group), in one transaction.
pub async fn save(store: &Store, states: &[GroupState]) -> Result<(), PersistError> {
    if states.is_empty() {
        return Ok(());
    }
    let now = ballast_kit::store::now_millis();
    let mut tx = store.pool().begin().await?;
    for state in states {
        let text = serde_json::to_string(state).map_err(|e| PersistError::Corrupt {
            group: state.group.clone(),
            reason: e.to_string(),
        })?;
        sqlx::query(
            "INSERT INTO rule_group_state (group_name, state, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (group_name) DO UPDATE SET state = excluded.state,
               updated_at = excluded.updated_at",
        )
        .bind(&state.group)
        .bind(text)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What decides whether a group's state is worth writing: its alerts' identities, states and
/// transition times (values and annotations change on every evaluation and are not).
type Shape = Vec<(
    BTreeMap<String, String>,
    AlertState,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
)>;

fn shape(state: &GroupState) -> Shape {
    state
        .rules
        .iter()
        .flat_map(|r| &r.alerts)
        .map(|a| {
            (
                a.labels.clone(),
                a.state,
                a.active_at,
                a.fired_at,
                a.resolved_at,
                a.keep_firing_since,
            )
        })
        .collect()
}

/// Saves group states when they change shape (see [`Shape`]).
#[derive(Debug, Default)]
pub struct StateSaver {
    saved: BTreeMap<String, Shape>,
}

impl StateSaver {
    /// A saver that knows `states` are already stored (what [`load`] returned).
    pub fn new(states: &[GroupState]) -> Self {
        Self {
            saved: states.iter().map(|s| (s.group.clone(), shape(s))).collect(),
        }
    }

    /// Writes the groups of `states` whose shape differs from what was last written; returns
    /// how many groups were written.
    pub async fn save_changed(
        &mut self,
        store: &Store,
        states: &[GroupState],
    ) -> Result<usize, PersistError> {
        let changed: Vec<GroupState> = states
            .iter()
            .filter(|s| self.saved.get(&s.group) != Some(&shape(s)))
            .cloned()
            .collect();
        save(store, &changed).await?;
        for s in &changed {
            self.saved.insert(s.group.clone(), shape(s));
        }
        Ok(changed.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::alert::ActiveAlert;
    use crate::group::RuleState;

    /// SQLite in `dir`, or a fresh PostgreSQL database with `BALLAST_TEST_STORE=postgres`.
    async fn test_store(dir: &std::path::Path) -> Store {
        Store::connect(&ballast_kit::testing::store_config(), "suite", dir)
            .await
            .unwrap()
    }

    fn state(group: &str, alert_state: AlertState, value: f64) -> GroupState {
        GroupState {
            group: group.into(),
            rules: vec![RuleState {
                alert: "HighErrorRate".into(),
                index: 0,
                alerts: vec![ActiveAlert {
                    labels: BTreeMap::from([
                        ("alertname".into(), "HighErrorRate".into()),
                        ("service".into(), "order".into()),
                    ]),
                    annotations: BTreeMap::from([("summary".into(), format!("{value}"))]),
                    state: alert_state,
                    active_at: 1_000,
                    fired_at: (alert_state == AlertState::Firing).then_some(61_000),
                    resolved_at: None,
                    value,
                    keep_firing_since: None,
                }],
            }],
        }
    }

    #[tokio::test]
    async fn states_survive_a_reopened_store_and_only_changes_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = test_store(dir.path()).await;
        migrate(&store).await.unwrap();
        migrate(&store).await.unwrap();
        assert!(load(&store).await.unwrap().is_empty());

        let mut saver = StateSaver::default();
        let pending = state("service-errors", AlertState::Pending, 0.2);
        assert_eq!(
            saver
                .save_changed(&store, std::slice::from_ref(&pending))
                .await
                .unwrap(),
            1
        );
        // A new value alone is not a change worth a write.
        let same_shape = state("service-errors", AlertState::Pending, 0.3);
        assert_eq!(saver.save_changed(&store, &[same_shape]).await.unwrap(), 0);
        let firing = state("service-errors", AlertState::Firing, 0.4);
        assert_eq!(
            saver
                .save_changed(&store, std::slice::from_ref(&firing))
                .await
                .unwrap(),
            1
        );

        let loaded = load(&store).await.unwrap();
        assert_eq!(loaded, vec![firing.clone()]);
        // A saver built from what was loaded writes nothing until something changes.
        let mut resumed = StateSaver::new(&loaded);
        assert_eq!(resumed.save_changed(&store, &[firing]).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_corrupt_row_is_an_error_naming_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let store = test_store(dir.path()).await;
        migrate(&store).await.unwrap();
        sqlx::query(
            "INSERT INTO rule_group_state (group_name, state, updated_at) VALUES ($1, $2, $3)",
        )
        .bind("broken")
        .bind("{not json")
        .bind(0_i64)
        .execute(store.pool())
        .await
        .unwrap();
        let error = load(&store).await.unwrap_err().to_string();
        assert!(error.contains("group broken"), "{error}");
    }
}
