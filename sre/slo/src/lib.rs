//! Ballast's SLO specs and what is generated from them.
//!
//! Layout:
//! - [`exact`]: exact decimal arithmetic for targets, error budgets and burn-rate thresholds
//!   (no floating point: 99.95 % is 999 500 ppm, its budget exactly 0.0005).
//! - [`duration`]: spec and PromQL durations (`5m`, `30d`).
//! - [`spec`]: the domain model every format is read into ([`Specs`], [`Slo`], [`Alerting`]).
//! - `yaml`, `parse` (OpenSLO v1 and Sloth `prometheus/v1`) and [`load`]: reading a folder of
//!   specs with every problem reported as file, line, column and reason ([`Problem`]).
//! - [`rules`]: Prometheus recording and alerting rules and `promtool test rules` files.
//! - [`dashboards`]: Grafana dashboards (overview and one per service).
//! - [`engine`]: the incremental SLO engine (roll-ups, budgets, burn rates, tiers) over a
//!   metric source; [`daily`]: its daily roll-ups persisted through the kit's store;
//!   [`status`]: the status table and the `GET /api/v1/slos` router.
//! - [`all_expressions`]: every PromQL expression the rules and dashboards contain.
//!
//! What a command line calls: [`validate_dir`] then [`generate_rules`] / [`generate_dashboards`],
//! writing each `(file name, text)` pair into the output folder.

pub mod daily;
pub mod dashboards;
pub mod duration;
pub mod engine;
pub mod exact;
pub mod load;
mod parse;
pub mod problem;
pub mod rules;
pub mod spec;
pub mod status;
mod yaml;

pub use dashboards::generate_dashboards;
pub use duration::SpecDuration;
pub use engine::{Engine, EngineConfig, EngineError, Report, SliReads};
pub use exact::{Decimal, Target};
pub use load::{ValidateOptions, validate_dir, validate_dir_with, validate_texts};
pub use problem::{Location, Problem, ProblemKind};
pub use rules::{RuleOptions, generate_rules};
pub use spec::{
    Alerting, BurnRateAlert, Events, NoDataAlert, Query, Sli, Slo, Specs, Tier, Window,
};
pub use status::{StatusBoard, render_table, run_engine, status_router};

/// Minimum events in a tier's long window before it may fire, unless a spec says otherwise.
pub const DEFAULT_MIN_EVENTS: u64 = 100;
/// How long an SLI's series must be absent before the no-data alert fires, by default.
pub const DEFAULT_NO_DATA_FOR: SpecDuration = SpecDuration::minutes(10);
/// Metrics retention assumed by [`validate_dir`]: windows longer than this are an error.
pub const DEFAULT_RETENTION: SpecDuration = SpecDuration::days(90);

/// Every PromQL expression in the generated rules and dashboards, in a stable order (for the
/// metrics layer's differential test).
pub fn all_expressions(specs: &Specs) -> Vec<String> {
    let mut out = rules::rule_expressions(specs, &RuleOptions::default());
    out.extend(dashboards::panel_expressions(specs));
    out
}
