//! `ballast metrics`: the suite's metrics layer over an OpenMetrics file, for comparing answers
//! with a Prometheus fed the same file.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::cli::{MetricsArgs, MetricsCommand};

/// Runs `serve` (until Ctrl-C) or `query`.
pub async fn run(args: MetricsArgs) -> anyhow::Result<()> {
    match args.command {
        MetricsCommand::Serve { import, addr } => {
            let storage = Arc::new(ballast_metrics::import_openmetrics(&import)?);
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
            println!(
                "serving the Prometheus HTTP API over {} at http://{}/api/v1/query",
                import.display(),
                listener.local_addr()?
            );
            let shutdown = CancellationToken::new();
            let server = tokio::spawn(ballast_metrics::serve_api(
                listener,
                storage,
                shutdown.clone(),
            ));
            crate::up::shutdown_signal().await;
            shutdown.cancel();
            server.await??;
            Ok(())
        }
        MetricsCommand::Query { import, time, expr } => {
            let storage = ballast_metrics::import_openmetrics(&import)?;
            let time = match time {
                Some(text) => ballast_metrics::api::parse_time(&text)?,
                None => ballast_kit::store::now_millis(),
            };
            let value =
                ballast_metrics::promql::instant_query(&storage, &expr, time, Default::default())?;
            println!("{}", ballast_metrics::api::render_data(&value));
            Ok(())
        }
    }
}
