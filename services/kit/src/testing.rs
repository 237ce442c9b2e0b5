//! Test harness shared by every crate's integration tests: a fresh database per test on the
//! store the run selects, and a real instance on a loopback port.
//!
//! The store comes from `BALLAST_TEST_STORE`: `sqlite` (default, a file in a temporary
//! directory) or `postgres` (a new uuid-named database on `BALLAST_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). A PostgreSQL run whose server is missing
//! fails; it never falls back to SQLite. Redis tests use `BALLAST_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`) and fail likewise.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::auth::{AuthConfig, Keys, Role};
use crate::cache::MemoryBackend;
use crate::config::Secret;
use crate::service::{Environment, Service, ServiceContext, connect_instance};
use crate::store::StoreConfig;

/// Whether this test run uses PostgreSQL.
pub fn postgres_selected() -> bool {
    std::env::var("BALLAST_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The Redis URL tests use.
pub fn redis_url() -> String {
    std::env::var("BALLAST_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A store configuration for one test: a fresh PostgreSQL database (name prefixed
/// `ballast_test_`, `{service}` kept so each service gets its own) or SQLite in `dir`.
pub fn store_config() -> StoreConfig {
    let mut config = StoreConfig {
        max_connections: 5,
        ..StoreConfig::default()
    };
    if postgres_selected() {
        let base = std::env::var("BALLAST_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let (server, _) = base.rsplit_once('/').unwrap_or((base.as_str(), ""));
        let id = uuid::Uuid::new_v4().simple().to_string();
        config.postgres_url = Some(Secret::new(format!(
            "{server}/ballast_test_{}_{{service}}",
            &id[..12]
        )));
    }
    config
}

/// Token keys with a signing key, in `dir`.
pub fn keys(dir: &std::path::Path) -> Arc<Keys> {
    let mut config = AuthConfig::default();
    config
        .ensure_local_keys(&dir.join("keys"))
        .unwrap_or_else(|e| panic!("generating test keys: {e:#}"));
    Arc::new(Keys::load(&config).unwrap_or_else(|e| panic!("loading test keys: {e:#}")))
}

/// A fresh environment in `dir`: a new store (per the run's selection), keys, and an embedded
/// event bus in its own database.
pub async fn environment(dir: &std::path::Path) -> Environment {
    crate::client::install_crypto_provider();
    let store = store_config();
    let data_dir = dir.join("data");
    let bus_store = crate::store::Store::connect(&store, "bus", &data_dir)
        .await
        .unwrap_or_else(|e| panic!("connecting the bus store: {e:#}"));
    let bus = crate::events::log::LogBus::open(bus_store)
        .await
        .unwrap_or_else(|e| panic!("opening the bus: {e:#}"))
        .with_lease_ttl(Duration::from_secs(2));
    Environment {
        data_dir,
        store,
        keys: keys(dir),
        bus: Arc::new(bus),
    }
}

/// A running instance of a service for a test; stops when dropped.
pub struct TestInstance {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The instance's context (store, cache, metrics, faults).
    pub context: ServiceContext,
    /// The environment it was built from (reuse it for a second instance of the same service).
    pub environment: Environment,
    shutdown: CancellationToken,
    _dir: Arc<tempfile::TempDir>,
}

impl TestInstance {
    /// A token for a user with `roles`, signed with the instance's keys.
    pub fn token(&self, user_id: &str, roles: &[Role]) -> String {
        self.context
            .keys
            .issue(user_id, &format!("{user_id}@example.com"), roles)
            .unwrap_or_else(|e| panic!("issuing a test token: {e:#}"))
    }

    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for TestInstance {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts `service` on `127.0.0.1:0` with a fresh database (migrated) and fresh keys.
pub async fn spawn(service: Arc<dyn Service>) -> TestInstance {
    crate::client::install_crypto_provider();
    let dir = Arc::new(tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")));
    let environment = environment(dir.path()).await;
    spawn_in(service, environment, dir).await
}

/// Starts another instance of `service` in an existing environment (same database and keys).
pub async fn spawn_in(
    service: Arc<dyn Service>,
    environment: Environment,
    dir: Arc<tempfile::TempDir>,
) -> TestInstance {
    let context = connect_instance(
        service.as_ref(),
        format!("{}-test", service.name()),
        &environment,
        Arc::new(MemoryBackend::new(1000)),
    )
    .await
    .unwrap_or_else(|e| panic!("connecting {}: {e:#}", service.name()));
    crate::service::migrate(&context.store, service.as_ref())
        .await
        .unwrap_or_else(|e| panic!("migrating {}: {e:#}", service.name()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("binding: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local addr: {e}"));
    let shutdown = CancellationToken::new();
    {
        let context = context.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            crate::service::run_instance(
                service.as_ref(),
                context,
                listener,
                shutdown,
                Duration::from_secs(1),
            )
            .await
        });
    }
    TestInstance {
        url: format!("http://{addr}"),
        addr,
        context,
        environment,
        shutdown,
        _dir: dir,
    }
}
