//! Grafana dashboards generated from SLOs.
//!
//! - `slo-overview.json`: one row per SLO with its target, attainment over the window, error
//!   budget remaining and fastest burn (the highest burn rate over the recorded windows).
//! - `slo-<service>.json`: per SLO of the service, the SLI over time, the budget burn-down and
//!   the burn rate per window (with the alert thresholds as lines); then RED panels (rate,
//!   errors, duration) from the kit's uniform HTTP metrics.
//!
//! Every panel reads the templated `${datasource}` Prometheus data source and the series the
//! generated rules record. Output is deterministic: keys sorted, ids and positions assigned in
//! order, so the checked-in files can be compared with what the specs generate.

use serde_json::{Value, json};

use crate::rules::{series, sli_windows};
use crate::spec::{Slo, Specs};

/// Grafana's dashboard schema version the JSON follows.
pub const SCHEMA_VERSION: u64 = 39;

/// The routes excluded from RED panels (probes and scrapes), as in the shipped SLIs.
const EXCLUDED_ROUTES: &str = "route!~\"/health/.*|/metrics\"";

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

struct Layout {
    panels: Vec<Value>,
    next_id: u64,
    x: u64,
    y: u64,
    row_height: u64,
}

impl Layout {
    fn new() -> Layout {
        Layout {
            panels: Vec::new(),
            next_id: 1,
            x: 0,
            y: 0,
            row_height: 0,
        }
    }

    fn row(&mut self, title: &str) {
        self.newline();
        let id = self.take_id();
        self.panels.push(json!({
            "id": id,
            "type": "row",
            "title": title,
            "collapsed": false,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
            "panels": [],
        }));
        self.y += 1;
    }

    fn newline(&mut self) {
        if self.x > 0 {
            self.y += self.row_height;
            self.x = 0;
            self.row_height = 0;
        }
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn add(&mut self, mut panel: Value, w: u64, h: u64) {
        if self.x + w > 24 {
            self.newline();
        }
        let id = self.take_id();
        panel["id"] = json!(id);
        panel["gridPos"] = json!({"h": h, "w": w, "x": self.x, "y": self.y});
        panel["datasource"] = datasource();
        self.panels.push(panel);
        self.x += w;
        self.row_height = self.row_height.max(h);
    }
}

fn target(expr: &str, legend: &str, ref_id: usize) -> Value {
    let ref_id = char::from(b'A' + u8::try_from(ref_id % 26).unwrap_or(0)).to_string();
    json!({
        "datasource": datasource(),
        "expr": expr,
        "legendFormat": legend,
        "refId": ref_id,
    })
}

fn stat(title: &str, expr: &str, unit: &str, decimals: u64, thresholds: Value) -> Value {
    json!({
        "type": "stat",
        "title": title,
        "targets": [target(expr, "", 0)],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "decimals": decimals,
                "thresholds": {"mode": "absolute", "steps": thresholds},
                "color": {"mode": "thresholds"},
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        },
    })
}

fn timeseries(title: &str, targets: &[(String, String)], unit: &str, thresholds: Value) -> Value {
    let targets: Vec<Value> = targets
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| target(expr, legend, i))
        .collect();
    json!({
        "type": "timeseries",
        "title": title,
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": {"thresholdsStyle": {"mode": "line"}},
                "thresholds": {"mode": "absolute", "steps": thresholds},
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    })
}

fn step(color: &str, value: Option<String>) -> Value {
    match value {
        // Threshold values are exact decimals from the spec, written as JSON numbers.
        Some(v) => {
            json!({"color": color, "value": serde_json::from_str::<Value>(&v).unwrap_or(Value::Null)})
        }
        None => json!({"color": color, "value": Value::Null}),
    }
}

/// The error-budget burn rate over the recorded window `w` (`ratio / budget`).
fn burn_rate_expr(slo: &Slo, window: &str) -> String {
    format!(
        "{} / {}",
        series(&format!("slo:sli_error:ratio_rate{window}"), slo),
        slo.error_budget()
    )
}

fn fastest_burn_expr(slo: &Slo) -> String {
    let windows: Vec<String> = sli_windows(slo).iter().map(|w| w.to_string()).collect();
    format!(
        "max({{__name__=~\"slo:sli_error:ratio_rate({})\",slo=\"{}\",service=\"{}\"}}) / {}",
        windows.join("|"),
        slo.name,
        slo.service,
        slo.error_budget()
    )
}

fn overview_panels(specs: &Specs) -> Vec<Value> {
    let mut l = Layout::new();
    for slo in &specs.slos {
        l.row(&format!(
            "{} — {} over {}",
            slo.name,
            slo.target,
            slo.window.length()
        ));
        let full = slo.window.length();
        let objective = slo.target.fraction().to_string();
        l.add(
            stat(
                "Target",
                &series("slo:objective:ratio", slo),
                "percentunit",
                3,
                json!([step("blue", None)]),
            ),
            6,
            4,
        );
        l.add(
            stat(
                &format!("Attainment ({full})"),
                &format!(
                    "1 - {}",
                    series(&format!("slo:sli_error:ratio_rate{full}"), slo)
                ),
                "percentunit",
                3,
                json!([step("red", None), step("green", Some(objective))]),
            ),
            6,
            4,
        );
        l.add(
            stat(
                "Error budget remaining",
                &series("slo:error_budget:remaining_ratio", slo),
                "percentunit",
                1,
                json!([
                    step("red", None),
                    step("orange", Some("0.25".to_owned())),
                    step("green", Some("0.5".to_owned()))
                ]),
            ),
            6,
            4,
        );
        l.add(
            stat(
                "Fastest burn",
                &fastest_burn_expr(slo),
                "x",
                1,
                json!([
                    step("green", None),
                    step("orange", Some("1".to_owned())),
                    step("red", Some("6".to_owned()))
                ]),
            ),
            6,
            4,
        );
    }
    l.panels
}

fn service_panels(specs: &Specs, service: &str) -> Vec<Value> {
    let mut l = Layout::new();
    for slo in specs.slos.iter().filter(|s| s.service == service) {
        let full = slo.window.length();
        l.row(&format!("SLO {} — {} over {}", slo.name, slo.target, full));
        let sli = vec![
            (
                format!("1 - {}", series("slo:sli_error:ratio_rate5m", slo)),
                "SLI 5m".to_owned(),
            ),
            (
                format!("1 - {}", series("slo:sli_error:ratio_rate1h", slo)),
                "SLI 1h".to_owned(),
            ),
            (
                format!(
                    "1 - {}",
                    series(&format!("slo:sli_error:ratio_rate{full}"), slo)
                ),
                format!("SLI {full}"),
            ),
        ];
        l.add(
            timeseries(
                "SLI over time",
                &sli,
                "percentunit",
                json!([
                    step("red", None),
                    step("green", Some(slo.target.fraction().to_string()))
                ]),
            ),
            8,
            8,
        );
        l.add(
            timeseries(
                "Error budget remaining (burn-down)",
                &[(
                    series("slo:error_budget:remaining_ratio", slo),
                    "budget remaining".to_owned(),
                )],
                "percentunit",
                json!([step("red", None), step("green", Some("0".to_owned()))]),
            ),
            8,
            8,
        );
        let mut windows: Vec<String> = sli_windows(slo).iter().map(|w| w.to_string()).collect();
        windows.push(full.to_string());
        let burn: Vec<(String, String)> = windows
            .iter()
            .map(|w| (burn_rate_expr(slo, w), w.clone()))
            .collect();
        let mut steps = vec![step("green", None)];
        let mut factors: Vec<_> = slo.alerting.burn_rates.iter().map(|b| b.factor).collect();
        factors.sort();
        factors.dedup();
        for f in factors {
            steps.push(step("red", Some(f.to_string())));
        }
        l.add(
            timeseries("Burn rate per window", &burn, "x", Value::Array(steps)),
            8,
            8,
        );
    }
    let sel = format!("service=\"{service}\",{EXCLUDED_ROUTES}");
    l.row(&format!("{service}: rate, errors, duration"));
    l.add(
        timeseries(
            "Requests per second by route",
            &[(
                format!("sum by (route) (rate(http_requests_total{{{sel}}}[5m]))"),
                "{{route}}".to_owned(),
            )],
            "reqps",
            json!([step("green", None)]),
        ),
        8,
        8,
    );
    l.add(
        timeseries(
            "Error ratio (5xx)",
            &[(
                format!(
                    "sum(rate(http_requests_total{{{sel},code=~\"5..\"}}[5m])) / \
                     sum(rate(http_requests_total{{{sel}}}[5m]))"
                ),
                "5xx ratio".to_owned(),
            )],
            "percentunit",
            json!([step("green", None)]),
        ),
        8,
        8,
    );
    l.add(
        timeseries(
            "Duration quantiles",
            &[
                (
                    format!(
                        "histogram_quantile(0.5, sum by (le) \
                         (rate(http_request_duration_seconds_bucket{{{sel}}}[5m])))"
                    ),
                    "p50".to_owned(),
                ),
                (
                    format!(
                        "histogram_quantile(0.99, sum by (le) \
                         (rate(http_request_duration_seconds_bucket{{{sel}}}[5m])))"
                    ),
                    "p99".to_owned(),
                ),
            ],
            "s",
            json!([step("green", None), step("red", Some("0.5".to_owned()))]),
        ),
        8,
        8,
    );
    l.panels
}

fn dashboard(uid: &str, title: &str, tags: &[&str], panels: Vec<Value>) -> Value {
    json!({
        "annotations": {"list": []},
        "description": "Generated by `ballast slo dashboards` from slo/: do not edit.",
        "editable": false,
        "graphTooltip": 1,
        "id": Value::Null,
        "links": [],
        "panels": panels,
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "tags": tags,
        "templating": {"list": [{
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "includeAll": false,
            "multi": false,
            "options": [],
            "refresh": 1,
            "regex": "",
        }]},
        "time": {"from": "now-7d", "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "title": title,
        "uid": uid,
        "version": 1,
    })
}

/// Renders JSON with sorted keys and two-space indentation, independent of `serde_json`'s map
/// features.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0);
    out.push('\n');
    out
}

fn write_value(out: &mut String, v: &Value, depth: usize) {
    let pad = |d: usize| "  ".repeat(d);
    match v {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                write_value(out, &map[k.as_str()], depth + 1);
                if i + 1 < keys.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(depth));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(depth + 1));
                write_value(out, item, depth + 1);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(depth));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The dashboards as `(file name, JSON text)`: the overview, then one per service, sorted.
pub fn generate_dashboards(specs: &Specs) -> Vec<(String, String)> {
    let mut out = vec![(
        "slo-overview.json".to_owned(),
        canonical_json(&dashboard(
            "ballast-slo-overview",
            "Ballast SLOs — overview",
            &["ballast", "slo"],
            overview_panels(specs),
        )),
    )];
    for service in specs.services_with_slos() {
        out.push((
            format!("slo-{service}.json"),
            canonical_json(&dashboard(
                &format!("ballast-slo-{service}"),
                &format!("Ballast SLOs — {service}"),
                &["ballast", "slo", &service],
                service_panels(specs, &service),
            )),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every panel expression of every dashboard, in order.
pub fn panel_expressions(specs: &Specs) -> Vec<String> {
    let mut panels = overview_panels(specs);
    for service in specs.services_with_slos() {
        panels.extend(service_panels(specs, &service));
    }
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys() {
        let v = json!({"b": 1, "a": [true, {"d": null, "c": "x"}], "e": {}});
        assert_eq!(
            canonical_json(&v),
            "{\n  \"a\": [\n    true,\n    {\n      \"c\": \"x\",\n      \"d\": null\n    }\n  ],\n  \"b\": 1,\n  \"e\": {}\n}\n"
        );
    }
}
