//! Agreement with a real Prometheus: the rule file `ballast slo rules` generates, loaded into
//! Prometheus 2.42 and evaluated live by its rule manager, and the SLO engine, reading the same
//! data, give the same error ratio over every window (so the same burn rates: a burn rate is the
//! error ratio over the budget, 0.0005 here) and the same error budget remaining. Fails (does
//! not skip) without `prometheus` and `promtool` on `PATH`.
//!
//! The data: four days of request counters of one service, scraped every 30 s, ending at `end`,
//! the last whole minute before the test starts: 20 requests a second, a 0.02 % baseline error
//! ratio and five incidents, placed so that every window from 5m to 3d holds a different set of
//! them and none is within 10 minutes of any window's start or end (see [`INCIDENTS`]). They
//! are backfilled with `promtool tsdb create-blocks-from openmetrics`.
//!
//! The full-window rule (`slo:sli_error:ratio_rate30d`) sums the *recorded* 5m rates, which a
//! Prometheus started now has not recorded. So a first Prometheus, without rules, evaluates the
//! two 5m rate rules' own expressions over the four days every 5 s (the evaluation interval used
//! here); the results are backfilled under the rules' series names and labels, which is what its
//! rule manager would have recorded; a second Prometheus starts on all of it with the generated
//! rule file. The file is generated with 5 s group intervals instead of the default 30 s and 5m
//! so that every group evaluates within seconds; the expressions do not depend on the intervals
//! (asserted). The test waits (bounded) until every rule is healthy, the SLI and full-window
//! groups have evaluated at least twice, and the SLI group has evaluated in the second half of a
//! minute (see below), and reads the recorded ratios and budget remaining at that evaluation.
//!
//! The engine (default configuration: 1-minute steps, raw reads) runs over the same data three
//! ways: the embedded store importing the same OpenMetrics file, the running Prometheus' raw
//! series through `PrometheusSource`, and the same Prometheus' recorded 5m rates
//! (`SliReads::Recorded`, what the engine uses beside a Prometheus that evaluates the rules).
//!
//! Tolerance: 1 % relative (plus 1e-9 absolute), as in `agreement.rs`. Where the two can differ,
//! and why:
//! - When they evaluate. The rule manager evaluates at its own instant `T` (its group's offset
//!   within the interval), the engine at the end `E` of a whole minute. `rate(x[W])` reads the
//!   samples in `[T - W, T]`; the bad and the total series are scraped at the same instants, so
//!   extrapolation scales both alike and the recorded ratio is exactly the ratio of the counters'
//!   increases from the first to the last sample in range. The engine's window is the sum of the
//!   whole-minute increases in `(E - W, E]`. With `E` the minute after `T` and `T` in the second
//!   half of its minute, the first sample in range is the one at `E - W` and both cover the same
//!   increases: the test reads the rules at such an evaluation and runs the engine at that `E`.
//!   At an evaluation in the first half of a minute, the rule's range would start one scrape
//!   later and leave out 30 s the engine counts: 1/60 of the weight of a 30m window, about 1.7 %
//!   with these incidents (a control asserts that a whole minute off, 3.3 %, fails). The data end
//!   before `T` (Prometheus refuses samples older than a backfilled block's end, so the data
//!   cannot run into the future); the engine's steps after the end read nothing, and both see
//!   the same last sample. This holds while `T` is less than 5 minutes after the data's end
//!   (asserted), which bounds the time the setup may take.
//! - Buckets. The engine reads 6h from 15-minute buckets and 1d, 3d, 30d from 1-hour buckets,
//!   interpolating the oldest one: exact when traffic is even within it, as it is here.
//! - The full window. The rule sums recorded 5m rates (one sample every 5 s), the engine counts
//!   the events. Each event weighs the same in both except within 5 minutes of the data's first
//!   and last sample (a 5m rate there covers less than 5 minutes of data and is extrapolated),
//!   between the last backfilled rate and Prometheus' start (no rate recorded) and after it
//!   (rates recorded live): a few minutes of baseline traffic in four days, well under 0.1 %.
//! - Recorded reads. Each engine step reads the latest recorded 5m rate, so a window's events
//!   are smoothed over 5 minutes at both ends, and after the data end the steps read the last
//!   backfilled rate again until Prometheus records live ones (which extrapolate past the data):
//!   minutes of baseline traffic weighed too much, a few percent of the 30m and 1h windows'
//!   ratios (3 to 5 % over 30m, 1.5 to 2.6 % over 1h, about 1 % over 2h in the runs so far).
//!   Those are printed, and compared for the full window and the budget only, where the same
//!   minutes weigh under 0.1 %.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// Shared with the metrics crate's differential test; `start` (fixed config) is not used here.
#[allow(dead_code)]
#[path = "../../metrics/tests/support/prometheus.rs"]
mod prometheus;

use ballast_metrics::promql::QueryValue;
use ballast_metrics::{EmbeddedSource, MetricSource, PrometheusSource, import_openmetrics};
use ballast_slo::engine::{Engine, EngineConfig, STATUS_WINDOWS, SloStatus};
use ballast_slo::rules::{Rule, rule_expressions, series, slo_groups};
use ballast_slo::{
    RuleOptions, SliReads, SpecDuration, ValidateOptions, generate_rules, validate_texts,
};
use prometheus::Prometheus;

const SPEC: &str = r#"version: "prometheus/v1"
service: "shop"
slos:
  - name: "availability"
    objective: 99.95
    sli:
      events:
        error_query: sum(rate(http_requests_total{service="shop",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{service="shop"}[{{.window}}]))
    alerting:
      page_alert:
        labels:
          severity: page
      ticket_alert:
        labels:
          severity: ticket
"#;

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// The scrape interval of the synthetic counters.
const SCRAPE: i64 = 30 * SEC;
/// How much data there is before `end`.
const HISTORY: i64 = 4 * DAY;
/// The rule groups' evaluation interval, and the step of the backfilled 5m rates.
const EVAL: i64 = 5 * SEC;
/// The SLO's error budget (99.95 %).
const BUDGET: f64 = 0.0005;
/// Requests per second, constant.
const TOTAL_RATE: f64 = 20.0;
/// The error ratio outside incidents.
const BASELINE: f64 = 0.0002;
/// Incidents as (from, to, error ratio): the scrape intervals ending in `(end - from, end - to]`.
/// Every window from 5m to 3d holds a different set, and none is within 10 minutes of a window's
/// start (which is `end - W` plus the minutes between the data's end and the evaluation, under
/// 5) or within an hour of the 15-minute or 1-hour bucket the engine interpolates there.
const INCIDENTS: [(i64, i64, f64); 5] = [
    (20 * MIN, 15 * MIN, 0.05),             // 30m and longer
    (50 * MIN, 40 * MIN, 0.01),             // 1h and longer
    (4 * HOUR, 3 * HOUR + 30 * MIN, 0.005), // 6h and longer
    (20 * HOUR, 19 * HOUR, 0.005),          // 1d and longer
    (60 * HOUR, 58 * HOUR, 0.002),          // 3d and the full window
];
/// The longest the test waits for Prometheus to start or to evaluate.
const WAIT: Duration = Duration::from_secs(90);

/// The error ratio of the scrape interval ending at `t`.
fn error_ratio(t: i64, end: i64) -> f64 {
    let ago = end - t;
    INCIDENTS
        .iter()
        .find(|(from, to, _)| ago >= *to && ago < *from)
        .map_or(BASELINE, |(_, _, r)| *r)
}

/// `ms` as an OpenMetrics timestamp (seconds).
fn om_ts(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// The counters from `start` to `end`, every 30 s, as OpenMetrics with timestamps.
fn raw_openmetrics(start: i64, end: i64) -> String {
    let per_scrape = TOTAL_RATE * (SCRAPE / SEC) as f64;
    let (mut ok, mut bad) = (0.0f64, 0.0f64);
    let mut out = String::new();
    let mut t = start;
    while t <= end {
        let errors = per_scrape * error_ratio(t, end);
        ok += per_scrape - errors;
        bad += errors;
        let ts = om_ts(t);
        writeln!(
            out,
            "http_requests_total{{service=\"shop\",code=\"200\"}} {ok} {ts}"
        )
        .unwrap();
        writeln!(
            out,
            "http_requests_total{{service=\"shop\",code=\"500\"}} {bad} {ts}"
        )
        .unwrap();
        t += SCRAPE;
    }
    out.push_str("# EOF\n");
    out
}

/// `GET path` on Prometheus, as JSON.
async fn get_json(prom: &Prometheus, path: &str) -> serde_json::Value {
    let text = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(format!("{}{path}", prom.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The value of a one-sample instant vector; `None` when empty.
fn single(v: QueryValue) -> Option<f64> {
    match v {
        QueryValue::Vector(s) if s.is_empty() => None,
        QueryValue::Vector(s) => {
            assert_eq!(s.len(), 1, "{s:?}");
            Some(s[0].v)
        }
        other => panic!("not a vector: {other:?}"),
    }
}

/// `expr` at `t`, with the timestamp of its sample (ms).
async fn sample_at(prom: &PrometheusSource, expr: &str, t: i64) -> Option<(f64, i64)> {
    let v = single(prom.query(expr, t).await.unwrap())?;
    let ts = single(prom.query(&format!("timestamp({expr})"), t).await.unwrap())?;
    Some((v, (ts * 1000.0).round() as i64))
}

/// One recording rule's series, evaluated by Prometheus from `start` to `end` every `EVAL`, as
/// OpenMetrics lines named and labelled as the rule records them.
async fn recorded_openmetrics(
    prom: &PrometheusSource,
    rule: &Rule,
    start: i64,
    end: i64,
    out: &mut String,
) {
    let Rule::Record {
        record,
        expr,
        labels,
    } = rule
    else {
        panic!("not a recording rule: {rule:?}")
    };
    let labels = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect::<Vec<_>>()
        .join(",");
    writeln!(out, "# TYPE {record} gauge").unwrap();
    let mut from = start;
    let mut points = 0;
    while from <= end {
        // Prometheus answers at most 11 000 points a query.
        let to = (from + EVAL * 9_999).min(end);
        let QueryValue::Matrix(m) = prom.query_range(expr, from, to, EVAL).await.unwrap() else {
            panic!("{expr}: not a matrix")
        };
        assert!(m.len() <= 1, "{expr}: {} series", m.len());
        for s in m {
            assert!(s.labels.pairs().is_empty(), "{expr}: labels {:?}", s.labels);
            for (t, v) in s.points {
                writeln!(out, "{record}{{{labels}}} {v} {}", om_ts(t)).unwrap();
                points += 1;
            }
        }
        from = to + EVAL;
    }
    assert!(points > 0, "{expr}: no points");
}

/// The engine's status at `at` over `source`.
async fn engine_status(
    specs: &ballast_slo::Specs,
    source: Arc<dyn MetricSource>,
    reads: SliReads,
    at: i64,
) -> SloStatus {
    let mut engine = Engine::new(
        specs,
        source,
        EngineConfig {
            reads,
            ..EngineConfig::default()
        },
    )
    .unwrap();
    let errors = engine.tick(at).await;
    assert!(errors.is_empty(), "{errors:?}");
    let report = engine.report();
    assert_eq!(report.evaluated_at_ms, at);
    report.slos.into_iter().next().unwrap()
}

fn engine_ratio(status: &SloStatus, window: &str) -> f64 {
    status
        .burn_rates
        .iter()
        .find(|b| b.window == window || b.window == format!("{window} (full)"))
        .and_then(|b| b.error_ratio)
        .unwrap_or_else(|| panic!("engine has no error ratio over {window}"))
}

/// One compared figure: the rules' and the engine's three.
#[derive(Debug)]
struct Row {
    what: String,
    rules: f64,
    /// Embedded raw, Prometheus raw, Prometheus recorded.
    engine: Vec<f64>,
    /// How many of `engine` must agree (recorded reads only over the full window).
    compared: usize,
}

fn rel_diff(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-300)
}

fn close(engine: f64, rules: f64) -> bool {
    (engine - rules).abs() <= 1e-9 + 0.01 * engine.abs().max(rules.abs())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_agrees_with_prometheus_evaluating_the_generated_rules() {
    prometheus::require_binaries();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let began = Instant::now();
    let specs = validate_texts(
        &[(PathBuf::from("shop.yaml"), SPEC.to_string())],
        &ValidateOptions::default(),
    )
    .unwrap();
    let slo = specs.slos[0].clone();

    // The rule file, with every group evaluated every 5 s; only the intervals differ from the
    // default rules.
    let options = RuleOptions {
        evaluation_interval: SpecDuration::from_secs((EVAL / SEC).unsigned_abs()),
        window_interval: SpecDuration::from_secs((EVAL / SEC).unsigned_abs()),
    };
    assert_eq!(
        rule_expressions(&specs, &options),
        rule_expressions(&specs, &RuleOptions::default())
    );
    let dir = tempfile::tempdir().unwrap();
    let rule_files: Vec<PathBuf> = generate_rules(&specs, &options)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".rules.yaml"))
        .map(|(name, text)| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    assert_eq!(rule_files.len(), 1);
    let groups = slo_groups(&slo, &options);
    let rule = |record: &str| -> &Rule {
        groups
            .iter()
            .flat_map(|g| &g.rules)
            .find(|r| matches!(r, Rule::Record { record: n, .. } if n == record))
            .unwrap_or_else(|| panic!("no rule {record}"))
    };

    // Four days of counters up to the last whole minute, backfilled.
    let end = now_ms().div_euclid(MIN) * MIN;
    let start = end - HISTORY;
    let raw_file = dir.path().join("raw.om");
    std::fs::write(&raw_file, raw_openmetrics(start, end)).unwrap();
    prometheus::backfill(&raw_file, dir.path());

    // The 5m rates the rule manager would have recorded, evaluated by Prometheus, backfilled.
    let mut recorded = String::new();
    {
        let first =
            prometheus::start_with(dir.path(), "raw", "global:\n  scrape_interval: 1m\n").await;
        let prom = PrometheusSource::new(&first.url, Duration::from_secs(30)).unwrap();
        for record in ["slo:sli_error:rate5m", "slo:sli_total:rate5m"] {
            recorded_openmetrics(&prom, rule(record), start, end, &mut recorded).await;
        }
    }
    recorded.push_str("# EOF\n");
    let recorded_file = dir.path().join("recorded.om");
    std::fs::write(&recorded_file, recorded).unwrap();
    prometheus::backfill(&recorded_file, dir.path());

    // Prometheus with the generated rules.
    let mut config = format!(
        "global:\n  scrape_interval: 1m\n  evaluation_interval: {}s\nrule_files:\n",
        EVAL / SEC
    );
    for f in &rule_files {
        writeln!(config, "  - {}", f.display()).unwrap();
    }
    let backfilled = began.elapsed();
    let server = prometheus::start_with(dir.path(), "rules", &config).await;
    let prom = PrometheusSource::new(&server.url, Duration::from_secs(30)).unwrap();

    // Wait until every rule is healthy, the SLI and full-window groups have evaluated twice,
    // and the SLI group has evaluated in the second half of a minute (`t`).
    let sli_probe = series("slo:sli_error:ratio_rate5m", &slo);
    let window_probe = series("slo:error_budget:remaining_ratio", &slo);
    let deadline = Instant::now() + WAIT;
    let t = loop {
        assert!(
            Instant::now() < deadline,
            "prometheus did not evaluate the rules in time: {}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rules = get_json(&server, "/api/v1/rules").await;
        let loaded = rules["data"]["groups"].as_array().unwrap();
        assert_eq!(loaded.len(), groups.len(), "{rules}");
        let mut healthy = true;
        for g in loaded {
            for r in g["rules"].as_array().unwrap() {
                assert_ne!(
                    r["health"], "err",
                    "rule {} fails: {}",
                    r["name"], r["lastError"]
                );
                healthy &= r["health"] == "ok";
            }
        }
        if !healthy {
            continue;
        }
        let Some((_, t)) = sample_at(&prom, &sli_probe, now_ms()).await else {
            continue;
        };
        let evaluations = |probe: &str| format!("count_over_time({probe}[1m])");
        let twice = single(prom.query(&evaluations(&sli_probe), t).await.unwrap())
            .is_some_and(|n| n >= 2.0)
            && single(prom.query(&evaluations(&window_probe), t).await.unwrap())
                .is_some_and(|n| n >= 2.0);
        if twice && t.rem_euclid(MIN) > 30 * SEC {
            break t;
        }
    };
    assert!(t > end, "evaluated at {t}, before the data's end {end}");
    let at = (t.div_euclid(MIN) + 1) * MIN;
    assert!(
        at - end < 5 * MIN,
        "the rules were evaluated {} s after the data's end: the setup is too slow for the 5m \
         window to hold data",
        (t - end) / SEC
    );
    let evaluated = began.elapsed();

    // The engine at the end of that minute: over the embedded store, and over Prometheus.
    let store = Arc::new(import_openmetrics(&raw_file).unwrap());
    let embedded: Arc<dyn MetricSource> = Arc::new(EmbeddedSource::new(store));
    let remote: Arc<dyn MetricSource> = Arc::new(prom.clone());
    let engines = [
        (
            "embedded, raw",
            engine_status(&specs, embedded.clone(), SliReads::Raw, at).await,
        ),
        (
            "prometheus, raw",
            engine_status(&specs, remote.clone(), SliReads::Raw, at).await,
        ),
        (
            "prometheus, recorded",
            engine_status(&specs, remote, SliReads::Recorded, at).await,
        ),
    ];
    // A control: one step earlier, the engine's 30m window is a minute off the rule's.
    let early = engine_status(&specs, embedded, SliReads::Raw, at - MIN).await;

    // The rules' figures at `t`; the full-window group evaluates at its own offset (`t_full`).
    let full = slo.window.length().to_string();
    let mut rows: Vec<Row> = Vec::new();
    let mut t_full = 0;
    for w in STATUS_WINDOWS
        .iter()
        .map(ToString::to_string)
        .chain([full.clone()])
    {
        let expr = series(&format!("slo:sli_error:ratio_rate{w}"), &slo);
        let (rules, ts) = sample_at(&prom, &expr, t)
            .await
            .unwrap_or_else(|| panic!("prometheus has no {expr}"));
        let compared = if w == full {
            t_full = ts;
            3
        } else {
            assert_eq!(
                ts, t,
                "{expr} recorded at {ts}, not with the SLI group at {t}"
            );
            2
        };
        rows.push(Row {
            engine: engines.iter().map(|(_, s)| engine_ratio(s, &w)).collect(),
            what: format!("{w} (burn {:.3})", rules / BUDGET),
            rules,
            compared,
        });
    }
    let (remaining, ts) = sample_at(&prom, &window_probe, t).await.unwrap();
    assert_eq!(
        ts, t_full,
        "budget remaining and the full-window ratio evaluated apart"
    );
    rows.push(Row {
        what: "budget remaining".to_owned(),
        rules: remaining,
        engine: engines
            .iter()
            .map(|(_, s)| s.budget.remaining_ratio)
            .collect(),
        compared: 3,
    });
    let rules_30m = rows[1].rules;
    let early_30m = engine_ratio(&early, "30m");

    println!(
        "data {start} .. {end} (unix ms); rules evaluated at {t} (+{:.1} s after the data), the \
         full window at {t_full}; engine at {at}",
        (t - end) as f64 / 1000.0
    );
    println!(
        "backfilled after {backfilled:.1?}, rules evaluated after {evaluated:.1?}, engines done \
         after {:.1?}",
        began.elapsed()
    );
    println!(
        "{:<22} {:>14} {:>14} {:>16} {:>20}  max rel diff (compared)",
        "error ratio (rules)", "prometheus", engines[0].0, engines[1].0, engines[2].0
    );
    let mut failures = Vec::new();
    for row in &rows {
        let worst = row.engine[..row.compared]
            .iter()
            .map(|e| rel_diff(*e, row.rules))
            .fold(0.0, f64::max);
        println!(
            "{:<22} {:>14.8} {:>14.8} {:>16.8} {:>20.8}  {worst:.2e}",
            row.what, row.rules, row.engine[0], row.engine[1], row.engine[2]
        );
        for (e, (name, _)) in row.engine[..row.compared].iter().zip(&engines) {
            if !close(*e, row.rules) {
                failures.push(format!(
                    "{}: engine ({name}) {e} vs rules {}",
                    row.what, row.rules
                ));
            }
        }
    }
    println!(
        "control: the engine a minute early reads {early_30m:.8} over 30m, {:.1} % off",
        100.0 * rel_diff(early_30m, rules_30m)
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        !close(early_30m, rules_30m),
        "a minute off, the engine still agrees over 30m: {early_30m} vs {rules_30m}"
    );

    // Every window holds different incidents: the comparison is not of one figure eight times.
    let mut ratios: Vec<f64> = rows[..rows.len() - 1].iter().map(|r| r.rules).collect();
    ratios.dedup_by(|a, b| rel_diff(*a, *b) < 0.05);
    assert_eq!(ratios.len(), rows.len() - 1, "{rows:?}");
    assert!(
        (0.1..0.5).contains(&remaining),
        "budget remaining {remaining}"
    );
}
