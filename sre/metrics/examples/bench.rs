//! Benchmark of the embedded metrics layer against Prometheus on the same data, in one run
//! (`docs/BENCHMARKS.md`): the differential corpus' OpenMetrics data is backfilled into a real
//! Prometheus with promtool and imported into the embedded store (both timed: ingestion samples
//! per second; bytes per sample of each), then every corpus query is asked N times of both
//! through their `/api/v1/query` over HTTP with the same client, interleaved.
//!
//! `cargo run --release -p ballast-metrics --example bench -- [--iterations N] [--per-query]`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/support/corpus.rs"]
mod corpus;
#[path = "../tests/support/prometheus.rs"]
mod prometheus;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ballast_metrics::storage::{Storage, StorageConfig};
use ballast_metrics::{api_router, import_openmetrics_text};
use corpus::T0;

/// Evaluation instants, cycled through by the iterations (the differential test's).
const TIMES: [i64; 8] = [
    T0 + 45_000,
    T0 + 10 * 60_000,
    T0 + 37 * 60_000 + 7_000,
    T0 + 61 * 60_000,
    T0 + 90 * 60_000 + 500,
    T0 + 119 * 60_000,
    T0 + 123 * 60_000,
    T0 + 126 * 60_000,
];

fn dir_bytes(dir: &Path, only_chunks: bool, inside_chunks: bool) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            let chunks = inside_chunks || p.file_name().is_some_and(|n| n == "chunks");
            total += dir_bytes(&p, only_chunks, chunks);
        } else if !only_chunks || inside_chunks {
            total += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn timed_query(http: &reqwest::Client, base: &str, q: &str, t: i64) -> (Duration, bool) {
    let time = format!("{}.{:03}", t / 1000, t % 1000);
    let started = Instant::now();
    let resp = http
        .post(format!("{base}/api/v1/query"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("query", q), ("time", time.as_str())]))
        .send()
        .await
        .unwrap();
    let ok = resp.status().is_success();
    let body = resp.bytes().await.unwrap();
    let elapsed = started.elapsed();
    (elapsed, ok && !body.is_empty())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let iterations: usize = args
        .iter()
        .position(|a| a == "--iterations")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("--iterations takes a number"))
        .unwrap_or(20);
    let per_query = args.iter().any(|a| a == "--per-query");
    prometheus::require_binaries();
    let _ = rustls::crypto::ring::default_provider().install_default();

    eprintln!("generating the data set (recording rules backfilled)...");
    let specs = corpus::slo_specs();
    let rules = corpus::recording_rules(&specs);
    let text = corpus::dataset(&rules);
    let queries = corpus::corpus(&specs);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.om");
    std::fs::write(&file, &text).unwrap();

    eprintln!("ingesting into the embedded store...");
    let storage = Storage::new(StorageConfig {
        retention: Duration::from_secs(100 * 365 * 24 * 3600),
        max_bytes: usize::MAX,
        snapshot_path: None,
    })
    .unwrap();
    let started = Instant::now();
    let stats = import_openmetrics_text(&text, &storage).unwrap();
    let embedded_ingest = started.elapsed();
    let samples = stats.appended;
    assert_eq!(stats.rejected, 0, "the embedded store rejected samples");

    eprintln!("backfilling Prometheus with promtool...");
    let promtool_ingest = prometheus::backfill(&file, dir.path());
    let tsdb = dir.path().join("tsdb");
    let prom_total_bytes = dir_bytes(&tsdb, false, false);
    let prom_chunk_bytes = dir_bytes(&tsdb, true, false);
    let server = prometheus::start(dir.path()).await;

    let series = storage.series_count();
    let bytes_per_sample = storage.bytes_per_sample();
    let storage = Arc::new(storage);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ours = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api_router(storage)).await.unwrap() });

    let http = reqwest::Client::new();
    // Warm-up: one round of every query on both (also waits for Prometheus' blocks).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let resp = http
            .post(format!("{}/api/v1/query", server.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("query", "count(queue_depth)"),
                ("time", &format!("{}", T0 / 1000 + 60)),
            ]))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if resp.contains("\"value\"") {
            break;
        }
        assert!(Instant::now() < deadline, "prometheus has no data: {resp}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for q in &queries {
        timed_query(&http, &server.url, q, TIMES[3]).await;
        timed_query(&http, &ours, q, TIMES[3]).await;
    }

    eprintln!("timing {} queries x {iterations} on both...", queries.len());
    let mut rows = Vec::new();
    for q in &queries {
        let mut a = Vec::with_capacity(iterations);
        let mut b = Vec::with_capacity(iterations);
        for i in 0..iterations {
            let t = TIMES[i % TIMES.len()];
            // Alternate who goes first so neither always runs on a warmer cache.
            if i % 2 == 0 {
                b.push(timed_query(&http, &ours, q, t).await.0);
                a.push(timed_query(&http, &server.url, q, t).await.0);
            } else {
                a.push(timed_query(&http, &server.url, q, t).await.0);
                b.push(timed_query(&http, &ours, q, t).await.0);
            }
        }
        rows.push((q.clone(), median(&mut b), median(&mut a)));
    }

    let sum_ours: f64 = rows.iter().map(|r| ms(r.1)).sum();
    let sum_prom: f64 = rows.iter().map(|r| ms(r.2)).sum();
    let log_ratio: f64 =
        rows.iter().map(|r| (ms(r.1) / ms(r.2)).ln()).sum::<f64>() / rows.len() as f64;
    let faster = rows.iter().filter(|r| r.1 < r.2).count();
    let worst = rows
        .iter()
        .max_by(|x, y| (ms(x.1) / ms(x.2)).total_cmp(&(ms(y.1) / ms(y.2))))
        .unwrap();

    println!("### Ingestion and storage\n");
    println!("{samples} samples in {series} series (every sample carries a timestamp).\n");
    println!("| system | ingestion path | time s | samples/s | bytes/sample |");
    println!("|---|---|---:|---:|---:|");
    println!(
        "| embedded | parse OpenMetrics text + append to the head (Gorilla chunks, postings) | {:.3} | {:.0} | {:.2} (in memory, chunks + labels + index) |",
        embedded_ingest.as_secs_f64(),
        samples as f64 / embedded_ingest.as_secs_f64(),
        bytes_per_sample
    );
    println!(
        "| Prometheus | `promtool tsdb create-blocks-from openmetrics` (parse + write blocks) | {:.3} | {:.0} | {:.2} (on disk, chunks only); {:.2} (whole TSDB incl. index) |",
        promtool_ingest.as_secs_f64(),
        samples as f64 / promtool_ingest.as_secs_f64(),
        prom_chunk_bytes as f64 / samples as f64,
        prom_total_bytes as f64 / samples as f64
    );
    println!("\n### Instant-query latency over the corpus\n");
    println!(
        "{} queries, {iterations} instant queries each per system (evaluation instants cycled over the differential test's 8), median per query; HTTP `POST /api/v1/query` with one reqwest client, body read in full.\n",
        rows.len()
    );
    println!("| | embedded | Prometheus | embedded / Prometheus |");
    println!("|---|---:|---:|---:|");
    println!(
        "| sum of per-query medians, ms | {sum_ours:.1} | {sum_prom:.1} | {:.2} |",
        sum_ours / sum_prom
    );
    println!(
        "| mean per-query median, ms | {:.3} | {:.3} | |",
        sum_ours / rows.len() as f64,
        sum_prom / rows.len() as f64
    );
    println!(
        "| geometric mean of per-query ratios | | | {:.2} |",
        log_ratio.exp()
    );
    println!(
        "| queries where the embedded engine is faster | {faster} of {} | | |",
        rows.len()
    );
    println!(
        "| worst ratio | `{}` | | {:.2} |",
        worst.0.replace('|', "\\|"),
        ms(worst.1) / ms(worst.2)
    );
    if per_query {
        println!("\n| query | embedded ms | Prometheus ms | ratio |");
        println!("|---|---:|---:|---:|");
        for (q, o, p) in &rows {
            println!(
                "| `{}` | {:.3} | {:.3} | {:.2} |",
                q.replace('|', "\\|"),
                ms(*o),
                ms(*p),
                ms(*o) / ms(*p)
            );
        }
    }
}
