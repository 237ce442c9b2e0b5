//! `ballast slo`: check SLO specs, generate rules and dashboards, and show every SLO's status
//! (from the running suite's metrics or an OpenMetrics file).
//! `ballast slo test` runs the generated `promtool test rules` files on the suite's rule
//! evaluator (the same runner as `ballast alerts test`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ballast_slo::engine::{Engine, EngineConfig, SliReads};
use clap::{Args, Subcommand};

/// `ballast slo`.
#[derive(Debug, Args)]
pub struct SloArgs {
    /// The operation.
    #[command(subcommand)]
    pub command: SloCommand,
}

/// SLO operations.
#[derive(Debug, Subcommand)]
pub enum SloCommand {
    /// Check the specs in DIR (OpenSLO v1 and Sloth); print each problem as file:line:col:
    /// reason and exit non-zero when there is any.
    Validate {
        /// The spec folder.
        #[arg(default_value = "slo")]
        dir: PathBuf,
    },
    /// Write Prometheus recording and alerting rules and their promtool test files.
    Rules {
        /// The spec folder.
        #[arg(long, default_value = "slo")]
        specs: PathBuf,
        /// Output folder (stale generated files there are removed).
        #[arg(long, default_value = "alerts/generated")]
        out: PathBuf,
    },
    /// Write the Grafana dashboards (overview and one per service).
    Dashboards {
        /// The spec folder.
        #[arg(long, default_value = "slo")]
        specs: PathBuf,
        /// Output folder (stale generated files there are removed).
        #[arg(long, default_value = "dashboards")]
        out: PathBuf,
    },
    /// Run `promtool test rules` files (the generated `*.test.yaml`) on Ballast's own rule
    /// evaluator; exit non-zero when a test fails.
    Test {
        /// Test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Every SLO's target, attainment, budget left, burn rate per window and firing tiers:
    /// the running suite's own report (`--sre-addr`), or computed here over a
    /// Prometheus-compatible API (`--prometheus URL`) or an OpenMetrics file (`--import`).
    Status(StatusArgs),
}

/// `ballast slo status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The spec folder.
    #[arg(long, default_value = "slo")]
    pub specs: PathBuf,
    /// Print JSON (the same document as the suite's `GET /api/v1/slos`).
    #[arg(long)]
    pub json: bool,
    /// The running suite (`ballast up --sre-addr`), whose SLO engine's report is shown.
    #[arg(long, default_value = "127.0.0.1:9300")]
    pub sre_addr: SocketAddr,
    /// Compute the report here over this Prometheus-compatible API (a Prometheus, or the
    /// suite's `/api/v1/query_range`) instead of asking the suite.
    #[arg(long, conflicts_with = "import")]
    pub prometheus: Option<String>,
    /// Compute the report here over an OpenMetrics file (with timestamps).
    #[arg(long)]
    pub import: Option<PathBuf>,
    /// Evaluation time (RFC 3339 or unix seconds) when computing here; default now.
    #[arg(long)]
    pub time: Option<String>,
    /// SLO time per wall time, as the platform was started with (`ballast up --time-scale`).
    #[arg(long, default_value_t = 1)]
    pub time_scale: u32,
    /// Roll-up step in SLO time.
    #[arg(long, default_value = "1m")]
    pub step: String,
    /// Shortest wall-time range a rate is read over (must span two scrapes).
    #[arg(long, default_value = "1m")]
    pub min_read_range: String,
    /// Read the generated recording rules' 5m rates (a Prometheus evaluating them) instead of
    /// the specs' queries.
    #[arg(long)]
    pub recorded: bool,
}

/// Runs one `ballast slo` operation.
pub async fn run(args: SloArgs) -> anyhow::Result<()> {
    match args.command {
        SloCommand::Validate { dir } => {
            let specs = load(&dir)?;
            println!(
                "{}: {} SLOs over {} services, no problems",
                dir.display(),
                specs.slos.len(),
                specs.services_with_slos().len()
            );
            Ok(())
        }
        SloCommand::Rules { specs, out } => {
            let specs = load(&specs)?;
            let files = ballast_slo::generate_rules(&specs, &ballast_slo::RuleOptions::default());
            write_all(&out, &files, &[".rules.yaml", ".test.yaml"])?;
            println!("wrote {} files to {}", files.len(), out.display());
            Ok(())
        }
        SloCommand::Dashboards { specs, out } => {
            let specs = load(&specs)?;
            let files = ballast_slo::generate_dashboards(&specs);
            write_all(&out, &files, &[".json"])?;
            println!("wrote {} files to {}", files.len(), out.display());
            Ok(())
        }
        SloCommand::Test { files } => crate::alerts::test(&files),
        SloCommand::Status(args) => {
            let report = status(&args).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", ballast_slo::render_table(&report));
            }
            Ok(())
        }
    }
}

/// Reads and checks a spec folder, printing every problem (file:line:col: reason) to stderr.
pub fn load(dir: &Path) -> anyhow::Result<ballast_slo::Specs> {
    match ballast_slo::validate_dir(dir) {
        Ok(specs) => Ok(specs),
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            anyhow::bail!("{}: {} problems", dir.display(), problems.len())
        }
    }
}

/// Writes generated `(name, text)` files into `dir`, removing files with one of `suffixes`
/// that are no longer generated. Only generated suffixes are ever removed.
pub fn write_all(dir: &Path, files: &[(String, String)], suffixes: &[&str]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let generated = name.starts_with("slo-") || suffixes.iter().any(|s| *s != ".json");
        if generated
            && suffixes.iter().any(|s| name.ends_with(s))
            && !files.iter().any(|(f, _)| f == name)
        {
            std::fs::remove_file(&path)?;
        }
    }
    for (name, text) in files {
        std::fs::write(dir.join(name), text)
            .with_context(|| format!("writing {}", dir.join(name).display()))?;
    }
    Ok(())
}

/// The engine configuration `status` uses.
pub fn engine_config(args: &StatusArgs) -> anyhow::Result<EngineConfig> {
    let step = ballast_slo::SpecDuration::parse(&args.step)
        .map_err(|e| anyhow::anyhow!("--step: {}", e.0))?;
    let min_read = humantime::parse_duration(&args.min_read_range)
        .with_context(|| format!("--min-read-range {}", args.min_read_range))?;
    Ok(EngineConfig {
        step,
        time_scale: args.time_scale,
        min_read_range_ms: i64::try_from(min_read.as_millis()).unwrap_or(i64::MAX),
        reads: if args.recorded {
            SliReads::Recorded
        } else {
            SliReads::Raw
        },
        ..EngineConfig::default()
    })
}

/// The running suite's report, or (with `--import` or `--prometheus`) every SLO evaluated
/// once here at `--time`, backfilling the longest window.
pub async fn status(args: &StatusArgs) -> anyhow::Result<ballast_slo::Report> {
    if args.import.is_none() && args.prometheus.is_none() {
        return suite_report(args.sre_addr).await;
    }
    let specs = load(&args.specs)?;
    let time = match &args.time {
        Some(t) => ballast_metrics::api::parse_time(t)?,
        None => ballast_kit::store::now_millis(),
    };
    let source: Arc<dyn ballast_metrics::MetricSource> = match &args.import {
        Some(path) => Arc::new(ballast_metrics::EmbeddedSource::new(Arc::new(
            ballast_metrics::import_openmetrics(path)
                .with_context(|| format!("importing {}", path.display()))?,
        ))),
        None => Arc::new(ballast_metrics::PrometheusSource::new(
            args.prometheus.as_deref().unwrap_or_default(),
            Duration::from_secs(30),
        )?),
    };
    let mut engine = Engine::new(&specs, source, engine_config(args)?)?;
    let errors = engine.tick(time).await;
    if !errors.is_empty() && errors.len() == specs.slos.len() {
        anyhow::bail!(
            "every read failed; first: {}",
            errors.first().map(ToString::to_string).unwrap_or_default()
        );
    }
    Ok(engine.report())
}

/// `GET /api/v1/slos` of the running suite.
async fn suite_report(addr: SocketAddr) -> anyhow::Result<ballast_slo::Report> {
    let response = ballast_kit::client::http_client(Duration::from_secs(10))?
        .get(format!("http://{addr}/api/v1/slos"))
        .send()
        .await
        .with_context(|| format!("asking the suite at {addr} (is `ballast up` running?)"))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("the suite at {addr} answered {status} without JSON"))?;
    if !status.is_success() {
        anyhow::bail!(
            "the suite at {addr} answered {status}: {}",
            body["error"].as_str().unwrap_or("no reason given")
        );
    }
    serde_json::from_value(body["data"].clone()).context("the suite's SLO report")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn slo_test_takes_files_and_fails_on_a_missing_one() {
        use clap::Parser as _;
        let cli =
            crate::cli::Cli::try_parse_from(["ballast", "slo", "test", "a.test.yaml"]).unwrap();
        let crate::cli::Command::Slo(SloArgs {
            command: SloCommand::Test { files },
        }) = cli.command
        else {
            panic!("not slo test")
        };
        assert_eq!(files, vec![PathBuf::from("a.test.yaml")]);
        assert!(crate::cli::Cli::try_parse_from(["ballast", "slo", "test"]).is_err());
        let dir = tempfile::tempdir().unwrap();
        assert!(crate::alerts::test(&[dir.path().join("missing.test.yaml")]).is_err());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn status_over_an_openmetrics_file() {
        let dir = tempfile::tempdir().unwrap();
        // Two hours of gateway traffic every 15 s: 10 requests/s, 2 % server errors.
        let mut text = String::from("# TYPE http_requests counter\n");
        let t0 = 1_700_000_000_i64;
        for i in 0..480_i64 {
            let t = t0 + i * 15;
            let (ok, bad) = (i as f64 * 147.0, i as f64 * 3.0);
            for (code, v) in [("200", ok), ("500", bad)] {
                let _ = writeln!(
                    text,
                    "http_requests_total{{service=\"gateway\",route=\"/v1/products\",code=\"{code}\"}} {v} {t}"
                );
            }
        }
        text.push_str("# EOF\n");
        let file = dir.path().join("metrics.om");
        std::fs::write(&file, text).unwrap();
        let specs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../slo");
        let args = StatusArgs {
            specs,
            json: true,
            sre_addr: "127.0.0.1:9300".parse().unwrap(),
            prometheus: None,
            import: Some(file),
            time: Some((t0 + 479 * 15).to_string()),
            time_scale: 1,
            step: "1m".into(),
            min_read_range: "1m".into(),
            recorded: false,
        };
        let report = status(&args).await.unwrap();
        assert!(!report.scaled);
        let gw = report
            .slos
            .iter()
            .find(|s| s.name == "gateway-availability")
            .unwrap();
        let attainment = gw.attainment.unwrap();
        assert!((attainment - 0.98).abs() < 1e-6, "{attainment}");
        // 2 % errors against a 0.05 % budget: 40x, the fast page fires.
        let fast = gw.burn_rates.iter().find(|b| b.window == "1h").unwrap();
        assert!((fast.burn_rate.unwrap() - 40.0).abs() < 0.1, "{fast:?}");
        assert!(
            gw.firing.iter().any(|a| a.contains("PageFast")),
            "{:?}",
            gw.firing
        );
        // The backfill read the whole 30-day window (mostly without data).
        assert!((gw.coverage - 1.0).abs() < 1e-9, "{}", gw.coverage);
        assert!(
            (gw.events_total - 7200.0 * 10.0).abs() < 700.0,
            "{}",
            gw.events_total
        );
        let table = ballast_slo::render_table(&report);
        assert!(table.contains("gateway-availability"), "{table}");
    }
}
