//! Differential test: the same OpenMetrics data backfilled into a real Prometheus (with
//! promtool) and imported into the embedded store; a corpus of queries is evaluated through
//! both HTTP APIs and every answer must agree. Fails (does not skip) without the binaries.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ballast_metrics::promql::QueryValue;
use ballast_metrics::{MetricSource, PrometheusSource, api_router, import_openmetrics};

const T0: i64 = 1_700_000_000_000;
const STEP: i64 = 15_000;
const N: i64 = 480;

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

fn generate() -> String {
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
            }
        }
    }
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
    out.push_str("# EOF\n");
    out
}

fn corpus() -> Vec<String> {
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    for bin in ["prometheus", "promtool"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {bin}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "{bin} is not installed: apt-get install -y prometheus"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.om");
    std::fs::write(&file, generate()).unwrap();
    let tsdb = dir.path().join("tsdb");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(&tsdb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
    let port = free_port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child);

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{port}/-/ready"))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

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

    let prom = PrometheusSource::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(30))
        .unwrap();
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
    let queries = corpus();
    assert!(queries.len() >= 150, "only {} queries", queries.len());
    let mut failures = Vec::new();
    let mut evaluated = 0;
    for q in &queries {
        for &t in &times {
            let a = prom.query(q, t).await;
            let b = ours.query(q, t).await;
            evaluated += 1;
            if !agree(&a, &b) {
                failures.push(format!(
                    "QUERY {q} @ {t}\n  prometheus: {a:?}\n  embedded:   {b:?}"
                ));
            }
        }
    }
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
