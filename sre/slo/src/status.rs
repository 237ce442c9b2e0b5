//! SLO status for people and programs: the text table `ballast slo status` prints, and
//! [`status_router`] serving the same [`Report`] as JSON at `GET /api/v1/slos`, plus
//! [`run_engine`], the loop that ticks an engine, publishes its report and persists daily
//! roll-ups.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use ballast_kit::store::Store;
use parking_lot::RwLock;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, Report};

/// The latest report, shared between the engine loop and the HTTP API.
#[derive(Debug, Clone, Default)]
pub struct StatusBoard(Arc<RwLock<Option<Report>>>);

impl StatusBoard {
    /// An empty board (no report yet).
    pub fn new() -> StatusBoard {
        StatusBoard::default()
    }

    /// Publishes a report.
    pub fn publish(&self, report: Report) {
        *self.0.write() = Some(report);
    }

    /// The latest report.
    pub fn latest(&self) -> Option<Report> {
        self.0.read().clone()
    }
}

async fn slos(State(board): State<StatusBoard>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match board.latest() {
        Some(r) => axum::Json(serde_json::json!({"status": "success", "data": r})).into_response(),
        None => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "status": "error",
                "error": "the SLO engine has not evaluated yet"
            })),
        )
            .into_response(),
    }
}

/// `GET /api/v1/slos`: the latest [`Report`] as `{"status":"success","data":Report}` (503
/// before the first evaluation). Mount it on the suite's address.
pub fn status_router(board: StatusBoard) -> Router {
    Router::new()
        .route("/api/v1/slos", get(slos))
        .with_state(board)
}

/// Ticks `engine` every step of wall time (now = the wall clock) until `cancel`, publishing
/// each report on `board` and adding daily roll-ups to `store` when given (migrating it
/// first). Read errors are logged and retried on the next tick.
pub async fn run_engine(
    mut engine: Engine,
    board: StatusBoard,
    store: Option<Store>,
    cancel: CancellationToken,
) {
    if let Some(s) = &store
        && let Err(e) = crate::daily::migrate(s).await
    {
        tracing::warn!(error = %e, "slo daily roll-ups disabled");
    }
    let step = Duration::from_millis(u64::try_from(engine.wall_step_ms()).unwrap_or(60_000));
    let mut interval = tokio::time::interval(step);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = interval.tick() => {}
        }
        for e in engine.tick(ballast_kit::store::now_millis()).await {
            tracing::warn!(error = %e, "slo engine read failed");
        }
        board.publish(engine.report());
        if let Some(s) = &store {
            let daily = engine.take_daily();
            if let Err(e) = crate::daily::persist(s, &daily).await {
                tracing::warn!(error = %e, "persisting slo daily roll-ups failed");
            }
        }
    }
}

fn pct(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{:.*}%", digits, v * 100.0))
}

fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"))
}

fn human_secs(s: f64) -> String {
    let neg = s < 0.0;
    let mut rest = s.abs().round() as u64;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= size || (size == 1 && out.is_empty()) {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    if neg { format!("-{out}") } else { out }
}

/// The report as a text table: one row per SLO, burn rates per window, firing tiers.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "SLO status at {}", report.evaluated_at);
    if let Some(note) = &report.note {
        let _ = writeln!(out, "{note}");
    }
    let windows: Vec<String> = report
        .slos
        .first()
        .map(|s| s.burn_rates.iter().map(|b| b.window.clone()).collect())
        .unwrap_or_default();
    let mut header = vec![
        "SLO".to_string(),
        "TARGET".into(),
        "WINDOW".into(),
        "ATTAINMENT".into(),
        "BUDGET LEFT".into(),
        "TIME LEFT".into(),
    ];
    header.extend(windows.iter().map(|w| {
        format!(
            "BURN {}",
            w.trim_end_matches(" (full)").to_string().replace(' ', "")
        )
    }));
    header.push("FIRING".into());
    let mut rows = vec![header];
    for s in &report.slos {
        let mut row = vec![
            s.name.clone(),
            s.target.clone(),
            s.window.clone(),
            pct(s.attainment, 3),
            pct(Some(s.budget.remaining_ratio), 1),
            format!(
                "{} of {}",
                human_secs(s.budget.remaining_seconds),
                s.budget.total
            ),
        ];
        row.extend(s.burn_rates.iter().map(|b| rate(b.burn_rate)));
        let mut firing = s.firing.join(",");
        if let Some(e) = &s.error {
            firing = format!("read error: {e}");
        } else if firing.is_empty() {
            firing = "-".into();
        }
        row.push(firing);
        rows.push(row);
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |v| v.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{v:<w$}", w = widths[i]))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_seconds() {
        assert_eq!(human_secs(1296.0), "21m36s");
        assert_eq!(human_secs(0.2), "0s");
        assert_eq!(human_secs(-90.0), "-1m30s");
        assert_eq!(human_secs(90_061.0), "1d1h1m1s");
    }
}
