//! A read-through cache: in-memory by default, Redis when `cache.redis_url` is set.
//!
//! [`Cache`] counts hits and misses into the instance's metrics; the backends sit behind
//! [`CacheBackend`], one trait with two real implementations.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;

/// Cache configuration (`[cache]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `redis://host:port/db`; unset means an in-memory cache per instance.
    pub redis_url: Option<crate::config::Secret>,
    /// Entries kept by the in-memory cache before the oldest are evicted.
    pub max_entries: usize,
    /// Prefix of every Redis key (so several installations can share one Redis).
    pub key_prefix: String,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            max_entries: 10_000,
            key_prefix: "ballast:".into(),
        }
    }
}

/// Where cached values live.
pub trait CacheBackend: Send + Sync {
    /// The value under `key`, if present and not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<String>>>;
    /// Stores `value` under `key` for `ttl`.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Duration,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Removes `key`.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// An in-process cache with per-entry expiry and a size bound.
pub struct MemoryBackend {
    entries: Mutex<HashMap<String, (Instant, String)>>,
    max_entries: usize,
}

impl MemoryBackend {
    /// An empty cache holding at most `max_entries`.
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max_entries: max_entries.max(1),
        }
    }
}

impl CacheBackend for MemoryBackend {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move {
            let mut entries = self.entries.lock();
            match entries.get(key) {
                Some((expires, value)) if *expires > Instant::now() => Ok(Some(value.clone())),
                Some(_) => {
                    entries.remove(key);
                    Ok(None)
                }
                None => Ok(None),
            }
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Duration,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut entries = self.entries.lock();
            if entries.len() >= self.max_entries {
                entries.retain(|_, (expires, _)| *expires > now);
                if entries.len() >= self.max_entries
                    && let Some(oldest) = entries
                        .iter()
                        .min_by_key(|(_, (expires, _))| *expires)
                        .map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
            entries.insert(key.to_owned(), (now + ttl, value));
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.entries.lock().remove(key);
            Ok(())
        })
    }
}

/// A Redis-backed cache shared by every instance that points at the same Redis.
pub struct RedisBackend {
    connection: redis::aio::ConnectionManager,
    prefix: String,
}

impl RedisBackend {
    /// Connects (and keeps reconnecting) to `url`.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("redis URL: {e}"))?;
        // Fail fast at start-up; once connected, the manager reconnects on its own.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_max_delay(Duration::from_secs(1));
        let connection = redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to Redis: {e}"))?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
        })
    }

    /// The connection, for other Redis-backed components (the gateway's rate limiter).
    pub fn connection(&self) -> redis::aio::ConnectionManager {
        self.connection.clone()
    }
}

impl CacheBackend for RedisBackend {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move {
            let mut conn = self.connection.clone();
            Ok(conn.get(format!("{}{key}", self.prefix)).await?)
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl: Duration,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let mut conn = self.connection.clone();
            let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let _: () = redis::cmd("SET")
                .arg(format!("{}{key}", self.prefix))
                .arg(value)
                .arg("PX")
                .arg(millis)
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let mut conn = self.connection.clone();
            let _: () = conn.del(format!("{}{key}", self.prefix)).await?;
            Ok(())
        })
    }
}

/// A cache that counts hits and misses; failures of the backend count as misses and are logged,
/// never surfaced, so a Redis outage degrades to the database instead of failing requests.
#[derive(Clone)]
pub struct Cache {
    backend: Arc<dyn CacheBackend>,
    metrics: Metrics,
}

impl Cache {
    /// Wraps a backend, counting into `metrics`.
    pub fn new(backend: Arc<dyn CacheBackend>, metrics: Metrics) -> Self {
        Self { backend, metrics }
    }

    /// The value under `key`, deserialized; `None` on a miss.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        let found = match self.backend.get(key).await {
            Ok(found) => found.and_then(|text| serde_json::from_str(&text).ok()),
            Err(error) => {
                tracing::warn!(key, error = format!("{error:#}"), "cache read failed");
                None
            }
        };
        self.metrics.cache_lookup(found.is_some());
        found
    }

    /// Stores `value` under `key` for `ttl`.
    pub async fn set<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) {
        let Ok(text) = serde_json::to_string(value) else {
            return;
        };
        if let Err(error) = self.backend.set(key, text, ttl).await {
            tracing::warn!(key, error = format!("{error:#}"), "cache write failed");
        }
    }

    /// Removes `key` (after a write, so readers do not see stale data).
    pub async fn invalidate(&self, key: &str) {
        if let Err(error) = self.backend.delete(key).await {
            tracing::warn!(
                key,
                error = format!("{error:#}"),
                "cache invalidation failed"
            );
        }
    }
}

/// Builds the backend that `config` asks for.
pub async fn backend(config: &CacheConfig) -> anyhow::Result<Arc<dyn CacheBackend>> {
    Ok(match &config.redis_url {
        Some(url) => Arc::new(RedisBackend::connect(url.expose(), &config.key_prefix).await?),
        None => Arc::new(MemoryBackend::new(config.max_entries)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_cache_counts_hits_and_misses_and_expires() {
        let metrics = Metrics::new("t").unwrap();
        let cache = Cache::new(Arc::new(MemoryBackend::new(10)), metrics.clone());
        assert_eq!(cache.get::<u32>("k").await, None);
        cache.set("k", &7_u32, Duration::from_secs(60)).await;
        assert_eq!(cache.get::<u32>("k").await, Some(7));
        cache.set("short", &1_u32, Duration::from_millis(1)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(cache.get::<u32>("short").await, None);
        cache.invalidate("k").await;
        assert_eq!(cache.get::<u32>("k").await, None);
        let text = metrics.render().unwrap();
        assert!(text.contains(r#"cache_requests_total{result="hit",service="t"} 1"#));
        assert!(text.contains(r#"cache_requests_total{result="miss",service="t"} 3"#));
    }

    #[tokio::test]
    async fn memory_cache_stays_within_its_bound() {
        let backend = MemoryBackend::new(3);
        for i in 0..10 {
            backend
                .set(&format!("k{i}"), "v".into(), Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert_eq!(backend.entries.lock().len(), 3);
    }
}
