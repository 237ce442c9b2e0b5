//! `promtool test rules` files proving an SLO's generated rules on synthetic series.
//!
//! The synthetic series are what a Ballast service exposes (the kit's uniform metrics) for a
//! stream of requests to one route: good requests answer 200 in 0.1 s, bad requests answer 500
//! in 1 s, so the same data exercises availability and latency SLIs alike. Besides the route,
//! the service answers `/health/ready` (503, slow) and `/metrics` (200, fast) ten times as
//! often, so a rule that forgot to exclude them would dilute or inflate its ratio and fail.
//! Counters with no increments at all are left out, as a real service only exposes them after
//! the first request (this exercises `or vector(0)`).
//!
//! Tests per SLO:
//! - a full outage after a long window of good traffic pages (the fastest page tier) within
//!   the Workbook's time: `factor × budget × long window` of full outage (25.92 s for 14.4×
//!   over 1h at 99.95 %, 2 % of the 30-day budget), rounded up to the scrape interval, plus the
//!   `for` and one evaluation interval;
//! - for every tier, an error ratio just under its threshold does not fire it, and just over
//!   it does;
//! - low traffic (fewer events in total than the guard's minimum), all failing, fires nothing;
//! - the no-data alert fires when the SLI's series are absent.
//!
//! SLOs whose queries use other metrics than the kit's get no test file.

use std::fmt::Write as _;

use promql_parser::parser::{Expr, parse};
use promql_parser::util::{ExprVisitor, walk_expr};

use crate::duration::SpecDuration;
use crate::exact::Decimal;
use crate::rules::{RuleOptions, burn_annotations, no_data_annotations, quote, rule_file_name};
use crate::spec::{BurnRateAlert, Events, Slo, Tier};

/// The route the synthetic requests go to.
pub const SYNTHETIC_ROUTE: &str = "/v1/synthetic";
const HEALTH_ROUTE: &str = "/health/ready";
const METRICS_ROUTE: &str = "/metrics";
const MODEL_METRICS: [&str; 3] = [
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "http_request_duration_seconds_count",
];

/// One stretch of constant traffic: `steps` scrape intervals with these increments per step.
#[derive(Debug, Clone, Copy)]
struct Phase {
    steps: u64,
    good: u64,
    bad: u64,
    noise: u64,
}

struct Names(Vec<String>);

impl ExprVisitor for Names {
    type Error = ();
    fn pre_visit(&mut self, e: &Expr) -> Result<bool, ()> {
        let vs = match e {
            Expr::VectorSelector(v) => v,
            Expr::MatrixSelector(m) => &m.vs,
            _ => return Ok(true),
        };
        let name = vs.name.clone().or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == "__name__")
                .map(|m| m.value.clone())
        });
        self.0.push(name.unwrap_or_default());
        Ok(true)
    }
}

fn metric_names(query: &str) -> Option<Vec<String>> {
    let expr = parse(query).ok()?;
    let mut names = Names(Vec::new());
    walk_expr(&mut names, &expr).ok()?;
    Some(names.0)
}

/// Whether the SLO's queries only read the kit's uniform HTTP metrics.
fn uses_model_metrics(slo: &Slo) -> bool {
    let w = SpecDuration::minutes(5);
    let queries = match &slo.sli.events {
        Events::GoodTotal { good, total } => [good.at(w), total.at(w)],
        Events::BadTotal { bad, total } => [bad.at(w), total.at(w)],
    };
    queries.iter().all(|q| {
        metric_names(q).is_some_and(|names| {
            !names.is_empty() && names.iter().all(|n| MODEL_METRICS.contains(&n.as_str()))
        })
    })
}

fn values(phases: &[Phase], inc: impl Fn(&Phase) -> u64) -> String {
    let mut out = String::new();
    let mut value: u64 = 0;
    let mut first = true;
    for p in phases.iter().filter(|p| p.steps > 0) {
        let i = inc(p);
        if first {
            let _ = write!(out, "0+{i}x{}", p.steps);
            first = false;
        } else {
            let _ = write!(out, " {}+{i}x{}", value + i, p.steps - 1);
        }
        value += i * p.steps;
    }
    out
}

fn input_series(service: &str, phases: &[Phase]) -> Vec<(String, String)> {
    type Inc = fn(&Phase) -> u64;
    let req = |route: &str, code: &str| {
        format!(
            "http_requests_total{{service=\"{service}\",route=\"{route}\",method=\"GET\",code=\"{code}\"}}"
        )
    };
    let bucket = |route: &str, le: &str| {
        format!(
            "http_request_duration_seconds_bucket{{service=\"{service}\",route=\"{route}\",method=\"GET\",le=\"{le}\"}}"
        )
    };
    let count = |route: &str| {
        format!(
            "http_request_duration_seconds_count{{service=\"{service}\",route=\"{route}\",method=\"GET\"}}"
        )
    };
    let good: Inc = |p| p.good;
    let bad: Inc = |p| p.bad;
    let all: Inc = |p| p.good + p.bad;
    let noise: Inc = |p| p.noise;
    let none: Inc = |_| 0;
    let mut specs: Vec<(String, Inc)> = vec![
        (req(SYNTHETIC_ROUTE, "200"), good),
        (req(SYNTHETIC_ROUTE, "500"), bad),
        (req(HEALTH_ROUTE, "503"), noise),
        (req(METRICS_ROUTE, "200"), noise),
    ];
    for (le, fast, slow) in [
        ("0.1", good, none),
        ("0.5", good, none),
        ("1", all, noise),
        ("+Inf", all, noise),
    ] {
        specs.push((bucket(SYNTHETIC_ROUTE, le), fast));
        specs.push((bucket(HEALTH_ROUTE, le), slow));
        specs.push((bucket(METRICS_ROUTE, le), noise));
    }
    specs.push((count(SYNTHETIC_ROUTE), all));
    specs.push((count(HEALTH_ROUTE), noise));
    specs.push((count(METRICS_ROUTE), noise));
    specs
        .into_iter()
        .filter(|(_, inc)| phases.iter().any(|p| inc(p) > 0))
        .map(|(s, inc)| (s, values(phases, inc)))
        .collect()
}

fn round_up(secs: u64, step: u64) -> u64 {
    secs.div_ceil(step) * step
}

/// An expected alert: labels and annotations.
type Expected = (Vec<(String, String)>, Vec<(String, String)>);

struct Assertion {
    at: SpecDuration,
    alert: String,
    expected: Vec<Expected>,
}

struct TestCase {
    name: String,
    interval: SpecDuration,
    phases: Vec<Phase>,
    assertions: Vec<Assertion>,
}

fn burn_labels(slo: &Slo, b: &BurnRateAlert) -> Vec<(String, String)> {
    let mut l = vec![
        ("burn_rate".to_owned(), b.factor.to_string()),
        ("long_window".to_owned(), b.long_window.to_string()),
        ("service".to_owned(), slo.service.clone()),
        ("severity".to_owned(), b.severity.clone()),
        ("short_window".to_owned(), b.short_window.to_string()),
        ("slo".to_owned(), slo.name.clone()),
        ("tier".to_owned(), b.tier.as_str().to_owned()),
    ];
    l.sort();
    l
}

fn burn_expected(slo: &Slo, b: &BurnRateAlert, threshold: &Decimal) -> Expected {
    (burn_labels(slo, b), burn_annotations(slo, b, threshold))
}

fn outage_test(slo: &Slo, options: &RuleOptions) -> Option<TestCase> {
    let b = slo
        .alerting
        .burn_rates
        .iter()
        .find(|b| b.tier == Tier::Page)?;
    let threshold = slo.target.burn_threshold(&b.factor).ok()?;
    let scrape = 15;
    let eval = options.evaluation_interval.as_secs();
    let long = b.long_window.as_secs();
    let warm_steps = long / scrape;
    let per_step = 100 + slo.alerting.min_events.div_ceil(warm_steps.max(1));
    // Seconds of full outage until the long-window ratio crosses the threshold, exactly.
    let detect = threshold.mul(&Decimal::from_int(long)).ok()?.ceil();
    let detect = round_up(u64::try_from(detect).ok()?, scrape);
    let start = warm_steps * scrape;
    let fire_at = round_up(start + detect + b.for_duration.as_secs() + eval, eval);
    let outage_steps = (fire_at - start) / scrape + 4;
    Some(TestCase {
        name: format!(
            "full outage pages {} within {}s of outage ({}x{} budget over {}) + {} for + {} \
             evaluation",
            b.alert,
            detect,
            b.factor,
            slo.error_budget(),
            b.long_window,
            b.for_duration,
            options.evaluation_interval
        ),
        interval: SpecDuration::from_secs(scrape),
        phases: vec![
            Phase {
                steps: warm_steps,
                good: per_step,
                bad: 0,
                noise: per_step * 10,
            },
            Phase {
                steps: outage_steps,
                good: 0,
                bad: per_step,
                noise: per_step * 10,
            },
        ],
        assertions: vec![
            Assertion {
                at: SpecDuration::from_secs(start),
                alert: b.alert.clone(),
                expected: Vec::new(),
            },
            Assertion {
                at: SpecDuration::from_secs(fire_at),
                alert: b.alert.clone(),
                expected: vec![burn_expected(slo, b, &threshold)],
            },
        ],
    })
}

fn threshold_tests(slo: &Slo, options: &RuleOptions) -> Vec<TestCase> {
    let mut out = Vec::new();
    let eval = options.evaluation_interval.as_secs();
    for b in &slo.alerting.burn_rates {
        let Ok(threshold) = slo.target.burn_threshold(&b.factor) else {
            continue;
        };
        let at = round_up(60 + b.for_duration.as_secs() + 300, 60.max(eval));
        let steps = at / 60 + 1;
        // Events per minute: a power of ten making threshold × n a whole number ≥ 100 and
        // the guard satisfied within the test.
        let Some(mut n) = 10u128.checked_pow(threshold.scale() + 2) else {
            continue;
        };
        while n * u128::from(steps - 2) < u128::from(slo.alerting.min_events) {
            n *= 10;
        }
        let at_threshold = threshold.mantissa() * (n / 10u128.pow(threshold.scale()));
        let (Ok(n), Ok(at_threshold)) = (u64::try_from(n), u64::try_from(at_threshold)) else {
            continue;
        };
        if at_threshold == 0 || at_threshold >= n {
            continue;
        }
        for (under, bad) in [(true, at_threshold - 1), (false, at_threshold + 1)] {
            out.push(TestCase {
                name: format!(
                    "error ratio {bad}/{n} just {} the {} threshold {threshold} {}",
                    if under { "under" } else { "over" },
                    b.alert,
                    if under { "does not fire" } else { "fires" }
                ),
                interval: SpecDuration::minutes(1),
                phases: vec![Phase {
                    steps,
                    good: n - bad,
                    bad,
                    noise: n * 10,
                }],
                assertions: vec![Assertion {
                    at: SpecDuration::from_secs(at),
                    alert: b.alert.clone(),
                    expected: if under {
                        Vec::new()
                    } else {
                        vec![burn_expected(slo, b, &threshold)]
                    },
                }],
            });
        }
    }
    out
}

fn low_traffic_test(slo: &Slo) -> Option<TestCase> {
    let m = slo.alerting.min_events;
    let max_for = slo
        .alerting
        .burn_rates
        .iter()
        .filter(|b| b.tier == Tier::Page)
        .map(|b| b.for_duration.as_secs())
        .max()?;
    if m < 3 {
        return None;
    }
    let duration_min = (max_for + 600).div_ceil(60);
    let interval_min = duration_min.div_ceil(m - 2).max(1);
    let steps = duration_min.div_ceil(interval_min);
    let at = steps * interval_min * 60;
    Some(TestCase {
        name: format!(
            "low traffic: {steps} requests, all failing, fewer than the guard's {m}, fire nothing"
        ),
        interval: SpecDuration::minutes(interval_min),
        phases: vec![Phase {
            steps,
            good: 0,
            bad: 1,
            noise: 1000,
        }],
        assertions: slo
            .alerting
            .burn_rates
            .iter()
            .map(|b| Assertion {
                at: SpecDuration::from_secs(at),
                alert: b.alert.clone(),
                expected: Vec::new(),
            })
            .collect(),
    })
}

fn no_data_test(slo: &Slo, options: &RuleOptions) -> Option<TestCase> {
    let nd = slo.alerting.no_data.as_ref()?;
    let eval = options.evaluation_interval.as_secs();
    let at = round_up(nd.for_duration.as_secs() + eval, eval);
    let mut labels = vec![
        ("service".to_owned(), slo.service.clone()),
        ("severity".to_owned(), nd.severity.clone()),
        ("slo".to_owned(), slo.name.clone()),
    ];
    labels.sort();
    Some(TestCase {
        name: format!(
            "no data: only /health and /metrics traffic, {} fires after {}",
            nd.alert, nd.for_duration
        ),
        interval: SpecDuration::minutes(1),
        phases: vec![Phase {
            steps: at / 60 + 2,
            good: 0,
            bad: 0,
            noise: 100,
        }],
        assertions: vec![Assertion {
            at: SpecDuration::from_secs(at),
            alert: nd.alert.clone(),
            expected: vec![(labels, no_data_annotations(slo))],
        }],
    })
}

fn write_pairs(out: &mut String, indent: &str, key: &str, pairs: &[(String, String)]) {
    let _ = writeln!(out, "{indent}{key}:");
    for (k, v) in pairs {
        let _ = writeln!(out, "{indent}  {k}: {}", quote(v));
    }
}

/// The `promtool test rules` file for `slo`, or `None` when its SLI reads metrics the
/// synthetic model does not produce.
pub fn test_file(slo: &Slo, options: &RuleOptions) -> Option<String> {
    if !uses_model_metrics(slo) {
        return None;
    }
    let mut cases = Vec::new();
    cases.extend(outage_test(slo, options));
    cases.extend(threshold_tests(slo, options));
    cases.extend(low_traffic_test(slo));
    cases.extend(no_data_test(slo, options));
    if cases.is_empty() {
        return None;
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by `ballast slo rules`: promtool test rules for SLO {}; do not edit.",
        slo.name
    );
    out.push_str("rule_files:\n");
    let _ = writeln!(out, "  - {}", quote(&rule_file_name(slo)));
    let _ = writeln!(out, "evaluation_interval: {}", options.evaluation_interval);
    out.push_str("tests:\n");
    for c in &cases {
        let _ = writeln!(out, "  - name: {}", quote(&c.name));
        let _ = writeln!(out, "    interval: {}", c.interval);
        out.push_str("    input_series:\n");
        for (series, values) in input_series(&slo.service, &c.phases) {
            let _ = writeln!(out, "      - series: {}", quote(&series));
            let _ = writeln!(out, "        values: {}", quote(&values));
        }
        out.push_str("    alert_rule_test:\n");
        for a in &c.assertions {
            let _ = writeln!(out, "      - eval_time: {}", a.at);
            let _ = writeln!(out, "        alertname: {}", a.alert);
            if a.expected.is_empty() {
                out.push_str("        exp_alerts: []\n");
                continue;
            }
            out.push_str("        exp_alerts:\n");
            for (labels, annotations) in &a.expected {
                let mut first = String::new();
                write_pairs(&mut first, "            ", "exp_labels", labels);
                // The first key of a list item carries the dash.
                out.push_str(&first.replacen(
                    "            exp_labels",
                    "          - exp_labels",
                    1,
                ));
                write_pairs(&mut out, "            ", "exp_annotations", annotations);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_phases() {
        let phases = [
            Phase {
                steps: 3,
                good: 10,
                bad: 0,
                noise: 0,
            },
            Phase {
                steps: 2,
                good: 0,
                bad: 5,
                noise: 0,
            },
        ];
        assert_eq!(values(&phases, |p| p.good), "0+10x3 30+0x1");
        assert_eq!(values(&phases, |p| p.bad), "0+0x3 5+5x1");
    }

    #[test]
    fn all_zero_counters_are_left_out() {
        let phases = [Phase {
            steps: 2,
            good: 0,
            bad: 1,
            noise: 0,
        }];
        let series = input_series("user", &phases);
        assert!(series.iter().all(|(s, _)| !s.contains("code=\"200\"")));
        assert!(series.iter().any(|(s, _)| s.contains("code=\"500\"")));
    }
}
