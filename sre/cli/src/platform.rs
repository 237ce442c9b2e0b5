//! The embedded platform behind `ballast up`: every service deployed on the embedded
//! orchestrator, the gateway routing to their ready instances, and the loopback admin
//! listener, all in one process. Tests start it on port 0 exactly as `up` does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use ballast_kit::auth::Keys;
use ballast_kit::cache::CacheBackend;
use ballast_kit::events::EventBus;
use ballast_kit::events::log::LogBus;
use ballast_kit::service::{Environment, Service};
use ballast_kit::store::Store;
use ballast_metrics::{ScrapeConfig, Storage, StorageConfig, Target};
use ballast_orchestrator::{InstanceStatus, Orchestrator};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::BallastConfig;

/// Where the platform listens.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    /// The public gateway.
    pub gateway: SocketAddr,
    /// The admin listener (must be loopback).
    pub admin: SocketAddr,
    /// First port for instances (0: any free port).
    pub base_port: u16,
    /// The SRE suite's HTTP API (Prometheus-compatible `/api/v1/...` over the embedded store).
    pub sre: SocketAddr,
}

/// The admin account as seeded on this start.
#[derive(Debug, Clone)]
pub enum AdminSeed {
    /// Created now; the password is shown this once.
    Created {
        /// The email.
        email: String,
        /// The password (generated or configured).
        password: String,
        /// Whether it was generated.
        generated: bool,
    },
    /// It existed already.
    Existing {
        /// The email.
        email: String,
    },
}

/// A running embedded platform.
pub struct Platform {
    /// Where the gateway listens.
    pub gateway: SocketAddr,
    /// Where the admin listener listens.
    pub admin: SocketAddr,
    /// Where the SRE suite's HTTP API listens.
    pub sre: SocketAddr,
    /// The embedded time-series store the suite scrapes into.
    pub storage: Arc<Storage>,
    /// The orchestrator.
    pub orchestrator: Orchestrator,
    /// The admin account outcome of this start.
    pub admin_seed: AdminSeed,
    /// Products seeded on this start (0 when the catalog existed).
    pub seeded_products: u64,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// The services `ballast up` runs, in start order, configured from `config`.
pub fn services(config: &BallastConfig) -> Vec<Arc<dyn Service>> {
    vec![
        Arc::new(ballast_user::UserService),
        Arc::new(ballast_product::ProductService),
        Arc::new(ballast_inventory::InventoryService {
            config: config.inventory.clone(),
        }),
        Arc::new(ballast_payment::PaymentService {
            config: config.payment.clone(),
        }),
        Arc::new(ballast_order::OrderService {
            config: config.order.clone(),
        }),
        Arc::new(ballast_shipping::ShippingService {
            config: config.shipping.clone(),
        }),
        Arc::new(ballast_notification::NotificationService {
            config: config.notification.clone(),
            ..ballast_notification::NotificationService::default()
        }),
    ]
}

/// The event bus `config` asks for: Kafka, or the embedded log in the store.
pub async fn event_bus(config: &BallastConfig) -> anyhow::Result<Arc<dyn EventBus>> {
    Ok(match &config.bus.kafka {
        Some(kafka) => Arc::new(ballast_kafka::KafkaBus::connect(kafka).await?),
        None => {
            let store = Store::connect(&config.store, "bus", &config.data_dir).await?;
            Arc::new(LogBus::open(store).await?)
        }
    })
}

impl Platform {
    /// Migrates and seeds every service's database, deploys them, starts the gateway and the
    /// admin listener, and waits until every instance is ready (at most `ready_within`).
    pub async fn start(
        mut config: BallastConfig,
        addresses: Addresses,
        ready_within: Duration,
    ) -> anyhow::Result<Self> {
        ballast_kit::client::install_crypto_provider();
        if !addresses.admin.ip().is_loopback() {
            anyhow::bail!(
                "the admin listener must bind a loopback address, not {}",
                addresses.admin
            );
        }
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            anyhow::anyhow!("creating data directory {}: {e}", config.data_dir.display())
        })?;
        config
            .auth
            .ensure_local_keys(&config.data_dir.join("keys"))?;
        let keys = Arc::new(Keys::load(&config.auth)?);
        let bus = event_bus(&config).await?;
        let environment = Environment {
            data_dir: config.data_dir.clone(),
            store: config.store.clone(),
            keys: keys.clone(),
            bus,
        };

        let (admin_seed, seeded_products) = prepare_databases(&config, &environment).await?;

        let orchestrator = Orchestrator::new(
            config.orchestrator.clone(),
            environment,
            addresses.gateway.ip(),
            addresses.base_port,
        )?;
        for service in services(&config) {
            let name = service.name();
            let cache = cache_backend(&config, name).await?;
            orchestrator.register(service, cache);
            orchestrator.deploy(name, config.replicas(name), "v1")?;
        }
        let shutdown = CancellationToken::new();
        let mut tasks = vec![orchestrator.start()];

        let endpoints = endpoints_feed(&orchestrator, &shutdown, &mut tasks);
        let gateway_router =
            ballast_gateway::router(config.gateway.clone(), keys.clone(), endpoints).await?;
        let gateway_listener = tokio::net::TcpListener::bind(addresses.gateway)
            .await
            .map_err(|e| anyhow::anyhow!("binding the gateway to {}: {e}", addresses.gateway))?;
        let gateway = gateway_listener.local_addr()?;
        tasks.push(spawn_server(gateway_listener, gateway_router, &shutdown));

        let admin_listener = tokio::net::TcpListener::bind(addresses.admin)
            .await
            .map_err(|e| {
                anyhow::anyhow!("binding the admin listener to {}: {e}", addresses.admin)
            })?;
        let admin = admin_listener.local_addr()?;
        tasks.push(spawn_server(
            admin_listener,
            ballast_orchestrator::admin::router(orchestrator.clone()),
            &shutdown,
        ));

        let storage = Arc::new(Storage::open(StorageConfig {
            retention: config.metrics.retention,
            max_bytes: config.metrics.max_bytes,
            snapshot_path: Some(config.data_dir.join("metrics.snapshot")),
        })?);
        let sre_listener = tokio::net::TcpListener::bind(addresses.sre)
            .await
            .map_err(|e| anyhow::anyhow!("binding the SRE API to {}: {e}", addresses.sre))?;
        let sre = sre_listener.local_addr()?;
        let suite = crate::suite::start(&config, storage.clone(), &shutdown).await?;
        tasks.extend(suite.tasks);
        tasks.push(spawn_server(
            sre_listener,
            sre_router(storage.clone())?.merge(suite.router),
            &shutdown,
        ));
        let targets = targets_feed(&orchestrator, gateway, sre, &config, &shutdown, &mut tasks);
        tasks.push(ballast_metrics::spawn_scrape_manager(
            storage.clone(),
            targets,
            ScrapeConfig::default(),
            shutdown.clone(),
        ));
        tasks.push(spawn_snapshots(
            storage.clone(),
            config.metrics.snapshot_interval,
            &shutdown,
        ));

        if !orchestrator.wait_ready(ready_within).await {
            tracing::warn!(
                instances = ?orchestrator.instances(),
                "not every instance is ready yet; continuing"
            );
        }
        Ok(Self {
            gateway,
            admin,
            sre,
            storage,
            orchestrator,
            admin_seed,
            seeded_products,
            shutdown,
            tasks,
        })
    }

    /// Stops the gateway, the admin listener and every instance, gracefully.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.orchestrator.shutdown().await;
        for task in self.tasks {
            let _ = task.await;
        }
        if let Err(error) = self.storage.close() {
            tracing::error!(error = %error, "writing the metrics snapshot failed");
        }
    }
}

/// The suite's HTTP API: the Prometheus-compatible query API over the embedded store, and the
/// suite's own `/metrics` (store size, bytes per sample).
fn sre_router(storage: Arc<Storage>) -> anyhow::Result<axum::Router> {
    let registry = prometheus::Registry::new();
    storage.register_metrics(&registry)?;
    let metrics = axum::routing::get(move || {
        let registry = registry.clone();
        async move {
            let mut buffer = Vec::new();
            let encoded = prometheus::Encoder::encode(
                &prometheus::TextEncoder::new(),
                &registry.gather(),
                &mut buffer,
            );
            match encoded {
                Ok(()) => (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    buffer,
                )
                    .into_response(),
                Err(error) => ballast_kit::ApiError::Internal(error.into()).into_response(),
            }
        }
    });
    Ok(ballast_metrics::api_router(storage)
        .route("/metrics", metrics)
        .route(
            "/health/live",
            axum::routing::get(|| async { axum::Json(serde_json::json!({ "status": "live" })) }),
        ))
}

/// Scrape targets: every instance (job = service), the gateway, and the suite itself.
fn targets_feed(
    orchestrator: &Orchestrator,
    gateway: SocketAddr,
    sre: SocketAddr,
    config: &BallastConfig,
    shutdown: &CancellationToken,
    tasks: &mut Vec<JoinHandle<()>>,
) -> watch::Receiver<Vec<Target>> {
    let interval = config.metrics.scrape_interval;
    let timeout = config.metrics.scrape_timeout.min(interval);
    let build = move |instances: &[InstanceStatus]| {
        let mut targets: Vec<Target> = instances
            .iter()
            .map(|i| target(&i.service, &i.address, interval, timeout))
            .collect();
        targets.push(target("gateway", &gateway.to_string(), interval, timeout));
        targets.push(target("ballast-sre", &sre.to_string(), interval, timeout));
        targets
    };
    let mut instances = orchestrator.subscribe();
    let (tx, rx) = watch::channel(build(&instances.borrow()));
    let shutdown = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                changed = instances.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let next = build(&instances.borrow_and_update());
                    tx.send_if_modified(|current| {
                        let same = current.len() == next.len()
                            && current.iter().zip(&next).all(|(a, b)| a.url == b.url && a.job == b.job);
                        if !same {
                            *current = next;
                        }
                        !same
                    });
                }
            }
        }
    }));
    rx
}

fn target(service: &str, address: &str, interval: Duration, timeout: Duration) -> Target {
    let mut target = Target::new(service, address, &format!("http://{address}/metrics"));
    target.labels.insert("service".into(), service.into());
    target.interval = interval;
    target.timeout = timeout;
    target
}

/// Snapshots the store every `interval`, so even a killed process loses at most that much.
fn spawn_snapshots(
    storage: Arc<Storage>,
    interval: Duration,
    shutdown: &CancellationToken,
) -> JoinHandle<()> {
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(interval.max(Duration::from_secs(1))) => {
                    let storage = storage.clone();
                    let written = tokio::task::spawn_blocking(move || storage.close()).await;
                    if !matches!(written, Ok(Ok(()))) {
                        tracing::warn!("periodic metrics snapshot failed");
                    }
                }
            }
        }
    })
}

/// Migrates every service's database and seeds the catalog and the admin account.
async fn prepare_databases(
    config: &BallastConfig,
    environment: &Environment,
) -> anyhow::Result<(AdminSeed, u64)> {
    let mut admin_seed = None;
    let mut seeded_products = 0u64;
    for service in services(config) {
        let name = service.name();
        let store = Store::connect(&environment.store, name, &environment.data_dir).await?;
        ballast_kit::service::migrate(&store, service.as_ref()).await?;
        match name {
            "user" => {
                let email = config.admin.email.clone();
                let (password, generated) = match &config.admin.password {
                    Some(secret) => (secret.expose().to_owned(), false),
                    None => (ballast_user::generate_password(), true),
                };
                admin_seed = Some(
                    match ballast_user::ensure_admin(&store, &email, &password).await? {
                        ballast_user::AdminSeed::Created => AdminSeed::Created {
                            email,
                            password,
                            generated,
                        },
                        ballast_user::AdminSeed::AlreadyExists => AdminSeed::Existing { email },
                    },
                );
            }
            "product" => {
                seeded_products = ballast_product::seed_catalog(&store).await?.products;
            }
            _ => {}
        }
        store.close().await;
    }
    let admin_seed =
        admin_seed.ok_or_else(|| anyhow::anyhow!("the user service is not deployed"))?;
    Ok((admin_seed, seeded_products))
}

async fn cache_backend(
    config: &BallastConfig,
    service: &str,
) -> anyhow::Result<Arc<dyn CacheBackend>> {
    let mut cache = config.cache.clone();
    cache.key_prefix = format!("{}{service}:", cache.key_prefix);
    ballast_kit::cache::backend(&cache).await
}

/// Feeds the gateway the orchestrator's instances as endpoints, on every change.
fn endpoints_feed(
    orchestrator: &Orchestrator,
    shutdown: &CancellationToken,
    tasks: &mut Vec<JoinHandle<()>>,
) -> watch::Receiver<ballast_gateway::Endpoints> {
    let mut instances = orchestrator.subscribe();
    let (tx, rx) = watch::channel(to_endpoints(&instances.borrow()));
    let shutdown = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                changed = instances.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let endpoints = to_endpoints(&instances.borrow_and_update());
                    let _ = tx.send(endpoints);
                }
            }
        }
    }));
    rx
}

fn to_endpoints(instances: &[InstanceStatus]) -> ballast_gateway::Endpoints {
    let mut endpoints = ballast_gateway::Endpoints::new();
    for instance in instances {
        endpoints
            .entry(instance.service.clone())
            .or_default()
            .push(ballast_gateway::Endpoint {
                instance: instance.name.clone(),
                url: format!("http://{}", instance.address),
                ready: instance.ready,
            });
    }
    endpoints
}

fn spawn_server(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: &CancellationToken,
) -> JoinHandle<()> {
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        ballast_kit::server::serve(
            listener,
            router,
            shutdown,
            CancellationToken::new(),
            Duration::from_secs(5),
        )
        .await;
    })
}
