//! `ballast serve <service>`: one role per process, as a container runs it. Instances of a
//! domain service migrate their database (under a lock) and serve; the gateway routes to the
//! upstream addresses it is given (Kubernetes Services).

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::auth::Keys;
use ballast_kit::config::EnvSource;
use ballast_kit::service::{Environment, assemble, connect_instance};
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
    let shutdown = CancellationToken::new();
    // For the gateway: the sender of its (static) endpoints, alive as long as the server.
    let mut upstream_feed = None;
    let router = if args.service == "gateway" {
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
        let (tx, rx) = tokio::sync::watch::channel(endpoints);
        upstream_feed = Some(tx);
        ballast_gateway::router(config.gateway.clone(), keys, rx).await?
    } else {
        let service = services()
            .into_iter()
            .find(|s| s.name() == args.service)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown service {:?}; one of: gateway, user, product",
                    args.service
                )
            })?;
        let environment = Environment {
            data_dir: config.data_dir.clone(),
            store: config.store.clone(),
            keys,
        };
        let cache = ballast_kit::cache::backend(&config.cache).await?;
        let hostname =
            std::env::var("HOSTNAME").unwrap_or_else(|_| format!("{}-0", service.name()));
        let context = connect_instance(service.as_ref(), hostname, &environment, cache).await?;
        context
            .store
            .migrate(service.name(), service.migrations())
            .await?;
        assemble(service.as_ref(), context)
    };
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", args.addr))?;
    tracing::info!(service = args.service, address = %args.addr, "serving");
    let server = tokio::spawn(ballast_kit::server::serve(
        listener,
        router,
        shutdown.clone(),
        CancellationToken::new(),
        Duration::from_secs(20),
    ));
    crate::up::shutdown_signal().await;
    shutdown.cancel();
    let _ = server.await;
    drop(upstream_feed);
    Ok(())
}
