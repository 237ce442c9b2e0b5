//! The SLO engine: reads each SLO's bad and total events through a
//! [`MetricSource`](ballast_metrics::MetricSource) once per step, keeps them in incremental
//! roll-ups ([`rollup`]), and derives attainment, error budget, burn rates and the Workbook's
//! burn-rate tiers ([`eval`]) for a [`Report`].
//!
//! How events are read, per SLO and per step (1 minute of SLO time by default): the SLI's bad
//! and total event *rates* at the end of the step, times the step's length in seconds. With
//! [`SliReads::Raw`] the rates come from the spec's own queries over a range of one step (or
//! [`EngineConfig::min_read_range_ms`] when that is longer: a read range must span two scrapes);
//! with [`SliReads::Recorded`] they come from the recording rules this crate generates
//! (`slo:sli_error:rate5m` and `slo:sli_total:rate5m`), for a Prometheus that evaluates them.
//! A step whose total query returns nothing counts no events and feeds the no-data condition.
//! Each read covers every step since the SLO's last one (a range query, chunked), so the first
//! tick backfills the longest window and later ticks read one step.
//!
//! Time scale: with `time_scale = N`, a step and every window last N times less wall time
//! (1 h of SLO time per minute of wall time is N = 60); durations in the report are SLO time,
//! and the report says it is scaled. Calendar windows are calendar periods in their time zone
//! at scale 1, and rolling windows of their nominal length when scaled.

pub mod calendar;
pub mod eval;
pub mod rollup;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ballast_metrics::MetricSource;
use ballast_metrics::promql::QueryValue;
use chrono_tz::Tz;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::duration::SpecDuration;
use crate::exact::{Decimal, format_seconds};
use crate::rules::series;
use crate::spec::{
    BurnRateAlert, CalendarUnit, Events, RECORDED_WINDOWS, Slo, Specs, WINDOW_PLACEHOLDER, Window,
};
use eval::{Condition, Phase};
use rollup::{Rollup, Sums};

/// Why the engine cannot be built or a read failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The configuration does not fit (step, scale).
    #[error("engine configuration: {0}")]
    Config(String),
    /// A calendar window names an unknown time zone.
    #[error("SLO {slo}: unknown time zone {zone:?}")]
    TimeZone {
        /// The SLO.
        slo: String,
        /// The zone as written.
        zone: String,
    },
    /// The metric source failed.
    #[error("reading SLO {slo}: {message}")]
    Source {
        /// The SLO.
        slo: String,
        /// The source's error.
        message: String,
    },
}

/// Where the engine reads SLI rates from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SliReads {
    /// The spec's good/bad/total queries, over one step.
    #[default]
    Raw,
    /// The generated recording rules' 5m rates (a Prometheus evaluating `ballast slo rules`).
    Recorded,
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The roll-up resolution in SLO time; every window must be a whole number of steps.
    pub step: SpecDuration,
    /// SLO time per wall time (1: real time).
    pub time_scale: u32,
    /// Coarser roll-up levels, in steps per bucket (`[15, 60]`: 15 and 60 steps).
    pub levels: Vec<u64>,
    /// The shortest wall-time range a raw read may use (a rate needs two scrapes in range).
    pub min_read_range_ms: i64,
    /// Where rates are read from.
    pub reads: SliReads,
    /// Whether the first tick reads back the longest window (else it starts empty).
    pub backfill: bool,
    /// Reads in flight at once.
    pub concurrency: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            step: SpecDuration::minutes(1),
            time_scale: 1,
            levels: vec![15, 60],
            min_read_range_ms: 0,
            reads: SliReads::Raw,
            backfill: true,
            concurrency: 8,
        }
    }
}

/// The points a range query may return at once (Prometheus refuses more than 11 000).
const MAX_POINTS: i64 = 10_000;

/// Every report's burn-rate windows besides the full window.
pub const STATUS_WINDOWS: [SpecDuration; 7] = RECORDED_WINDOWS;

#[derive(Debug, Clone)]
struct TierState {
    alert: BurnRateAlert,
    threshold: f64,
    threshold_text: String,
    long: usize,
    short: usize,
    for_ms: i64,
    condition: Condition,
    phase: Phase,
}

#[derive(Debug, Clone)]
struct CalendarState {
    unit: CalendarUnit,
    tz: Tz,
    bounds: (i64, i64),
    sums: Sums,
    steps: u64,
}

#[derive(Debug, Clone)]
struct SloState {
    slo: Slo,
    budget: f64,
    bad_expr: String,
    total_expr: String,
    windows: Vec<SpecDuration>,
    rollup: Rollup,
    full: usize,
    calendar: Option<CalendarState>,
    tiers: Vec<TierState>,
    no_data: Option<(i64, Phase)>,
    next_end: Option<i64>,
    last_end: Option<i64>,
    daily: BTreeMap<String, Sums>,
    error: Option<String>,
    step_ms: i64,
}

/// One SLO's good and total events on one UTC day (of wall time), for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyRollup {
    /// SLO name.
    pub slo: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Good events.
    pub good: f64,
    /// All events.
    pub total: f64,
}

/// The engine: every SLO's roll-ups and alert states.
pub struct Engine {
    source: Arc<dyn MetricSource>,
    config: EngineConfig,
    wall_step_ms: i64,
    slos: Vec<SloState>,
    evaluated_at_ms: Option<i64>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("slos", &self.slos.len())
            .field("config", &self.config)
            .finish()
    }
}

fn range_text(ms: i64) -> String {
    if ms % 1000 == 0 {
        SpecDuration::from_secs(u64::try_from(ms / 1000).unwrap_or(1)).promql()
    } else {
        format!("{ms}ms")
    }
}

fn decimal_f64(d: &Decimal) -> f64 {
    d.to_string().parse().unwrap_or(f64::NAN)
}

/// The PromQL reading the bad-event rate and the total-event rate of `slo` over `range_ms`
/// of wall time (raw reads) or from the recorded 5m rates.
pub fn read_expressions(slo: &Slo, reads: SliReads, range_ms: i64) -> (String, String) {
    match reads {
        SliReads::Recorded => (
            series("slo:sli_error:rate5m", slo),
            series("slo:sli_total:rate5m", slo),
        ),
        SliReads::Raw => {
            let r = format!("[{}]", range_text(range_ms));
            let at = |q: &crate::spec::Query| {
                q.template()
                    .replace(&format!("[{WINDOW_PLACEHOLDER}]"), &r)
                    .replace(WINDOW_PLACEHOLDER, &range_text(range_ms))
            };
            let bad = match &slo.sli.events {
                Events::GoodTotal { good, total } => {
                    format!("({}) - (({}) or vector(0))", at(total), at(good))
                }
                Events::BadTotal { bad, .. } => format!("({}) or vector(0)", at(bad)),
            };
            (bad, at(slo.sli.events.total()))
        }
    }
}

fn sum_by_time(v: QueryValue) -> HashMap<i64, f64> {
    let mut out: HashMap<i64, f64> = HashMap::new();
    match v {
        QueryValue::Matrix(series) => {
            for s in series {
                for (t, v) in s.points {
                    if v.is_finite() {
                        *out.entry(t).or_default() += v;
                    }
                }
            }
        }
        QueryValue::Vector(samples) => {
            for s in samples {
                if s.v.is_finite() {
                    *out.entry(s.t).or_default() += s.v;
                }
            }
        }
        QueryValue::Scalar { t, v } => {
            out.insert(t, v);
        }
        QueryValue::String { .. } => {}
    }
    out
}

async fn read_range(
    source: &dyn MetricSource,
    expr: &str,
    start: i64,
    end: i64,
    step: i64,
) -> ballast_metrics::Result<HashMap<i64, f64>> {
    let mut out = HashMap::new();
    let mut from = start;
    while from <= end {
        let to = (from + step * (MAX_POINTS - 1)).min(end);
        out.extend(sum_by_time(source.query_range(expr, from, to, step).await?));
        from = to + step;
    }
    Ok(out)
}

type Fetched = (
    usize,
    i64,
    i64,
    Result<(HashMap<i64, f64>, HashMap<i64, f64>), String>,
);

impl Engine {
    /// An engine for every SLO in `specs`, reading from `source`.
    pub fn new(
        specs: &Specs,
        source: Arc<dyn MetricSource>,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let step_s = config.step.as_secs();
        let scale = u64::from(config.time_scale);
        if step_s == 0 || scale == 0 {
            return Err(EngineError::Config(
                "step and time scale must be positive".into(),
            ));
        }
        if !(step_s * 1000).is_multiple_of(scale) {
            return Err(EngineError::Config(format!(
                "a step of {} is not a whole number of milliseconds at time scale {scale}",
                config.step
            )));
        }
        if config.reads == SliReads::Recorded && scale != 1 {
            return Err(EngineError::Config(
                "recorded rules are generated for real time: use raw reads when time-scaled".into(),
            ));
        }
        let wall_step_ms = i64::try_from(step_s * 1000 / scale).unwrap_or(i64::MAX);
        let read_ms = wall_step_ms.max(config.min_read_range_ms);
        let steps = |d: SpecDuration| d.as_secs().div_ceil(step_s).max(1);
        let mut slos = Vec::new();
        for slo in &specs.slos {
            let mut windows: Vec<SpecDuration> = STATUS_WINDOWS.to_vec();
            for b in &slo.alerting.burn_rates {
                windows.push(b.long_window);
                windows.push(b.short_window);
            }
            windows.sort();
            windows.dedup();
            let full = slo.window.length();
            windows.retain(|w| *w != full);
            windows.push(full);
            let window_steps: Vec<u64> = windows.iter().map(|w| steps(*w)).collect();
            let rollup = Rollup::new(&window_steps, &config.levels);
            let index = |d: SpecDuration| windows.iter().position(|w| *w == d).unwrap_or(0);
            let budget_exact = slo.error_budget();
            let tiers = slo
                .alerting
                .burn_rates
                .iter()
                .map(|b| {
                    let threshold = slo.target.burn_threshold(&b.factor).unwrap_or(b.factor);
                    TierState {
                        alert: b.clone(),
                        threshold: decimal_f64(&threshold),
                        threshold_text: threshold.to_string(),
                        long: index(b.long_window),
                        short: index(b.short_window),
                        for_ms: i64::try_from(b.for_duration.as_secs() * 1000 / scale)
                            .unwrap_or(i64::MAX),
                        condition: Condition::NoTraffic,
                        phase: Phase::Inactive,
                    }
                })
                .collect();
            let calendar = match (&slo.window, scale) {
                (Window::Calendar { unit, time_zone }, 1) => {
                    let tz: Tz = time_zone.parse().map_err(|_| EngineError::TimeZone {
                        slo: slo.name.clone(),
                        zone: time_zone.clone(),
                    })?;
                    Some(CalendarState {
                        unit: *unit,
                        tz,
                        bounds: (i64::MIN, i64::MIN),
                        sums: Sums::default(),
                        steps: 0,
                    })
                }
                _ => None,
            };
            let (bad_expr, total_expr) = read_expressions(slo, config.reads, read_ms);
            slos.push(SloState {
                slo: slo.clone(),
                budget: decimal_f64(&budget_exact),
                bad_expr,
                total_expr,
                full: windows.len() - 1,
                windows,
                rollup,
                calendar,
                tiers,
                no_data: slo.alerting.no_data.as_ref().map(|n| {
                    (
                        i64::try_from(n.for_duration.as_secs() * 1000 / scale).unwrap_or(i64::MAX),
                        Phase::Inactive,
                    )
                }),
                next_end: None,
                last_end: None,
                daily: BTreeMap::new(),
                error: None,
                step_ms: wall_step_ms,
            });
        }
        Ok(Engine {
            source,
            config,
            wall_step_ms,
            slos,
            evaluated_at_ms: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// One step in wall milliseconds.
    pub fn wall_step_ms(&self) -> i64 {
        self.wall_step_ms
    }

    /// Reads every step that ended by `now_ms` and not read yet, for every SLO, and updates
    /// roll-ups and alert states. A failed read leaves that SLO where it was (it is retried on
    /// the next tick) and is shown in its status; the others go on.
    pub async fn tick(&mut self, now_ms: i64) -> Vec<EngineError> {
        let ws = self.wall_step_ms;
        let end = now_ms.div_euclid(ws) * ws;
        let mut plans = Vec::new();
        for (i, s) in self.slos.iter().enumerate() {
            let start = match s.next_end {
                Some(n) => n,
                None if self.config.backfill => {
                    let longest = s.windows.iter().map(|w| w.as_secs()).max().unwrap_or(0);
                    let steps =
                        i64::try_from(longest.div_ceil(self.config.step.as_secs())).unwrap_or(0);
                    end - (steps - 1).max(0) * ws
                }
                None => end,
            };
            if start <= end {
                plans.push((i, start, s.bad_expr.clone(), s.total_expr.clone()));
            }
        }
        let source = self.source.clone();
        // Each SLO's reads are folded in as they arrive, so at most `concurrency` SLOs' results
        // (a 30-day backfill is 43,200 steps each) are held at once.
        let mut fetched = futures::stream::iter(plans)
            .map(|(i, start, bad, total)| {
                let source = source.clone();
                async move {
                    let r = async {
                        let b = read_range(source.as_ref(), &bad, start, end, ws).await?;
                        let t = read_range(source.as_ref(), &total, start, end, ws).await?;
                        Ok::<_, ballast_metrics::MetricsError>((b, t))
                    }
                    .await;
                    let fetched: Fetched = (i, start, end, r.map_err(|e| e.to_string()));
                    fetched
                }
            })
            .buffer_unordered(self.config.concurrency.max(1));
        let mut errors = Vec::new();
        while let Some((i, start, end, r)) = fetched.next().await {
            let s = &mut self.slos[i];
            match r {
                Err(e) => {
                    s.error = Some(e.clone());
                    errors.push(EngineError::Source {
                        slo: s.slo.name.clone(),
                        message: e,
                    });
                }
                Ok((bad, total)) => {
                    s.error = None;
                    let mut t = start;
                    while t <= end {
                        let step = total.get(&t).map(|tot| {
                            let secs = ws as f64 / 1000.0;
                            Sums::new(bad.get(&t).copied().unwrap_or(0.0) * secs, tot * secs)
                        });
                        s.push(t, ws, step);
                        t += ws;
                    }
                    s.next_end = Some(end + ws);
                }
            }
        }
        self.evaluated_at_ms = Some(end);
        errors
    }

    /// Runs [`Engine::tick`] over steps pushed directly (no source): for tests and benchmarks
    /// of the arithmetic alone. `steps[i]` is SLO `i`'s events in the step ending at `end_ms`.
    pub fn push_steps(&mut self, end_ms: i64, steps: &[Option<Sums>]) {
        let ws = self.wall_step_ms;
        for (s, step) in self.slos.iter_mut().zip(steps) {
            s.push(end_ms, ws, *step);
            s.next_end = Some(end_ms + ws);
        }
        self.evaluated_at_ms = Some(end_ms);
    }

    /// Takes the daily roll-ups gathered since the last call (to persist them).
    pub fn take_daily(&mut self) -> Vec<DailyRollup> {
        let mut out = Vec::new();
        for s in &mut self.slos {
            for (day, sums) in std::mem::take(&mut s.daily) {
                out.push(DailyRollup {
                    slo: s.slo.name.clone(),
                    day,
                    good: sums.total - sums.bad,
                    total: sums.total,
                });
            }
        }
        out
    }

    /// Buckets held in memory over every SLO (for the benchmark).
    pub fn buckets(&self) -> usize {
        self.slos.iter().map(|s| s.rollup.buckets()).sum()
    }

    /// The status of every SLO at the last tick.
    pub fn report(&self) -> Report {
        let at = self.evaluated_at_ms.unwrap_or(0);
        let scale = self.config.time_scale;
        Report {
            evaluated_at_ms: at,
            evaluated_at: ballast_kit::store::millis_to_rfc3339(at),
            time_scale: scale,
            scaled: scale != 1,
            note: (scale != 1).then(|| {
                format!(
                    "time-scaled x{scale}: windows, budgets and alert durations are SLO time, \
                     {scale} times faster than wall time"
                )
            }),
            step: self.config.step.to_string(),
            slos: self.slos.iter().map(|s| s.status(at, scale)).collect(),
        }
    }
}

impl SloState {
    fn push(&mut self, end: i64, ws: i64, step: Option<Sums>) {
        let sums = step.unwrap_or_default();
        self.rollup.push(sums);
        if let Some(c) = &mut self.calendar {
            let start = end - ws;
            if start >= c.bounds.1 || c.bounds.0 == i64::MIN {
                c.bounds = calendar::period_bounds(c.unit, c.tz, start);
                c.sums = Sums::default();
                c.steps = 0;
            }
            c.sums.bad += sums.bad;
            c.sums.total += sums.total;
            c.steps += 1;
        }
        if step.is_some() {
            let day = chrono::DateTime::from_timestamp_millis(end - ws)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            let d = self.daily.entry(day).or_default();
            d.bad += sums.bad;
            d.total += sums.total;
        }
        for t in &mut self.tiers {
            let long = self.rollup.window(t.long).sums;
            let short = self.rollup.window(t.short).sums;
            t.condition =
                eval::tier_condition(long, short, t.threshold, self.slo.alerting.min_events);
            t.phase = eval::advance(t.phase, t.condition == Condition::Met, end, t.for_ms);
        }
        if let Some((for_ms, phase)) = &mut self.no_data {
            *phase = eval::advance(*phase, step.is_none(), end, *for_ms);
        }
        self.last_end = Some(end);
    }

    fn full_window(&self, at: i64) -> (Sums, f64, u64, Option<i64>) {
        match &self.calendar {
            Some(c) if c.bounds.0 != i64::MIN => {
                let secs = u64::try_from((c.bounds.1 - c.bounds.0) / 1000).unwrap_or(0);
                let elapsed = (at - c.bounds.0).max(1);
                let step_ms = self.step_ms;
                let cov = (c.steps as f64 * step_ms as f64 / elapsed as f64).min(1.0);
                (c.sums, cov, secs, Some(c.bounds.0))
            }
            _ => {
                let w = self.rollup.window(self.full);
                (w.sums, w.coverage, self.slo.window.length().as_secs(), None)
            }
        }
    }

    fn status(&self, at: i64, scale: u32) -> SloStatus {
        let slo = &self.slo;
        let (full, coverage, window_secs, window_start) = self.full_window(at);
        let consumed = eval::budget_consumed(full, self.budget);
        let budget_exact = slo.error_budget();
        let total_budget = slo.target.budget_seconds(window_secs).ok();
        let total_budget_secs = total_budget.as_ref().map_or(0.0, decimal_f64);
        let burn_rates = self
            .windows
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let v = if i == self.full {
                    full
                } else {
                    self.rollup.window(i).sums
                };
                BurnRateStatus {
                    window: if i == self.full {
                        format!("{w} (full)")
                    } else {
                        w.to_string()
                    },
                    error_ratio: eval::error_ratio(v),
                    burn_rate: eval::burn_rate(v, self.budget),
                    events: v.total,
                }
            })
            .filter(|b| {
                STATUS_WINDOWS.iter().any(|w| w.to_string() == b.window)
                    || b.window.ends_with("(full)")
            })
            .collect();
        let tiers: Vec<TierStatus> = self
            .tiers
            .iter()
            .map(|t| TierStatus {
                alert: t.alert.alert.clone(),
                tier: t.alert.tier.as_str().to_string(),
                severity: t.alert.severity.clone(),
                factor: t.alert.factor.to_string(),
                threshold: t.threshold_text.clone(),
                long_window: t.alert.long_window.to_string(),
                short_window: t.alert.short_window.to_string(),
                for_duration: t.alert.for_duration.to_string(),
                long_burn_rate: eval::burn_rate(self.rollup.window(t.long).sums, self.budget),
                short_burn_rate: eval::burn_rate(self.rollup.window(t.short).sums, self.budget),
                condition: t.condition,
                phase: t.phase,
                firing: t.phase.firing(),
            })
            .collect();
        let no_data = slo
            .alerting
            .no_data
            .as_ref()
            .zip(self.no_data)
            .map(|(n, (_, p))| NoDataStatus {
                alert: n.alert.clone(),
                severity: n.severity.clone(),
                phase: p,
                firing: p.firing(),
            });
        let mut firing: Vec<String> = tiers
            .iter()
            .filter(|t| t.firing)
            .map(|t| t.alert.clone())
            .collect();
        if let Some(n) = no_data.as_ref().filter(|n| n.firing) {
            firing.push(n.alert.clone());
        }
        let window = match (&slo.window, &self.calendar) {
            (Window::Calendar { .. }, None) => {
                format!(
                    "{} (as rolling {}, scaled)",
                    slo.window,
                    slo.window.length()
                )
            }
            _ => slo.window.to_string(),
        };
        SloStatus {
            name: slo.name.clone(),
            service: slo.service.clone(),
            target: format!("{}%", slo.target.percent()),
            window,
            window_start_ms: window_start,
            window_seconds: window_secs,
            time_scale: scale,
            events_total: full.total,
            events_bad: full.bad,
            attainment: eval::error_ratio(full).map(|r| 1.0 - r),
            coverage,
            budget: BudgetStatus {
                fraction: budget_exact.to_string(),
                total: total_budget
                    .as_ref()
                    .map_or_else(String::new, format_seconds),
                total_seconds: total_budget_secs,
                consumed_ratio: consumed,
                remaining_ratio: 1.0 - consumed,
                remaining_seconds: (1.0 - consumed) * total_budget_secs,
            },
            burn_rates,
            tiers,
            no_data,
            firing,
            error: self.error.clone(),
        }
    }
}

/// Every SLO's status at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The end of the last step read (unix ms).
    pub evaluated_at_ms: i64,
    /// The same, RFC 3339.
    pub evaluated_at: String,
    /// SLO time per wall time.
    pub time_scale: u32,
    /// Whether `time_scale` is not 1.
    pub scaled: bool,
    /// What scaling means for the figures, when scaled.
    pub note: Option<String>,
    /// The roll-up step (SLO time).
    pub step: String,
    /// One entry per SLO, by name.
    pub slos: Vec<SloStatus>,
}

/// One SLO's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloStatus {
    /// SLO name.
    pub name: String,
    /// Service.
    pub service: String,
    /// Target, exact (`99.95%`).
    pub target: String,
    /// The compliance window (`rolling 30d`).
    pub window: String,
    /// Start of the current calendar period (unix ms), for calendar windows.
    pub window_start_ms: Option<i64>,
    /// Length of the window (or calendar period) in SLO seconds.
    pub window_seconds: u64,
    /// SLO time per wall time.
    pub time_scale: u32,
    /// Events in the window.
    pub events_total: f64,
    /// Bad events in the window.
    pub events_bad: f64,
    /// Good over total events in the window; `None` without traffic.
    pub attainment: Option<f64>,
    /// The fraction of the window the engine has read (steps whose series were missing count
    /// as read, with no events): below 1 until a whole window has been read or backfilled.
    pub coverage: f64,
    /// The error budget.
    pub budget: BudgetStatus,
    /// Burn rate per window (5m … 3d and the full window).
    pub burn_rates: Vec<BurnRateStatus>,
    /// Every configured burn-rate tier.
    pub tiers: Vec<TierStatus>,
    /// The no-data condition, when enabled.
    pub no_data: Option<NoDataStatus>,
    /// Names of the firing alerts.
    pub firing: Vec<String>,
    /// The last read error, if the last read failed.
    pub error: Option<String>,
}

/// An SLO's error budget over its window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// The budget fraction, exact (`0.0005`).
    pub fraction: String,
    /// The budget as full-outage time, exact (`21m36s`).
    pub total: String,
    /// The same in seconds.
    pub total_seconds: f64,
    /// Consumed share (1 = all; above 1 = overspent).
    pub consumed_ratio: f64,
    /// `1 - consumed_ratio`.
    pub remaining_ratio: f64,
    /// Remaining budget as full-outage seconds (negative when overspent).
    pub remaining_seconds: f64,
}

/// The burn rate over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurnRateStatus {
    /// The window (`5m`, `30d (full)`).
    pub window: String,
    /// Error ratio; `None` without traffic.
    pub error_ratio: Option<f64>,
    /// Burn rate; `None` without traffic.
    pub burn_rate: Option<f64>,
    /// Events in the window.
    pub events: f64,
}

/// One burn-rate tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierStatus {
    /// Alert name.
    pub alert: String,
    /// `page` or `ticket`.
    pub tier: String,
    /// Severity label.
    pub severity: String,
    /// Burn-rate factor, exact.
    pub factor: String,
    /// Error-ratio threshold, exact (`factor × budget`).
    pub threshold: String,
    /// Long window.
    pub long_window: String,
    /// Short window.
    pub short_window: String,
    /// `for` duration.
    pub for_duration: String,
    /// Burn rate over the long window.
    pub long_burn_rate: Option<f64>,
    /// Burn rate over the short window.
    pub short_burn_rate: Option<f64>,
    /// Why the condition holds or not.
    pub condition: Condition,
    /// Inactive, pending or firing.
    pub phase: Phase,
    /// Whether it fires.
    pub firing: bool,
}

/// The no-data condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoDataStatus {
    /// Alert name.
    pub alert: String,
    /// Severity label.
    pub severity: String,
    /// Inactive, pending or firing.
    pub phase: Phase,
    /// Whether it fires.
    pub firing: bool,
}
