//! `ballast serve <service>`: one role per process, as a container runs it. A domain service
//! instance migrates its database (under a lock) and serves with its outbox relay and
//! consumers; the gateway routes to the upstream addresses it is given (Kubernetes Services).

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::auth::Keys;
use ballast_kit::config::EnvSource;
use ballast_kit::service::{Environment, connect_instance, run_instance};
use ballast_kit::telemetry::{self, LogFormat};
use tokio_util::sync::CancellationToken;

use crate::cli::ServeArgs;
use crate::config::BallastConfig;
use crate::platform::services;

/// Runs one role until SIGTERM or Ctrl-C.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = BallastConfig::load(args.config.as_deref(), &EnvSource::Process)?;
    let _telemetry = telemetry::init(&format!("ballast-{}", args.service), LogFormat::Json)?;
    ballast_kit::client::install_crypto_provider();
    let keys = Arc::new(Keys::load(&config.auth)?);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", args.addr))?;
    let shutdown = CancellationToken::new();
    let grace = Duration::from_secs(20);
    tracing::info!(service = args.service, address = %args.addr, "serving");

    let server = if args.service == "gateway" {
        let mut endpoints = ballast_gateway::Endpoints::new();
        for upstream in &args.upstreams {
            let (service, url) = upstream
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--upstream {upstream:?}: expected SERVICE=URL"))?;
            endpoints
                .entry(service.to_owned())
                .or_default()
                .push(ballast_gateway::Endpoint {
                    instance: format!("{service}-upstream"),
                    url: url.trim_end_matches('/').to_owned(),
                    ready: true,
                });
        }
        let (feed, rx) = tokio::sync::watch::channel(endpoints);
        let router = ballast_gateway::router(config.gateway.clone(), keys, rx).await?;
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let stopped = ballast_kit::server::serve(
                listener,
                router,
                shutdown,
                CancellationToken::new(),
                grace,
            )
            .await;
            // The gateway keeps its routes for as long as it serves.
            drop(feed);
            stopped
        })
    } else {
        let service = services(&config)
            .into_iter()
            .find(|s| s.name() == args.service)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown service {:?}; one of: gateway, user, product, inventory, payment, order, shipping, notification",
                    args.service
                )
            })?;
        // The event log lives in the configured store (a `bus` database on PostgreSQL).
        let bus_store =
            ballast_kit::store::Store::connect(&config.store, "bus", &config.data_dir).await?;
        let bus = Arc::new(ballast_kit::events::log::LogBus::open(bus_store).await?);
        let environment = Environment {
            data_dir: config.data_dir.clone(),
            store: config.store.clone(),
            keys,
            bus,
        };
        let cache = ballast_kit::cache::backend(&config.cache).await?;
        let hostname =
            std::env::var("HOSTNAME").unwrap_or_else(|_| format!("{}-0", service.name()));
        let context = connect_instance(service.as_ref(), hostname, &environment, cache).await?;
        ballast_kit::service::migrate(&context.store, service.as_ref()).await?;
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            run_instance(service.as_ref(), context, listener, shutdown, grace).await
        })
    };
    crate::up::shutdown_signal().await;
    shutdown.cancel();
    let _ = server.await;
    Ok(())
}
