//! Differential test: the same OpenMetrics data backfilled into a real Prometheus (with
//! promtool) and imported into the embedded store; a corpus of queries is evaluated through
//! both HTTP APIs and every answer must agree. Fails (does not skip) without the binaries.
//!
//! The data and the corpus live in `support/corpus.rs` (shared with `examples/bench.rs`): the
//! corpus holds the hand-written edge cases, every expression generated from `slo/` (recording
//! and alerting rules, dashboard panels) and every rule expression of any rule file under
//! `alerts/` (new files are picked up as they appear); the recorded `slo:*` series and those of
//! `alerts/` recording rules are backfilled into the data so both systems read the same ones.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/prometheus.rs"]
mod prometheus;

use std::sync::Arc;
use std::time::{Duration, Instant};

use corpus::T0;

use ballast_metrics::promql::QueryValue;
use ballast_metrics::{MetricSource, PrometheusSource, api_router, import_openmetrics};

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn normalize(v: QueryValue) -> Vec<(String, Vec<(i64, f64)>)> {
    let mut out: Vec<(String, Vec<(i64, f64)>)> = match v {
        QueryValue::Scalar { t, v } => vec![("<scalar>".into(), vec![(t, v)])],
        QueryValue::String { t, v } => vec![(format!("<string {v}>"), vec![(t, 0.0)])],
        QueryValue::Vector(vec) => vec
            .into_iter()
            .map(|s| (format!("{:?}", s.labels.pairs()), vec![(s.t, s.v)]))
            .collect(),
        QueryValue::Matrix(m) => m
            .into_iter()
            .map(|s| (format!("{:?}", s.labels.pairs()), s.points))
            .collect(),
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn agree(a: &ballast_metrics::Result<QueryValue>, b: &ballast_metrics::Result<QueryValue>) -> bool {
    match (a, b) {
        (Err(_), Err(_)) => true,
        (Ok(a), Ok(b)) => {
            if a.result_type() != b.result_type() {
                return false;
            }
            let (a, b) = (normalize(a.clone()), normalize(b.clone()));
            a.len() == b.len()
                && a.iter().zip(&b).all(|(x, y)| {
                    x.0 == y.0
                        && x.1.len() == y.1.len()
                        && x.1
                            .iter()
                            .zip(&y.1)
                            .all(|(p, q)| p.0 == q.0 && close(p.1, q.1))
                })
        }
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_engine_agrees_with_prometheus() {
    prometheus::require_binaries();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let specs = corpus::slo_specs();
    let rules = corpus::recording_rules(&specs);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.om");
    std::fs::write(&file, corpus::dataset(&rules)).unwrap();
    prometheus::backfill(&file, dir.path());
    let prom_server = prometheus::start(dir.path()).await;

    let storage = Arc::new(import_openmetrics(&file).unwrap());
    let storage_stats = (
        storage.series_count(),
        storage.sample_count(),
        storage.bytes_per_sample(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, api_router(storage)).await.unwrap();
    });

    let prom = PrometheusSource::new(&prom_server.url, Duration::from_secs(30)).unwrap();
    let ours = PrometheusSource::new(&format!("http://{addr}"), Duration::from_secs(30)).unwrap();

    // Wait until Prometheus has loaded the backfilled blocks.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = prom.query("count(queue_depth)", T0 + 60_000).await;
        if matches!(&r, Ok(QueryValue::Vector(v)) if !v.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "prometheus has no data: {r:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let times = [
        T0 + 45_000,
        T0 + 10 * 60_000,
        T0 + 37 * 60_000 + 7_000,
        T0 + 61 * 60_000,
        T0 + 90 * 60_000 + 500,
        T0 + 119 * 60_000,
        T0 + 123 * 60_000,
        T0 + 126 * 60_000,
    ];
    if let Ok(q) = std::env::var("DIFF_DEBUG_QUERY") {
        let t: i64 = std::env::var("DIFF_DEBUG_TIME").unwrap().parse().unwrap();
        println!("prom: {:?}", prom.query(&q, t).await);
        println!("ours: {:?}", ours.query(&q, t).await);
    }
    let queries = corpus::corpus(&specs);
    println!(
        "{} queries, {} recording rules backfilled",
        queries.len(),
        rules.len()
    );
    assert!(queries.len() >= 150, "only {} queries", queries.len());
    let mut failures = Vec::new();
    let mut evaluated = 0;
    // Queries whose Prometheus answer is an empty vector at every instant: agreement on them
    // proves little, so the data must keep them few.
    let mut always_empty = Vec::new();
    for q in &queries {
        let mut empty = true;
        for &t in &times {
            let a = prom.query(q, t).await;
            let b = ours.query(q, t).await;
            evaluated += 1;
            if !matches!(&a, Ok(QueryValue::Vector(v)) if v.is_empty()) {
                empty = false;
            }
            if !agree(&a, &b) {
                failures.push(format!(
                    "QUERY {q} @ {t}\n  prometheus: {a:?}\n  embedded:   {b:?}"
                ));
            }
        }
        if empty {
            always_empty.push(q.clone());
        }
    }
    println!(
        "{} queries answer an empty vector at every instant:\n  {}",
        always_empty.len(),
        always_empty.join("\n  ")
    );
    assert!(
        always_empty.len() * 10 <= queries.len(),
        "{} of {} queries are empty at every instant: the data no longer exercises the corpus",
        always_empty.len(),
        queries.len()
    );
    // Range queries, including steps that do not divide the data interval.
    let mut range_queries = 0;
    for q in queries.iter().filter(|q| {
        let ty = ballast_metrics::promql::parse(q).unwrap().value_type();
        !matches!(
            ty,
            promql_parser::parser::value::ValueType::Matrix
                | promql_parser::parser::value::ValueType::String
        )
    }) {
        range_queries += 1;
        for (start, end, step) in [
            (T0, T0 + 30 * 60_000, 60_000),
            (T0 + 50 * 60_000, T0 + 130 * 60_000, 37_000),
        ] {
            let a = prom.query_range(q, start, end, step).await;
            let b = ours.query_range(q, start, end, step).await;
            evaluated += 1;
            if !agree(&a, &b) {
                failures.push(format!(
                    "RANGE QUERY {q} [{start}..{end} step {step}]\n  prometheus: {a:?}\n  embedded:   {b:?}"
                ));
            }
        }
    }
    assert!(range_queries >= 150, "only {range_queries} range queries");
    println!(
        "{evaluated} evaluations; embedded store: {} series, {} samples, {:.2} bytes/sample",
        storage_stats.0, storage_stats.1, storage_stats.2
    );
    for f in failures.iter().take(40) {
        println!("{f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} of {evaluated} evaluations disagree ({} queries)",
        failures.len(),
        queries.len()
    );
}
