//! A service's database: SQLite (one file per service) by default, PostgreSQL when a URL is
//! configured, through one pool type and one set of portable SQL.
//!
//! Portable SQL here means: `$1` placeholders (SQLite accepts them too), `BIGINT` for integers
//! and money in minor units, `TEXT` for ids and timestamps kept as Unix milliseconds in
//! `BIGINT`. Where the dialects differ (full-text search) a migration has one file per dialect,
//! and the code asks [`Store::dialect`].

use std::path::Path;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

/// Which SQL dialect a store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3 (embedded).
    Sqlite,
    /// PostgreSQL (distributed).
    Postgres,
}

/// Store configuration (`[store]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// PostgreSQL URL; `{service}` in it is replaced by the service name, so each service gets
    /// its own database (created when missing). Unset: SQLite files in the data directory.
    pub postgres_url: Option<crate::config::Secret>,
    /// Connections per instance pool.
    pub max_connections: u32,
    /// How long a request waits for a free connection.
    #[serde(with = "humantime_serde_compat")]
    pub acquire_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            postgres_url: None,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Serde for `Duration` as a humantime string (`"5s"`, `"250ms"`).
pub mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as `"5s"`.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    /// Parses `"5s"`, `"1m 30s"`, `"250ms"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// A migration: a version, a name, and its SQL (portable or one text per dialect).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Applied in ascending order, once.
    pub version: i64,
    /// Shown in logs and in the migrations table.
    pub name: &'static str,
    /// Portable SQL for both dialects.
    pub portable: Option<&'static str>,
    /// SQLite-only SQL (with `postgres`, replaces `portable`).
    pub sqlite: Option<&'static str>,
    /// PostgreSQL-only SQL.
    pub postgres: Option<&'static str>,
}

impl Migration {
    /// A migration whose SQL runs unchanged on both dialects.
    pub const fn portable(version: i64, name: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            name,
            portable: Some(sql),
            sqlite: None,
            postgres: None,
        }
    }

    /// A migration with one SQL text per dialect.
    pub const fn per_dialect(
        version: i64,
        name: &'static str,
        sqlite: &'static str,
        postgres: &'static str,
    ) -> Self {
        Self {
            version,
            name,
            portable: None,
            sqlite: Some(sqlite),
            postgres: Some(postgres),
        }
    }

    fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Sqlite => self.sqlite.or(self.portable).unwrap_or(""),
            Dialect::Postgres => self.postgres.or(self.portable).unwrap_or(""),
        }
    }
}

/// A connection pool to one service's database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    max_connections: u32,
}

static DRIVERS: Once = Once::new();

impl Store {
    /// Connects `service`'s database as configured: PostgreSQL when `config.postgres_url` is
    /// set (creating the database when missing), otherwise `data_dir/<service>.db`.
    pub async fn connect(
        config: &StoreConfig,
        service: &str,
        data_dir: &Path,
    ) -> anyhow::Result<Self> {
        match &config.postgres_url {
            Some(url) => {
                let url = url.expose().replace("{service}", service);
                ensure_postgres_database(&url).await?;
                Self::open(&url, config).await
            }
            None => {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    anyhow::anyhow!("creating data directory {}: {e}", data_dir.display())
                })?;
                let file = data_dir.join(format!("{service}.db"));
                Self::open(&format!("sqlite://{}?mode=rwc", file.display()), config).await
            }
        }
    }

    /// Opens a pool on a `sqlite:` or `postgres:` URL.
    pub async fn open(url: &str, config: &StoreConfig) -> anyhow::Result<Self> {
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else {
            anyhow::bail!("store URL must start with sqlite: or postgres:");
        };
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("invalid store URL: {e}"))?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = AnyPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to the {dialect:?} store: {e}"))?;
        Ok(Self {
            pool,
            dialect,
            max_connections: config.max_connections,
        })
    }

    /// The pool, for queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The dialect, for the few statements that differ.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Connections checked out now, and the pool's maximum.
    pub fn pool_usage(&self) -> (u32, u32) {
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        (self.pool.size().saturating_sub(idle), self.max_connections)
    }

    /// Answers when the database answers a trivial query.
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Applies the migrations of `service` not applied yet, each in its own transaction.
    /// On PostgreSQL an advisory lock keeps concurrent replicas from racing.
    pub async fn migrate(&self, service: &str, migrations: &[Migration]) -> anyhow::Result<()> {
        let mut conn = self.pool.acquire().await?;
        conn.execute(
            "CREATE TABLE IF NOT EXISTS ballast_migrations (
                service TEXT NOT NULL,
                version BIGINT NOT NULL,
                name TEXT NOT NULL,
                applied_at BIGINT NOT NULL,
                PRIMARY KEY (service, version)
            )",
        )
        .await?;
        let lock_key = i64::from(crc32(service.as_bytes()));
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(lock_key)
                .execute(&mut *conn)
                .await?;
        }
        let result = async {
            let mut sorted = migrations.to_vec();
            sorted.sort_by_key(|m| m.version);
            for migration in sorted {
                let applied: Option<i64> = sqlx::query_scalar(
                    "SELECT version FROM ballast_migrations WHERE service = $1 AND version = $2",
                )
                .bind(service)
                .bind(migration.version)
                .fetch_optional(&mut *conn)
                .await?;
                if applied.is_some() {
                    continue;
                }
                let mut tx = conn.begin().await?;
                sqlx::raw_sql(migration.sql(self.dialect))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "migration {} ({}) of {service}: {e}",
                            migration.version,
                            migration.name
                        )
                    })?;
                sqlx::query(
                    "INSERT INTO ballast_migrations (service, version, name, applied_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(service)
                .bind(migration.version)
                .bind(migration.name)
                .bind(now_millis())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                tracing::info!(service, version = migration.version, name = migration.name, "migration applied");
            }
            anyhow::Ok(())
        }
        .await;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(lock_key)
                .execute(&mut *conn)
                .await?;
        }
        result
    }

    /// Closes the pool, waiting for checked-out connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates the database named in a PostgreSQL URL when it does not exist.
async fn ensure_postgres_database(url: &str) -> anyhow::Result<()> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("invalid PostgreSQL URL: {e}"))?;
    let Some(database) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let maintenance = options.database("postgres");
    let mut conn = sqlx::postgres::PgConnection::connect_with(&maintenance)
        .await
        .map_err(|e| anyhow::anyhow!("connecting to PostgreSQL: {e}"))?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&database)
        .fetch_optional(&mut conn)
        .await?;
    if exists.is_none() {
        let quoted = database.replace('"', "\"\"");
        let statement = format!("CREATE DATABASE \"{quoted}\"");
        match sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
        {
            Ok(_) => tracing::info!(database, "created PostgreSQL database"),
            // Another replica created it between our check and our CREATE.
            // (42P04, or 23505 when both CREATEs reach the catalog at once.)
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P04") | Some("23505")) => {}
            Err(e) => return Err(anyhow::anyhow!("creating database {database}: {e}")),
        }
    }
    conn.close().await?;
    Ok(())
}

/// Milliseconds since the Unix epoch, the portable timestamp of every table.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Formats Unix milliseconds as RFC 3339 for API responses.
pub fn millis_to_rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATIONS: &[Migration] = &[
        Migration::portable(
            1,
            "things",
            "CREATE TABLE things (id TEXT PRIMARY KEY, price BIGINT NOT NULL);",
        ),
        Migration::per_dialect(
            2,
            "dialect",
            "CREATE TABLE only_sqlite (x BIGINT);",
            "CREATE TABLE only_postgres (x BIGINT);",
        ),
    ];

    #[tokio::test]
    async fn sqlite_migrations_apply_once_and_portable_sql_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&StoreConfig::default(), "things", dir.path())
            .await
            .unwrap();
        assert!(dir.path().join("things.db").exists());
        store.migrate("things", MIGRATIONS).await.unwrap();
        store.migrate("things", MIGRATIONS).await.unwrap();
        sqlx::query("INSERT INTO things (id, price) VALUES ($1, $2)")
            .bind("a")
            .bind(1999_i64)
            .execute(store.pool())
            .await
            .unwrap();
        let price: i64 = sqlx::query_scalar("SELECT price FROM things WHERE id = $1")
            .bind("a")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(price, 1999);
        sqlx::query("SELECT x FROM only_sqlite")
            .execute(store.pool())
            .await
            .unwrap();
        store.ping().await.unwrap();
    }

    #[test]
    fn crc32_matches_the_reference_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
