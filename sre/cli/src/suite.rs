//! The SRE suite inside the embedded platform: the rule engine evaluates every rule file in
//! `alerts/` (the reference rules and the burn-rate rules generated from `slo/`) over the
//! embedded store, the dispatcher routes, groups, inhibits, silences and notifies (console,
//! webhook, Slack, PagerDuty) with persisted state, and the SLO engine publishes budgets and
//! burn rates at `/api/v1/slos`. All of it is served on the suite's address.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballast_alerting::{Alert, Dispatcher, DispatcherConfig, RoutingConfig};
use ballast_kit::store::Store;
use ballast_metrics::Storage;
use ballast_rules::{ActiveAlert, AlertState};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::BallastConfig;

/// `[suite]`: where the suite's configuration lives and how often it evaluates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuiteSettings {
    /// Alert rule files (`*.rules.yaml`, searched recursively).
    pub alerts_dir: PathBuf,
    /// The Alertmanager-like routing tree.
    pub routing_file: PathBuf,
    /// SLO specs.
    pub slo_dir: PathBuf,
    /// Rule evaluation interval for groups that set none.
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub evaluation_interval: Duration,
}

impl Default for SuiteSettings {
    fn default() -> Self {
        Self {
            alerts_dir: PathBuf::from("alerts"),
            routing_file: PathBuf::from("alerts/routing.yaml"),
            slo_dir: PathBuf::from("slo"),
            evaluation_interval: Duration::from_secs(30),
        }
    }
}

/// What the suite adds to the platform.
pub struct Suite {
    /// Routes to merge into the suite's HTTP API.
    pub router: axum::Router,
    /// Background tasks (stop with the platform's shutdown token).
    pub tasks: Vec<JoinHandle<()>>,
    /// The dispatcher, when alerting is configured.
    pub dispatcher: Option<Arc<Dispatcher>>,
}

/// Starts the rule engine, the dispatcher and the SLO engine that `config` finds files for.
/// A missing folder disables that part with a warning; a broken file is an error.
pub async fn start(
    config: &BallastConfig,
    storage: Arc<Storage>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Suite> {
    let settings = &config.suite;
    let mut router = axum::Router::new();
    let mut tasks = Vec::new();
    let suite_store = Store::connect(&config.store, "suite", &config.data_dir).await?;

    // SLOs: budgets and burn rates from the specs.
    let mut slo_board = None;
    if settings.slo_dir.is_dir() {
        let specs = ballast_slo::validate_dir(&settings.slo_dir).map_err(|problems| {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!(
                "SLO specs in {}:\n{}",
                settings.slo_dir.display(),
                lines.join("\n")
            )
        })?;
        let source: Arc<dyn ballast_metrics::MetricSource> =
            Arc::new(ballast_metrics::EmbeddedSource::new(storage.clone()));
        let engine = ballast_slo::Engine::new(&specs, source, slo_engine_config(config)?)?;
        let board = ballast_slo::StatusBoard::new();
        slo_board = Some(board.clone());
        router = router.merge(ballast_slo::status_router(board.clone()));
        tasks.push(tokio::spawn(ballast_slo::run_engine(
            engine,
            board,
            Some(suite_store.clone()),
            shutdown.clone(),
        )));
    } else {
        tracing::warn!(dir = %settings.slo_dir.display(), "no SLO specs; the SLO engine is off");
    }

    // Alerting: rules over the embedded store, notifications through the dispatcher.
    if !settings.alerts_dir.is_dir() || !settings.routing_file.is_file() {
        tracing::warn!(
            dir = %settings.alerts_dir.display(),
            routing = %settings.routing_file.display(),
            "no alert rules or routing; alerting is off"
        );
        return Ok(Suite {
            router,
            tasks,
            dispatcher: None,
        });
    }
    let rules = ballast_rules::check_rules(&settings.alerts_dir).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "alert rules in {}:\n{}",
            settings.alerts_dir.display(),
            lines.join("\n")
        )
    })?;
    let groups: Vec<_> = rules.files.into_iter().flat_map(|f| f.groups).collect();
    let routing =
        RoutingConfig::load(&settings.routing_file)?.time_scaled(config.orchestrator.time_scale);
    let notify = ballast_alerting::notify::settings::NotifySettings {
        slack: config.slack.clone(),
        pagerduty: config.pagerduty.clone(),
    };
    let dispatcher =
        Dispatcher::new(DispatcherConfig::new(routing, notify)?, suite_store.clone()).await?;
    router = router.merge(ballast_alerting::api::router(dispatcher.clone()));
    // Alert states from before a restart: firing alerts stay firing (the dispatcher's own
    // persisted log keeps them from paging twice), cleared ones resolve at once.
    ballast_rules::persist::migrate(&suite_store).await?;
    let saved = ballast_rules::persist::load(&suite_store).await?;
    let engine = ballast_rules::RuleEngine::resume(
        groups,
        storage,
        ballast_rules::EngineConfig {
            default_interval: settings.evaluation_interval,
            time_scale: config.orchestrator.time_scale,
            min_range: min_read_range(config),
            ..ballast_rules::EngineConfig::default()
        },
        &saved,
    );
    router = router.merge(ballast_rules::api::router(engine.alerts()));
    let mut saver = ballast_rules::persist::StateSaver::new(&saved);
    let time_scale = config.orchestrator.time_scale;
    let mut alerts = engine.alerts();
    let feed = dispatcher.clone();
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                changed = alerts.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    // States first: an alert the dispatcher has seen is one a restart resumes.
                    if let Err(error) = saver.save_changed(&suite_store, &engine.states()).await {
                        tracing::warn!(error = %error, "saving alert states failed");
                    }
                    let report = slo_board.as_ref().and_then(ballast_slo::StatusBoard::latest);
                    let batch: Vec<Alert> = alerts
                        .borrow_and_update()
                        .iter()
                        .filter_map(|a| to_alert(a, time_scale, report.as_ref()))
                        .collect();
                    if let Err(error) = feed.ingest(batch, chrono::Utc::now()).await {
                        tracing::warn!(error = %error, "handing alerts to the dispatcher failed");
                    }
                }
            }
        }
        engine.stop().await;
    }));
    tasks.push(tokio::spawn(
        dispatcher
            .clone()
            .run(Duration::from_secs(1), shutdown.clone()),
    ));
    Ok(Suite {
        router,
        tasks,
        dispatcher: Some(dispatcher),
    })
}

/// The shortest wall-time range a time-scaled rate may be read over: three scrapes, so it
/// always holds two samples.
fn min_read_range(config: &BallastConfig) -> Duration {
    config.metrics.scrape_interval * 3
}

/// The SLO engine at the platform's time scale: a whole number (an SLO step must be a whole
/// number of wall milliseconds and every report says how much time is compressed).
fn slo_engine_config(config: &BallastConfig) -> anyhow::Result<ballast_slo::EngineConfig> {
    let scale = config.orchestrator.time_scale;
    anyhow::ensure!(
        scale >= 1.0 && scale.fract() == 0.0 && scale <= f64::from(u32::MAX),
        "time scale {scale}: the SLO engine needs a whole number of at least 1"
    );
    Ok(ballast_slo::EngineConfig {
        time_scale: scale as u32,
        min_read_range_ms: i64::try_from(min_read_range(config).as_millis()).unwrap_or(i64::MAX),
        ..ballast_slo::EngineConfig::default()
    })
}

/// The alert as Prometheus would send it to Alertmanager: firing alerts without an end,
/// resolved ones with `endsAt`; pending ones are not sent.
/// When the suite runs time-scaled, every alert carries a `time_scale` annotation saying so; an
/// alert about an SLO carries the SLO engine's `budget_remaining` (shown in Slack and
/// PagerDuty).
fn to_alert(
    alert: &ActiveAlert,
    time_scale: f64,
    report: Option<&ballast_slo::Report>,
) -> Option<Alert> {
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms);
    let mut annotations = alert.annotations.clone();
    if let Some(status) = alert
        .labels
        .get("slo")
        .and_then(|slo| report?.slos.iter().find(|s| &s.name == slo))
    {
        annotations.insert("budget_remaining".into(), budget_text(&status.budget));
    }
    if (time_scale - 1.0).abs() > f64::EPSILON {
        annotations.insert(
            "time_scale".into(),
            format!("{time_scale}x: windows and `for` durations run {time_scale} times faster than real time"),
        );
    }
    match alert.state {
        AlertState::Pending => None,
        AlertState::Firing => Some(Alert {
            labels: alert.labels.clone(),
            annotations,
            starts_at: at(alert.fired_at.unwrap_or(alert.active_at)),
            ends_at: None,
            generator_url: String::new(),
        }),
        AlertState::Resolved => Some(Alert {
            labels: alert.labels.clone(),
            annotations,
            starts_at: at(alert.fired_at.unwrap_or(alert.active_at)),
            ends_at: alert.resolved_at.and_then(at),
            generator_url: String::new(),
        }),
    }
}

/// `62.5% (13m30s of 21m36s)`; negative when overspent.
fn budget_text(budget: &ballast_slo::engine::BudgetStatus) -> String {
    let secs = budget.remaining_seconds;
    let magnitude = std::time::Duration::from_secs(secs.abs().round() as u64);
    format!(
        "{:.1}% ({}{} of {})",
        budget.remaining_ratio * 100.0,
        if secs < 0.0 { "-" } else { "" },
        humantime::format_duration(magnitude)
            .to_string()
            .replace(' ', ""),
        budget.total
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_read_as_a_share_and_as_time() {
        let budget = |ratio: f64, secs: f64| ballast_slo::engine::BudgetStatus {
            fraction: "0.0005".into(),
            total: "21m36s".into(),
            total_seconds: 1296.0,
            consumed_ratio: 1.0 - ratio,
            remaining_ratio: ratio,
            remaining_seconds: secs,
        };
        assert_eq!(
            budget_text(&budget(0.625, 810.0)),
            "62.5% (13m30s of 21m36s)"
        );
        assert_eq!(
            budget_text(&budget(-2.5, -4536.0)),
            "-250.0% (-1h15m36s of 21m36s)"
        );
    }
}
