//! Evaluating one rule group at one timestamp, as Prometheus' `Group.Eval` does: rules in
//! order, recording rules' samples appended so later rules and groups see them, alerting
//! rules through [`crate::alert::transition`], `ALERTS` / `ALERTS_FOR_STATE` series written,
//! and staleness markers for series a rule produced last time and not this time.

use std::collections::{BTreeMap, HashSet};

use ballast_metrics::Labels;
use ballast_metrics::MetricsError;
use ballast_metrics::promql::{
    self, EngineOptions, Querier, QueryValue, Sample, instant_query_expr,
};
use ballast_metrics::storage::{Storage, stale_nan};
use promql_parser::parser::Expr;
use serde::{Deserialize, Serialize};

use crate::alert::{ActiveAlert, AlertSample, AlertState, AlertTiming, transition};
use crate::error::{Result, RulesError};
use crate::rulefile::{Rule, RuleGroup, RuleKind};
use crate::template::{TemplateData, expand_or_error};

/// Where rule results are written.
pub trait Appender: Send + Sync {
    /// Appends samples; out-of-order ones are dropped, as Prometheus does for rule output.
    fn append_samples(&self, samples: &[(Labels, i64, f64)]);
}

impl Appender for Storage {
    fn append_samples(&self, samples: &[(Labels, i64, f64)]) {
        self.append_batch(samples.iter().map(|(l, t, v)| (l, *t, *v)));
    }
}

/// Options shared by every group.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// PromQL engine options.
    pub engine: EngineOptions,
    /// `$externalLabels` for templates.
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL` for templates.
    pub external_url: String,
}

/// A rule that failed at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFailure {
    /// The rule's record or alert name.
    pub rule: String,
    /// Why.
    pub error: String,
}

/// What one evaluation of a group produced.
#[derive(Debug, Clone, Default)]
pub struct GroupEval {
    /// Every known alert of the group's alerting rules (pending, firing, resolved).
    pub alerts: Vec<ActiveAlert>,
    /// Rules that failed (the others were evaluated).
    pub failures: Vec<RuleFailure>,
}

/// A group's alert states, serializable so the suite can persist and resume them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// The group's name.
    pub group: String,
    /// Per alerting rule (by name), its known alerts.
    pub rules: Vec<RuleState>,
}

/// One alerting rule's known alerts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// The alert name.
    pub alert: String,
    /// Position of the rule in its group.
    pub index: usize,
    /// Its alerts.
    pub alerts: Vec<ActiveAlert>,
}

/// Evaluates one group at successive timestamps, keeping its alerts' states.
#[derive(Debug)]
pub struct GroupEvaluator {
    group: RuleGroup,
    options: EvalOptions,
    /// Per rule: known alerts by identifying labels (empty for recording rules).
    active: Vec<BTreeMap<BTreeMap<String, String>, ActiveAlert>>,
    /// Per rule: series written at the previous evaluation.
    previous: Vec<HashSet<Labels>>,
    /// Per rule: its expression, parsed once (regular expressions compiled once), or why it
    /// does not parse.
    parsed: Vec<std::result::Result<Expr, String>>,
}

impl GroupEvaluator {
    /// An evaluator with no alert known.
    pub fn new(group: RuleGroup, options: EvalOptions) -> Self {
        let n = group.rules.len();
        let parsed = group
            .rules
            .iter()
            .map(|r| promql::parse(&r.expr).map_err(|e| e.to_string()))
            .collect();
        Self {
            group,
            options,
            active: vec![BTreeMap::new(); n],
            previous: vec![HashSet::new(); n],
            parsed,
        }
    }

    /// The group.
    pub fn group(&self) -> &RuleGroup {
        &self.group
    }

    /// Evaluates the group at `ts_ms` over the embedded store, appending results to it.
    pub fn eval(&mut self, storage: &Storage, ts_ms: i64) -> GroupEval {
        self.eval_with(storage, storage, ts_ms)
    }

    /// Evaluates the group at `ts_ms`, reading through `querier` and writing to `appender`.
    pub fn eval_with(
        &mut self,
        querier: &dyn Querier,
        appender: &dyn Appender,
        ts_ms: i64,
    ) -> GroupEval {
        let mut out = GroupEval::default();
        for i in 0..self.group.rules.len() {
            let rule = self.group.rules[i].clone();
            let produced = match &rule.kind {
                RuleKind::Record(name) => self.eval_record(i, &rule, name, querier, ts_ms),
                RuleKind::Alert(name) => self.eval_alert(i, &rule, name, querier, ts_ms),
            };
            match produced {
                Ok(samples) => {
                    let returned: HashSet<Labels> =
                        samples.iter().map(|(l, _, _)| l.clone()).collect();
                    let mut all = samples;
                    for gone in self.previous[i].difference(&returned) {
                        all.push((gone.clone(), ts_ms, stale_nan()));
                    }
                    appender.append_samples(&all);
                    self.previous[i] = returned;
                }
                Err(e) => {
                    tracing::warn!(group = %self.group.name, rule = rule.name(), error = %e, "rule evaluation failed");
                    out.failures.push(RuleFailure {
                        rule: rule.name().to_string(),
                        error: e.to_string(),
                    });
                }
            }
        }
        out.alerts = self.alerts();
        out
    }

    /// Every known alert of the group (pending, firing, resolved), rule by rule.
    pub fn alerts(&self) -> Vec<ActiveAlert> {
        self.active
            .iter()
            .flat_map(|m| m.values().cloned())
            .collect()
    }

    /// The known alerts of the alerting rule `name`.
    pub fn alerts_of(&self, name: &str) -> Vec<ActiveAlert> {
        self.group
            .rules
            .iter()
            .zip(&self.active)
            .filter(|(r, _)| r.kind == RuleKind::Alert(name.to_string()))
            .flat_map(|(_, m)| m.values().cloned())
            .collect()
    }

    /// A serializable snapshot of the alert states.
    pub fn state(&self) -> GroupState {
        GroupState {
            group: self.group.name.clone(),
            rules: self
                .group
                .rules
                .iter()
                .enumerate()
                .filter_map(|(i, r)| match &r.kind {
                    RuleKind::Alert(name) => Some(RuleState {
                        alert: name.clone(),
                        index: i,
                        alerts: self.active[i].values().cloned().collect(),
                    }),
                    RuleKind::Record(_) => None,
                })
                .collect(),
        }
    }

    /// Resumes from a snapshot taken by [`GroupEvaluator::state`] (Ballast's form of
    /// Prometheus' `restore_for_state`): alerts of rules that still exist under the same name
    /// and position keep their state, `active_at` included, so `for` continues where it was.
    pub fn restore(&mut self, state: &GroupState) {
        for rs in &state.rules {
            if let Some(rule) = self.group.rules.get(rs.index)
                && rule.kind == RuleKind::Alert(rs.alert.clone())
            {
                self.active[rs.index] = rs
                    .alerts
                    .iter()
                    .map(|a| (a.labels.clone(), a.clone()))
                    .collect();
            }
        }
    }

    fn query(&self, querier: &dyn Querier, rule: usize, ts_ms: i64) -> Result<Vec<Sample>> {
        let expr = self.parsed[rule]
            .as_ref()
            .map_err(|e| RulesError::Query(MetricsError::BadData(e.clone())))?;
        match instant_query_expr(querier, expr, ts_ms, self.options.engine)? {
            QueryValue::Vector(v) => Ok(v),
            QueryValue::Scalar { t, v } => Ok(vec![Sample {
                labels: Labels::empty(),
                t,
                v,
            }]),
            _ => Err(RulesError::NotAVector),
        }
    }

    fn eval_record(
        &self,
        i: usize,
        rule: &Rule,
        name: &str,
        querier: &dyn Querier,
        ts_ms: i64,
    ) -> Result<Vec<(Labels, i64, f64)>> {
        let samples = self.query(querier, i, ts_ms)?;
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(samples.len());
        for s in samples {
            let mut l = s.labels;
            l.set("__name__".into(), name.to_string());
            for (k, v) in &rule.labels {
                l.set(k.clone(), v.clone());
            }
            if !seen.insert(l.clone()) {
                return Err(RulesError::DuplicateRecordLabelset);
            }
            out.push((l, ts_ms, s.v));
        }
        if self.group.limit > 0 && out.len() > self.group.limit {
            return Err(RulesError::Limit {
                limit: self.group.limit,
                got: out.len(),
                what: "series",
            });
        }
        Ok(out)
    }

    fn eval_alert(
        &mut self,
        i: usize,
        rule: &Rule,
        name: &str,
        querier: &dyn Querier,
        ts_ms: i64,
    ) -> Result<Vec<(Labels, i64, f64)>> {
        let samples = self.query(querier, i, ts_ms)?;
        let mut current: BTreeMap<BTreeMap<String, String>, AlertSample> = BTreeMap::new();
        for s in samples {
            let data = TemplateData {
                labels: s.labels.pairs().iter().cloned().collect(),
                external_labels: self.options.external_labels.clone(),
                external_url: self.options.external_url.clone(),
                value: s.v,
            };
            let mut l = s.labels.clone();
            l.set("__name__".into(), String::new());
            for (k, v) in &rule.labels {
                l.set(k.clone(), expand_or_error(v, &data));
            }
            l.set("alertname".into(), name.to_string());
            let annotations = rule
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), expand_or_error(v, &data)))
                .collect();
            let labels: BTreeMap<String, String> = l.pairs().iter().cloned().collect();
            if current.contains_key(&labels) {
                return Err(RulesError::DuplicateAlertLabelset);
            }
            current.insert(
                labels.clone(),
                AlertSample {
                    labels,
                    annotations,
                    value: s.v,
                },
            );
        }
        let timing = AlertTiming {
            hold_ms: rule.for_.millis(),
            keep_firing_for_ms: rule.keep_firing_for.millis(),
        };
        let known = std::mem::take(&mut self.active[i]);
        let mut keys: Vec<BTreeMap<String, String>> = known.keys().cloned().collect();
        keys.extend(current.keys().filter(|k| !known.contains_key(*k)).cloned());
        let mut next = BTreeMap::new();
        let mut out = Vec::new();
        let mut active = 0usize;
        for key in keys {
            let Some(a) = transition(known.get(&key), current.get(&key), ts_ms, timing) else {
                continue;
            };
            if a.state != AlertState::Resolved {
                active += 1;
                let base =
                    Labels::from_pairs(a.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let mut alerts = base.clone();
                alerts.set("__name__".into(), "ALERTS".into());
                alerts.set("alertstate".into(), a.state.as_str().into());
                out.push((alerts, ts_ms, 1.0));
                let mut for_state = base;
                for_state.set("__name__".into(), "ALERTS_FOR_STATE".into());
                out.push((for_state, ts_ms, (a.active_at / 1000) as f64));
            }
            next.insert(key, a);
        }
        if self.group.limit > 0 && active > self.group.limit {
            return Err(RulesError::Limit {
                limit: self.group.limit,
                got: active,
                what: "alerts",
            });
        }
        self.active[i] = next;
        Ok(out)
    }
}
