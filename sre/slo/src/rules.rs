//! Prometheus rules generated from SLOs, and `promtool test rules` files proving them.
//!
//! For every SLO, one rule file `<slo>.rules.yaml` with three groups:
//! - `slo:<slo>:sli` (every evaluation interval): for each window (5m, 30m, 1h, 2h, 6h, 1d, 3d
//!   and any other alert window) the total event rate `slo:sli_total:rate<W>`, the bad event
//!   rate `slo:sli_error:rate<W>` and the error ratio `slo:sli_error:ratio_rate<W>`, named as
//!   Sloth names them, labelled `slo` and `service`.
//! - `slo:<slo>:window` (every `window_interval`, 5m by default): the error ratio over the full
//!   SLO window, `slo:sli_error:ratio_rate30d`, built cheaply from the recorded 5m rates instead
//!   of the raw series: `sum_over_time(error rate 5m[30d]) / sum_over_time(total rate 5m[30d])`.
//!   Because numerator and denominator are sampled alike, this is the traffic-weighted ratio
//!   (unlike Sloth's average of ratios); the approximation is that each 5m rate sample weighs
//!   the same, that the 5m at each edge of the window count partly, and that periods with no
//!   recorded sample (Prometheus down) are left out of both sums. Also the objective, the
//!   error budget and the budget remaining as series, for dashboards.
//! - `slo:<slo>:alerts`: one multi-window burn-rate alert per enabled tier, firing when the
//!   error ratio over both the long and the short window exceeds `factor × budget` (an exact
//!   decimal, e.g. `0.0072`), guarded by a minimum number of events in the long window, with
//!   labels `severity`, `slo`, `service`, `tier` (`page` / `ticket`), `long_window`,
//!   `short_window` and `burn_rate`, so Alertmanager can inhibit `tier="ticket"` while
//!   `tier="page"` fires for the same `slo`; plus the no-data alert on `absent(...)`.
//!
//! And `<slo>.test.yaml`, see [`promtool`].

pub mod promtool;

use std::fmt::Write as _;

use crate::duration::SpecDuration;
use crate::spec::{RECORDED_WINDOWS, Slo, Specs};

/// Options for rule generation.
#[derive(Debug, Clone)]
pub struct RuleOptions {
    /// Evaluation interval of the SLI and alert groups (and of the generated tests).
    pub evaluation_interval: SpecDuration,
    /// Evaluation interval of the full-window group (cheap, slow-moving).
    pub window_interval: SpecDuration,
}

impl Default for RuleOptions {
    fn default() -> Self {
        RuleOptions {
            evaluation_interval: SpecDuration::from_secs(30),
            window_interval: SpecDuration::minutes(5),
        }
    }
}

/// One rule group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Evaluation interval.
    pub interval: SpecDuration,
    /// Rules in evaluation order.
    pub rules: Vec<Rule>,
}

/// A recording or alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// A recording rule.
    Record {
        /// Series name.
        record: String,
        /// PromQL.
        expr: String,
        /// Labels added.
        labels: Vec<(String, String)>,
    },
    /// An alerting rule.
    Alert {
        /// Alert name.
        alert: String,
        /// PromQL.
        expr: String,
        /// `for` (zero: fire at once).
        for_duration: SpecDuration,
        /// Labels added.
        labels: Vec<(String, String)>,
        /// Annotations.
        annotations: Vec<(String, String)>,
    },
}

impl Rule {
    /// The rule's PromQL.
    pub fn expr(&self) -> &str {
        match self {
            Rule::Record { expr, .. } | Rule::Alert { expr, .. } => expr,
        }
    }
}

/// `name{slo="…",service="…"}`: a series recorded for `slo`.
pub fn series(name: &str, slo: &Slo) -> String {
    format!("{name}{{slo=\"{}\",service=\"{}\"}}", slo.name, slo.service)
}

/// The windows whose rates are recorded from raw series for `slo`: the standard ones and every
/// alert window, shorter than the SLO window, ascending.
pub fn sli_windows(slo: &Slo) -> Vec<SpecDuration> {
    let mut w: Vec<SpecDuration> = RECORDED_WINDOWS.to_vec();
    for b in &slo.alerting.burn_rates {
        w.push(b.long_window);
        w.push(b.short_window);
    }
    w.sort();
    w.dedup();
    w.retain(|d| *d < slo.window.length());
    w
}

fn slo_labels(slo: &Slo) -> Vec<(String, String)> {
    vec![
        ("slo".to_owned(), slo.name.clone()),
        ("service".to_owned(), slo.service.clone()),
    ]
}

/// The rule groups of one SLO.
pub fn slo_groups(slo: &Slo, options: &RuleOptions) -> Vec<Group> {
    let labels = slo_labels(slo);
    let events = &slo.sli.events;
    let mut sli = Vec::new();
    for w in sli_windows(slo) {
        sli.push(Rule::Record {
            record: format!("slo:sli_total:rate{w}"),
            expr: events.total().at(w),
            labels: labels.clone(),
        });
        sli.push(Rule::Record {
            record: format!("slo:sli_error:rate{w}"),
            expr: events.bad_rate(w),
            labels: labels.clone(),
        });
        sli.push(Rule::Record {
            record: format!("slo:sli_error:ratio_rate{w}"),
            expr: format!(
                "{} / {}",
                series(&format!("slo:sli_error:rate{w}"), slo),
                series(&format!("slo:sli_total:rate{w}"), slo)
            ),
            labels: labels.clone(),
        });
    }
    let full = slo.window.length();
    let budget = slo.error_budget();
    let window_rules = vec![
        Rule::Record {
            record: format!("slo:sli_error:ratio_rate{full}"),
            expr: format!(
                "sum_over_time({}[{full}]) / sum_over_time({}[{full}])",
                series("slo:sli_error:rate5m", slo),
                series("slo:sli_total:rate5m", slo)
            ),
            labels: labels.clone(),
        },
        Rule::Record {
            record: "slo:objective:ratio".to_owned(),
            expr: format!("vector({})", slo.target.fraction()),
            labels: labels.clone(),
        },
        Rule::Record {
            record: "slo:error_budget:ratio".to_owned(),
            expr: format!("vector({budget})"),
            labels: labels.clone(),
        },
        Rule::Record {
            record: "slo:error_budget:remaining_ratio".to_owned(),
            expr: format!(
                "1 - {} / {budget}",
                series(&format!("slo:sli_error:ratio_rate{full}"), slo)
            ),
            labels: labels.clone(),
        },
    ];
    let mut alerts = Vec::new();
    for b in &slo.alerting.burn_rates {
        // Validation guarantees factor × budget fits; fall back to the factor alone otherwise.
        let threshold = slo.target.burn_threshold(&b.factor).unwrap_or(b.factor);
        let mut expr = format!(
            "({} > {threshold} and {} > {threshold})",
            series(&format!("slo:sli_error:ratio_rate{}", b.long_window), slo),
            series(&format!("slo:sli_error:ratio_rate{}", b.short_window), slo),
        );
        if slo.alerting.min_events > 0 {
            let _ = write!(
                expr,
                " and {} * {} >= {}",
                series(&format!("slo:sli_total:rate{}", b.long_window), slo),
                b.long_window.as_secs(),
                slo.alerting.min_events
            );
        }
        let mut l = labels.clone();
        l.extend([
            ("severity".to_owned(), b.severity.clone()),
            ("tier".to_owned(), b.tier.as_str().to_owned()),
            ("long_window".to_owned(), b.long_window.to_string()),
            ("short_window".to_owned(), b.short_window.to_string()),
            ("burn_rate".to_owned(), b.factor.to_string()),
        ]);
        alerts.push(Rule::Alert {
            alert: b.alert.clone(),
            expr,
            for_duration: b.for_duration,
            labels: l,
            annotations: burn_annotations(slo, b, &threshold),
        });
    }
    if let Some(nd) = &slo.alerting.no_data {
        let mut l = labels.clone();
        l.push(("severity".to_owned(), nd.severity.clone()));
        alerts.push(Rule::Alert {
            alert: nd.alert.clone(),
            expr: format!("absent({})", series("slo:sli_total:rate5m", slo)),
            for_duration: nd.for_duration,
            labels: l,
            annotations: no_data_annotations(slo),
        });
    }
    let mut groups = vec![
        Group {
            name: format!("slo:{}:sli", slo.name),
            interval: options.evaluation_interval,
            rules: sli,
        },
        Group {
            name: format!("slo:{}:window", slo.name),
            interval: options.window_interval,
            rules: window_rules,
        },
    ];
    if !alerts.is_empty() {
        groups.push(Group {
            name: format!("slo:{}:alerts", slo.name),
            interval: options.evaluation_interval,
            rules: alerts,
        });
    }
    groups
}

/// The annotations of a burn-rate alert (static text, so tests can state them exactly).
pub fn burn_annotations(
    slo: &Slo,
    b: &crate::spec::BurnRateAlert,
    threshold: &crate::exact::Decimal,
) -> Vec<(String, String)> {
    vec![
        (
            "summary".to_owned(),
            format!(
                "SLO {} is burning its error budget {}x too fast ({})",
                slo.name,
                b.factor,
                b.tier.as_str()
            ),
        ),
        (
            "description".to_owned(),
            format!(
                "Error ratio above {threshold} ({}x the error budget {} of a {} target over {}) \
                 over both {} and {}.",
                b.factor,
                slo.error_budget(),
                slo.target,
                slo.window.length(),
                b.long_window,
                b.short_window
            ),
        ),
        (
            "runbook_url".to_owned(),
            "runbooks/slo-burn-rate.md".to_owned(),
        ),
        ("dashboard".to_owned(), dashboard_path(slo)),
    ]
}

/// The Grafana path of the SLO's service dashboard (`ballast slo dashboards` writes it with
/// the uid `ballast-slo-<service>`).
pub fn dashboard_path(slo: &Slo) -> String {
    format!("/d/ballast-slo-{}", slo.service)
}

/// The annotations of the no-data alert.
pub fn no_data_annotations(slo: &Slo) -> Vec<(String, String)> {
    vec![
        (
            "summary".to_owned(),
            format!(
                "SLO {} has no data: the SLI's series of service {} are missing",
                slo.name, slo.service
            ),
        ),
        (
            "runbook_url".to_owned(),
            "runbooks/slo-no-data.md".to_owned(),
        ),
        ("dashboard".to_owned(), dashboard_path(slo)),
    ]
}

/// A double-quoted YAML scalar (JSON string syntax is valid YAML).
pub(crate) fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn write_map(out: &mut String, indent: &str, key: &str, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}{key}:");
    for (k, v) in pairs {
        let _ = writeln!(out, "{indent}  {k}: {}", quote(v));
    }
}

/// Renders groups as a Prometheus rule file.
pub fn render_rule_file(header: &str, groups: &[Group]) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    out.push_str("groups:\n");
    for g in groups {
        let _ = writeln!(out, "  - name: {}", quote(&g.name));
        let _ = writeln!(out, "    interval: {}", g.interval);
        out.push_str("    rules:\n");
        for r in &g.rules {
            match r {
                Rule::Record {
                    record,
                    expr,
                    labels,
                } => {
                    let _ = writeln!(out, "      - record: {record}");
                    let _ = writeln!(out, "        expr: {}", quote(expr));
                    write_map(&mut out, "        ", "labels", labels);
                }
                Rule::Alert {
                    alert,
                    expr,
                    for_duration,
                    labels,
                    annotations,
                } => {
                    let _ = writeln!(out, "      - alert: {alert}");
                    let _ = writeln!(out, "        expr: {}", quote(expr));
                    if for_duration.as_secs() > 0 {
                        let _ = writeln!(out, "        for: {for_duration}");
                    }
                    write_map(&mut out, "        ", "labels", labels);
                    write_map(&mut out, "        ", "annotations", annotations);
                }
            }
        }
    }
    out
}

/// The rule file name of an SLO.
pub fn rule_file_name(slo: &Slo) -> String {
    format!("{}.rules.yaml", slo.name)
}

/// Rule files and `promtool test rules` files for every SLO, as `(file name, YAML text)`,
/// sorted by file name.
pub fn generate_rules(specs: &Specs, options: &RuleOptions) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for slo in &specs.slos {
        let header = format!(
            "Generated by `ballast slo rules` from {} (SLO {}): do not edit.\n\
             Target {} over {}: error budget {}.",
            slo.location
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            slo.name,
            slo.target,
            slo.window,
            slo.error_budget()
        );
        files.push((
            rule_file_name(slo),
            render_rule_file(&header, &slo_groups(slo, options)),
        ));
        if let Some(test) = promtool::test_file(slo, options) {
            files.push((format!("{}.test.yaml", slo.name), test));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// Every rule expression, SLO by SLO.
pub fn rule_expressions(specs: &Specs, options: &RuleOptions) -> Vec<String> {
    specs
        .slos
        .iter()
        .flat_map(|s| slo_groups(s, options))
        .flat_map(|g| g.rules.into_iter().map(|r| r.expr().to_owned()))
        .collect()
}
