//! The differential corpus, shared by `tests/differential.rs` and `examples/bench.rs`: one
//! OpenMetrics data set (raw series named as the kit exports them, edge cases, and the `slo:*`
//! series the recording rules produce, backfilled) and the queries run over it (hand-written
//! edge cases, every expression generated from `slo/`, every rule expression in `alerts/`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ballast_metrics::Labels;
use ballast_metrics::promql::{EngineOptions, QueryValue, range_query};
use ballast_metrics::storage::{Storage, StorageConfig};
use saphyr::{LoadableYamlNode, Yaml};

/// Services with SLOs but no hand-written edge-case data: their series start `SLO_HISTORY`
/// before `T0`, one sample a minute, so long windows see hours of history.
const SLO_SERVICES: [&str; 5] = [
    "gateway",
    "inventory",
    "notification",
    "product",
    "shipping",
];
/// How far before `T0` the SLO services' series start.
pub const SLO_HISTORY: i64 = 6 * 3600 * 1000;
/// Scrape interval of the SLO services' series and evaluation interval of the backfilled rules.
pub const SLO_STEP: i64 = 60_000;
/// Last instant the recording rules are backfilled at (covers every query time).
pub const RECORD_END: i64 = T0 + 131 * 60_000;

/// The repository root (`slo/`, `alerts/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Counters of the SLO services: incidents, a late series, a restart (counter reset), health
/// and metrics routes the SLIs must exclude.
fn slo_counters(out: &mut String, rng: &mut Rng) {
    let routes = ["/v1/a", "/v1/b/{id}", "/health/ready", "/metrics"];
    let codes = ["200", "404", "500", "503"];
    let start = T0 - SLO_HISTORY;
    for svc in SLO_SERVICES {
        for route in routes {
            for code in codes {
                if svc == "gateway" && code == "503" {
                    continue; // gateway has a 500 series that never moves, and no 503 series
                }
                let mut v = 0.0f64;
                let mut t = start;
                while t <= T0 + N * STEP {
                    if svc == "shipping" && code == "503" && t < T0 + 30 * 60_000 {
                        t += SLO_STEP;
                        continue; // the series appears mid-way
                    }
                    if svc == "shipping" && t == T0 + 70 * 60_000 {
                        v = 0.0; // restart: every shipping counter resets
                    }
                    let min = (t - T0) / 60_000;
                    let inc = match code {
                        "200" => 20 + rng.below(40),
                        "404" => rng.below(3),
                        "500" if svc == "gateway" => 0,
                        "500" if svc == "inventory" && (20..50).contains(&min) => {
                            10 + rng.below(20)
                        }
                        "500" if svc == "product" && (-300..60).contains(&min) => {
                            u64::from(rng.below(3) == 0)
                        }
                        "500" => u64::from(rng.below(40) == 0),
                        _ => u64::from(rng.below(25) == 0),
                    };
                    v += inc as f64;
                    writeln!(
                        out,
                        "http_requests_total{{service=\"{svc}\",route=\"{route}\",method=\"GET\",code=\"{code}\"}} {v} {}",
                        ts(t)
                    )
                    .unwrap();
                    t += SLO_STEP;
                }
            }
        }
    }
}

/// Latency histograms of the SLO services (none for notification: its latency SLI has no data).
fn slo_histograms(out: &mut String, rng: &mut Rng) {
    let routes = ["/v1/a", "/v1/b/{id}", "/health/ready", "/metrics"];
    let les = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    let start = T0 - SLO_HISTORY;
    for svc in SLO_SERVICES.iter().filter(|s| **s != "notification") {
        for route in routes {
            let mut counts = [0.0f64; 7];
            let mut sum = 0.0f64;
            let mut points: Vec<(i64, [f64; 7], f64)> = Vec::new();
            let mut t = start;
            while t <= T0 + N * STEP {
                if *svc == "shipping" && t == T0 + 70 * 60_000 {
                    counts = [0.0; 7];
                    sum = 0.0;
                }
                let min = (t - T0) / 60_000;
                let slow = *svc == "product" && (-120..40).contains(&min);
                let n = 20 + rng.below(30);
                for _ in 0..n {
                    let r = rng.below(100);
                    let b = if slow {
                        match r {
                            0..=40 => 2,
                            41..=80 => 3,
                            81..=95 => 4,
                            _ => 5,
                        }
                    } else {
                        match r {
                            0..=50 => 0,
                            51..=85 => 1,
                            86..=97 => 2,
                            98 => 3,
                            _ => 4,
                        }
                    };
                    sum += [0.03, 0.07, 0.2, 0.4, 0.8, 2.0][b];
                    for c in counts.iter_mut().skip(b) {
                        *c += 1.0;
                    }
                }
                points.push((t, counts, sum));
                t += SLO_STEP;
            }
            let labels = format!("service=\"{svc}\",route=\"{route}\",method=\"GET\"");
            for (bi, le) in les.iter().enumerate() {
                for (t, c, _) in &points {
                    writeln!(
                        out,
                        "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {} {}",
                        c[bi],
                        ts(*t)
                    )
                    .unwrap();
                }
            }
            for (t, c, _) in &points {
                writeln!(
                    out,
                    "http_request_duration_seconds_count{{{labels}}} {} {}",
                    c[6],
                    ts(*t)
                )
                .unwrap();
            }
            for (t, _, s) in &points {
                writeln!(
                    out,
                    "http_request_duration_seconds_sum{{{labels}}} {s} {}",
                    ts(*t)
                )
                .unwrap();
            }
        }
    }
}

/// A recording rule: the series `record` with `labels` set, computed from `expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRule {
    /// Recorded series name.
    pub record: String,
    /// PromQL.
    pub expr: String,
    /// Labels set on the result.
    pub labels: Vec<(String, String)>,
}

/// A rule file's rules: `(expr, Some(recording rule))` for recording rules, `(expr, None)` for
/// alerting rules.
type FileRules = Vec<(String, Option<RecordingRule>)>;

fn scalar_text(y: &Yaml) -> Option<String> {
    if let Some(s) = y.as_str() {
        return Some(s.to_owned());
    }
    if let Some(i) = y.as_integer() {
        return Some(i.to_string());
    }
    y.as_floating_point().map(|f| f.to_string())
}

/// Every Prometheus rule file under `alerts/` (any depth, `*.yaml` / `*.yml` with a top-level
/// `groups:`; routing and promtool test files have none), in path order, with its rules.
pub fn alert_rule_files() -> Vec<(PathBuf, FileRules)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&repo_root().join("alerts"), &mut paths);
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let docs = Yaml::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
        let mut rules = Vec::new();
        let mut is_rule_file = false;
        for doc in &docs {
            let Some(groups) = doc.as_mapping_get("groups").and_then(|g| g.as_sequence()) else {
                continue;
            };
            is_rule_file = true;
            for group in groups {
                let Some(list) = group.as_mapping_get("rules").and_then(|r| r.as_sequence()) else {
                    continue;
                };
                for rule in list {
                    let expr = rule
                        .as_mapping_get("expr")
                        .and_then(scalar_text)
                        .unwrap_or_else(|| panic!("{}: a rule without expr", path.display()));
                    let record =
                        rule.as_mapping_get("record")
                            .and_then(|r| r.as_str())
                            .map(|record| {
                                let labels = rule
                                    .as_mapping_get("labels")
                                    .and_then(|l| l.as_mapping())
                                    .map(|m| {
                                        m.iter()
                                            .filter_map(|(k, v)| {
                                                Some((k.as_str()?.to_owned(), scalar_text(v)?))
                                            })
                                            .collect()
                                    })
                                    .unwrap_or_default();
                                RecordingRule {
                                    record: record.to_owned(),
                                    expr: expr.clone(),
                                    labels,
                                }
                            });
                    rules.push((expr, record));
                }
            }
        }
        if is_rule_file {
            files.push((path, rules));
        }
    }
    files
}

/// The SLO specs of `slo/` (every problem is a test failure).
pub fn slo_specs() -> ballast_slo::Specs {
    let dir = repo_root().join("slo");
    ballast_slo::validate_dir(&dir).unwrap_or_else(|problems| {
        panic!(
            "slo/ does not validate:\n{}",
            problems
                .iter()
                .map(|p| format!("{p:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// Recording rules in evaluation order: those generated from `slo/`, then those of `alerts/`
/// files not already among them.
pub fn recording_rules(specs: &ballast_slo::Specs) -> Vec<RecordingRule> {
    let options = ballast_slo::RuleOptions::default();
    let mut out: Vec<RecordingRule> = Vec::new();
    for slo in &specs.slos {
        for group in ballast_slo::rules::slo_groups(slo, &options) {
            for rule in group.rules {
                if let ballast_slo::rules::Rule::Record {
                    record,
                    expr,
                    labels,
                } = rule
                {
                    out.push(RecordingRule {
                        record,
                        expr,
                        labels,
                    });
                }
            }
        }
    }
    for (_, rules) in alert_rule_files() {
        for r in rules.into_iter().filter_map(|(_, r)| r) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

/// Replaces Grafana's template variables with what a dashboard would send: `$__rate_interval`
/// and `$__range` become durations, `${service}` / `$service` a service with data.
pub fn substitute_grafana(expr: &str) -> String {
    const VARS: [(&str, &str); 12] = [
        ("${__rate_interval}", "5m"),
        ("$__rate_interval", "5m"),
        ("${__interval}", "1m"),
        ("$__interval", "1m"),
        ("${__range_s}", "3600"),
        ("$__range_s", "3600"),
        ("${__range}", "1h"),
        ("$__range", "1h"),
        ("${service}", "order"),
        ("$service", "order"),
        ("${slo}", "order-availability"),
        ("$slo", "order-availability"),
    ];
    let mut s = expr.to_owned();
    for (var, value) in VARS {
        s = s.replace(var, value);
    }
    s
}

fn om_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// The OpenMetrics text both systems load: the raw series plus every recording rule's series,
/// evaluated over the raw data (and the series recorded before it) by the embedded engine every
/// `SLO_STEP` from the first SLO sample to `RECORD_END`, as Prometheus' rule manager would.
pub fn dataset(rules: &[RecordingRule]) -> String {
    let mut text = generate_raw();
    let storage = Storage::new(StorageConfig {
        retention: std::time::Duration::from_secs(100 * 365 * 24 * 3600),
        max_bytes: usize::MAX,
        snapshot_path: None,
    })
    .unwrap();
    let mut raw = text.clone();
    raw.push_str("# EOF\n");
    ballast_metrics::import_openmetrics_text(&raw, &storage).unwrap();
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    for rule in rules {
        let value = range_query(
            &storage,
            &rule.expr,
            T0 - SLO_HISTORY,
            RECORD_END,
            SLO_STEP,
            EngineOptions::default(),
        )
        .unwrap_or_else(|e| panic!("recording rule {} ({}) fails: {e}", rule.record, rule.expr));
        let QueryValue::Matrix(series) = value else {
            panic!("range query of {} is not a matrix", rule.expr);
        };
        let family = families.entry(rule.record.clone()).or_default();
        for s in series {
            let mut labels = s.labels.clone();
            labels.set("__name__".into(), rule.record.clone());
            for (k, v) in &rule.labels {
                labels.set(k.clone(), v.clone());
            }
            let labels: Labels = labels;
            let body = labels
                .pairs()
                .iter()
                .filter(|(k, _)| k != "__name__")
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect::<Vec<_>>()
                .join(",");
            for (t, v) in &s.points {
                writeln!(
                    family,
                    "{}{{{body}}} {} {}",
                    rule.record,
                    om_value(*v),
                    ts(*t)
                )
                .unwrap();
            }
            storage.append_batch(s.points.iter().map(|(t, v)| (&labels, *t, *v)));
        }
    }
    for (name, body) in families {
        writeln!(text, "# TYPE {name} gauge").unwrap();
        text.push_str(&body);
    }
    text.push_str("# EOF\n");
    text
}

/// Every query of the differential corpus, without duplicates: the edge cases, then every
/// expression generated from `slo/` (rules and dashboard panels, Grafana variables
/// substituted), then every rule expression in `alerts/` files.
pub fn corpus(specs: &ballast_slo::Specs) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let generated = ballast_slo::all_expressions(specs)
        .into_iter()
        .map(|e| substitute_grafana(&e));
    let alerts = alert_rule_files()
        .into_iter()
        .flat_map(|(_, rules)| rules.into_iter().map(|(e, _)| substitute_grafana(&e)));
    for q in edge_case_corpus()
        .into_iter()
        .chain(generated)
        .chain(alerts)
    {
        if !out.contains(&q) {
            out.push(q);
        }
    }
    out
}

pub const T0: i64 = 1_700_000_000_000;
pub const STEP: i64 = 15_000;
pub const N: i64 = 480;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn ts(t: i64) -> String {
    format!("{}.{:03}", t / 1000, t % 1000)
}

/// The raw series, without `# EOF` (the SLO data and recorded series follow).
fn generate_raw() -> String {
    let mut rng = Rng(42);
    let mut out = String::new();
    out.push_str("# TYPE http_requests counter\n");
    let services = ["order", "payment", "user"];
    let routes = ["/v1/orders", "/v1/items"];
    let methods = ["GET", "POST"];
    let codes = ["200", "404", "500"];
    let mut k = 0;
    for svc in services {
        for route in routes {
            for method in methods {
                for code in codes {
                    k += 1;
                    if svc == "user" && method == "POST" && code == "500" {
                        continue; // sparse: this series never exists
                    }
                    let start = if k % 7 == 0 { 100 } else { 0 };
                    let end = if k % 5 == 0 { 300 } else { N };
                    let reset_at = if k % 4 == 0 { 200 } else { -1 };
                    let jitter = k % 3 == 0;
                    let mut v = 0.0f64;
                    for i in start..end {
                        if i == reset_at {
                            v = 0.0;
                        }
                        v += match code {
                            "200" => 5 + rng.below(11),
                            "404" => rng.below(2),
                            _ => rng.below(3),
                        } as f64;
                        let j = if jitter {
                            rng.below(3000) as i64 - 1500
                        } else {
                            0
                        };
                        let t = T0 + i * STEP + j;
                        writeln!(
                            out,
                            "http_requests_total{{service=\"{svc}\",route=\"{route}\",method=\"{method}\",code=\"{code}\"}} {v} {}",
                            ts(t)
                        )
                        .unwrap();
                    }
                }
            }
        }
    }
    slo_counters(&mut out, &mut rng);
    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    let les = ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"];
    for svc in services {
        for route in routes {
            for method in methods {
                let mut counts = [0.0f64; 6];
                let mut series: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 6];
                let reset = svc == "order" && route == "/v1/items";
                for i in 0..N {
                    if reset && i == 250 {
                        counts = [0.0; 6];
                    }
                    let n = 5 + rng.below(10);
                    for _ in 0..n {
                        let b = match rng.below(10) {
                            0..=2 => 0,
                            3..=5 => 1,
                            6 | 7 => 2,
                            8 => 3,
                            _ => 4 + rng.below(2) as usize,
                        };
                        for c in counts.iter_mut().skip(b) {
                            *c += 1.0;
                        }
                    }
                    for (bi, s) in series.iter_mut().enumerate() {
                        s.push((T0 + i * STEP, counts[bi]));
                    }
                }
                for (bi, le) in les.iter().enumerate() {
                    if svc == "payment" && *le == "0.25" {
                        continue; // sparse bucket
                    }
                    if svc == "user" && route == "/v1/items" && method == "POST" && *le == "+Inf" {
                        continue; // no +Inf bucket: histogram_quantile gives NaN
                    }
                    for (t, v) in &series[bi] {
                        writeln!(
                            out,
                            "http_request_duration_seconds_bucket{{service=\"{svc}\",route=\"{route}\",method=\"{method}\",le=\"{le}\"}} {v} {}",
                            ts(*t)
                        )
                        .unwrap();
                    }
                }
                let labels = format!("service=\"{svc}\",route=\"{route}\",method=\"{method}\"");
                for (t, v) in &series[5] {
                    writeln!(
                        out,
                        "http_request_duration_seconds_count{{{labels}}} {v} {}",
                        ts(*t)
                    )
                    .unwrap();
                }
                for ((t, all), (_, fast)) in series[5].iter().zip(&series[0]) {
                    let sum = all * 0.25 + fast * 0.01;
                    writeln!(
                        out,
                        "http_request_duration_seconds_sum{{{labels}}} {sum} {}",
                        ts(*t)
                    )
                    .unwrap();
                }
            }
        }
    }
    slo_histograms(&mut out, &mut rng);
    out.push_str("# TYPE queue_depth gauge\n");
    for svc in services {
        for inst in ["a:9000", "b:9000"] {
            let end = if svc == "user" && inst == "b:9000" {
                240
            } else {
                N
            };
            for i in 0..end {
                let v = if svc == "order" && inst == "a:9000" && i % 97 == 0 {
                    "NaN".to_string()
                } else {
                    format!("{}", rng.below(100) as f64 / 10.0)
                };
                writeln!(
                    out,
                    "queue_depth{{service=\"{svc}\",instance=\"{inst}\"}} {v} {}",
                    ts(T0 + i * STEP + 700)
                )
                .unwrap();
            }
        }
    }
    out
}

/// Hand-written edge cases over the raw data.
fn edge_case_corpus() -> Vec<String> {
    let mut q: Vec<String> = [
        "http_requests_total",
        "http_requests_total{service=\"order\"}",
        "http_requests_total{code!=\"200\"}",
        "http_requests_total{code=~\"5..\"}",
        "http_requests_total{route!~\"/v1/ord.*\",method=\"GET\"}",
        "http_requests_total offset 5m",
        "http_requests_total @ 1700003600",
        "http_requests_total{service=\"payment\"} offset -2m",
        "queue_depth",
        "{__name__=~\"queue_.*\", service=\"user\"}",
        "http_requests_total{service=\"user\"}[5m]",
        "queue_depth[2m] offset 1m",
        "absent(nonexistent_metric{job=\"x\",env=~\"p.*\"})",
        "absent(http_requests_total)",
        "absent_over_time(nonexistent[5m])",
        "absent_over_time(http_requests_total{service=\"order\"}[5m])",
        "clamp(queue_depth, 2, 8)",
        "clamp(queue_depth, 8, 2)",
        "clamp_min(queue_depth, 5)",
        "clamp_max(queue_depth, 5)",
        "abs(queue_depth - 5)",
        "time()",
        "vector(1)",
        "vector(time())",
        "scalar(sum(queue_depth))",
        "scalar(queue_depth)",
        "label_replace(http_requests_total, \"svc\", \"$1\", \"service\", \"(.*)er\")",
        "label_replace(queue_depth, \"code_class\", \"${1}xx\", \"instance\", \"(.).*\")",
        "label_replace(queue_depth, \"instance\", \"\", \"instance\", \".*\")",
        "-queue_depth",
        "2 * queue_depth",
        "queue_depth / 0",
        "queue_depth % 3",
        "queue_depth ^ 2",
        "queue_depth > 5",
        "queue_depth > bool 5",
        "5 < queue_depth",
        "5 >= bool queue_depth",
        "queue_depth == queue_depth",
        "queue_depth != bool queue_depth",
        "1 + 2 * 3",
        "2 > bool 1",
        "queue_depth{service=\"order\"} + on(instance) queue_depth{service=\"payment\"}",
        "queue_depth{service=\"order\"} - ignoring(service) queue_depth{service=\"user\"}",
        "queue_depth and queue_depth > 5",
        "queue_depth{service=\"order\"} or queue_depth{service=\"user\"}",
        "queue_depth unless on(service) queue_depth{instance=\"a:9000\"} > 5",
        "queue_depth or vector(0)",
        "sum by (service) (queue_depth) * on(service) group_left queue_depth",
        "queue_depth / on(service) group_left sum by (service) (queue_depth)",
        "sum by (service) (queue_depth) / on(service) group_right queue_depth",
        "http_requests_total / on(service, route, method) group_left sum by (service, route, method) (http_requests_total)",
        "count_values(\"v\", round(queue_depth))",
        "sort(queue_depth)",
        "sort_desc(queue_depth)",
        "timestamp(queue_depth)",
        "timestamp(abs(queue_depth))",
        "round(queue_depth / 3, 0.5)",
        "ceil(queue_depth / 3)",
        "floor(queue_depth / 3)",
        "sqrt(queue_depth)",
        "ln(queue_depth)",
        "exp(queue_depth / 10)",
        "sgn(queue_depth - 5)",
        "histogram_quantile(0.5, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))",
        "histogram_quantile(0.9, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))",
        "histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))",
        "histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[5m]))",
        "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[10m])))",
        "histogram_quantile(0, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        "histogram_quantile(1, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        "histogram_quantile(1.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        "histogram_quantile(0.75, http_request_duration_seconds_bucket)",
        "topk(3, rate(http_requests_total[5m]))",
        "bottomk(2, rate(http_requests_total[5m]))",
        "bottomk(3, rate(http_requests_total{code=\"404\"}[5m]))",
        "topk(4, rate(http_requests_total{code=\"404\"}[5m]))",
        "topk(1, rate(http_requests_total{code=\"404\"}[1m]))",
        "topk by (service) (1, queue_depth)",
        "bottomk without (instance) (1, queue_depth)",
        "topk(0, queue_depth)",
        "quantile(0.5, rate(http_requests_total[5m]))",
        "quantile by (service) (0.9, queue_depth)",
        "quantile(0.25, queue_depth)",
        "max_over_time(rate(http_requests_total[5m])[30m:1m])",
        "avg_over_time(sum(queue_depth)[10m:])",
        "rate(http_requests_total[5m:30s])",
        "min_over_time(queue_depth[10m:2m] offset 3m)",
        "max_over_time(deriv(queue_depth[5m])[20m:45s])",
        "1 - (sum by (service) (rate(http_requests_total{code!~\"5..\"}[1h])) / sum by (service) (rate(http_requests_total[1h])))",
        "sum by (service) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (service) (rate(http_requests_total[5m])) > bool 0.01",
        "sum(rate(http_requests_total{code=~\"5..\"}[5m])) by (service, route) / ignoring(code) group_left sum(rate(http_requests_total[5m])) by (service, route)",
        "rate(http_requests_total[5m]) * 60",
        "sum(increase(http_requests_total[1h])) by (code)",
        "predict_linear(queue_depth[10m], 600)",
        "predict_linear(http_requests_total[10m], 3600)",
        "rate(http_requests_total[5m] @ 1700003000)",
        "sum(http_requests_total @ 1700001000 offset 1m)",
        "count(http_requests_total) by (service)",
        "count without (code) (http_requests_total)",
        "group by (route) (http_requests_total)",
        "queue_depth @ start()",
        "sum(rate(http_requests_total[5m] @ end()))",
        "max_over_time(queue_depth[15m:1m] @ end())",
        "sum by (__name__) ({__name__=~\"http_requests_total|queue_depth\"})",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for w in ["1m", "5m", "10m"] {
        for f in ["rate", "increase", "irate", "resets", "changes"] {
            q.push(format!("{f}(http_requests_total[{w}])"));
        }
        for f in [
            "delta",
            "idelta",
            "deriv",
            "avg_over_time",
            "sum_over_time",
            "min_over_time",
            "max_over_time",
            "count_over_time",
            "last_over_time",
            "stddev_over_time",
            "stdvar_over_time",
            "present_over_time",
            "changes",
        ] {
            q.push(format!("{f}(queue_depth[{w}])"));
        }
        q.push(format!("quantile_over_time(0.9, queue_depth[{w}])"));
        q.push(format!("quantile_over_time(0.5, http_requests_total[{w}])"));
    }
    for agg in [
        "sum", "avg", "min", "max", "count", "stddev", "stdvar", "group",
    ] {
        q.push(format!("{agg}(queue_depth)"));
        q.push(format!(
            "{agg} by (service) (rate(http_requests_total[5m]))"
        ));
        q.push(format!(
            "{agg} without (code, method) (rate(http_requests_total[5m]))"
        ));
    }
    q
}
