//! `ballast up`: the embedded platform in the foreground until Ctrl-C.

use std::io::Write;
use std::time::Duration;

use ballast_kit::config::EnvSource;
use ballast_kit::telemetry::{self, LogFormat};

use crate::cli::{LogFormatArg, UpArgs};
use crate::config::BallastConfig;
use crate::platform::{Addresses, AdminSeed, Platform};

/// Runs the platform until Ctrl-C (or SIGTERM).
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let mut config = BallastConfig::load(args.config.as_deref(), &EnvSource::Process)?;
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(scale) = args.time_scale {
        anyhow::ensure!(
            scale >= 1.0 && scale.fract() == 0.0 && scale <= 1_000_000.0,
            "--time-scale {scale}: must be a whole number from 1 (real time) to 1000000"
        );
        config.orchestrator.time_scale = scale;
    }
    let format = match args.log_format {
        LogFormatArg::Json => LogFormat::Json,
        LogFormatArg::Pretty => LogFormat::Pretty,
    };
    let _telemetry = telemetry::init("ballast", format)?;
    let time_scale = config.orchestrator.time_scale;
    let store_kind = if config.store.postgres_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let data_dir = config.data_dir.clone();
    let platform = Platform::start(
        config,
        Addresses {
            gateway: args.gateway_addr,
            admin: args.admin_addr,
            base_port: args.base_port,
            sre: args.sre_addr,
        },
        Duration::from_secs(30),
    )
    .await?;

    let mut out = String::new();
    out.push_str(&format!(
        "Ballast is up (embedded, {store_kind} in {}, time scale {time_scale}x{})\n",
        data_dir.display(),
        if (time_scale - 1.0).abs() > f64::EPSILON {
            ": SLO windows, rule intervals and `for` durations, notification timings, probes and backoffs run that much faster than real time"
        } else {
            ""
        }
    ));
    out.push_str(&format!(
        "  gateway    http://{}/api/v1\n",
        platform.gateway
    ));
    out.push_str(&format!(
        "  admin      http://{}  (loopback only; use `ballast ctl --admin-addr {}`)\n",
        platform.admin, platform.admin
    ));
    out.push_str(&format!(
        "  suite      http://{}  (Prometheus and Alertmanager APIs, SLOs at /api/v1/slos; use `ballast alerts --sre-addr {}`)\n",
        platform.sre, platform.sre
    ));
    for instance in platform.orchestrator.instances() {
        out.push_str(&format!(
            "  instance   {:<12} http://{}  {}\n",
            instance.name,
            instance.address,
            if instance.ready { "ready" } else { "starting" }
        ));
    }
    if platform.seeded_products > 0 {
        out.push_str(&format!(
            "  seeded     {} products\n",
            platform.seeded_products
        ));
    }
    match &platform.admin_seed {
        AdminSeed::Created { email, password, generated: true } => out.push_str(&format!(
            "  admin account created: {email} / {password}\n  (the password is shown this once and stored only as a hash)\n"
        )),
        AdminSeed::Created { email, generated: false, .. } => {
            out.push_str(&format!("  admin account created: {email} (password from BALLAST_ADMIN__PASSWORD)\n"))
        }
        AdminSeed::Existing { email } => out.push_str(&format!("  admin account: {email} (exists)\n")),
    }
    out.push_str(&format!(
        "Try: curl 'http://{}/api/v1/products?per_page=3'\nPress Ctrl-C to stop.\n",
        platform.gateway
    ));
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    drop(stdout);

    shutdown_signal().await;
    tracing::info!("stopping");
    platform.stop().await;
    println!("Ballast stopped.");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "listening for Ctrl-C failed");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
