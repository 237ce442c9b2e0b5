//! Prometheus rules for Ballast: reading and checking rule files, evaluating rule groups
//! with Prometheus' exact semantics, running `promtool test rules` files, and a driver that
//! ticks every group at its interval.
//!
//! - [`rulefile`]: rule files (groups, recording and alerting rules), checked like
//!   `promtool check rules` ([`check_rules`]), every problem with file, line and reason
//! - [`template`]: the Go-template subset Prometheus rule labels and annotations use
//! - [`alert`]: alerts and the state machine (pending → firing → resolved, `keep_firing_for`)
//!   as a pure function
//! - [`group`]: [`GroupEvaluator`], one group at one timestamp over any `Querier`
//! - [`promtest`]: the `promtool test rules` runner ([`run_test_file`])
//! - [`api`]: Prometheus' `GET /api/v1/alerts` (pending and firing alerts)
//! - [`engine`]: [`RuleEngine`], groups ticking at their intervals over an `Arc<Storage>`
//! - [`persist`]: alert states saved in the suite's store, so a restart resumes them
//! - [`scale`]: time-scaled groups (`for`, ranges, offsets divided) for demos and tests
//! - [`duration`], [`problem`], [`error`]: shared types

pub mod alert;
pub mod api;
pub mod duration;
pub mod engine;
pub mod error;
pub mod group;
pub mod persist;
pub mod problem;
pub mod promtest;
pub mod rulefile;
pub mod scale;
pub mod template;
mod yaml;

pub use alert::{ActiveAlert, AlertSample, AlertState, AlertTiming, transition};
pub use duration::PromDuration;
pub use engine::{EngineConfig, RuleEngine};
pub use error::{Result, RulesError};
pub use group::{EvalOptions, GroupEval, GroupEvaluator, GroupState};
pub use problem::Problem;
pub use promtest::{TestReport, run_test_file};
pub use rulefile::{Rule, RuleFile, RuleFiles, RuleGroup, RuleKind, check_rule_files, check_rules};
pub use scale::TimeScale;
