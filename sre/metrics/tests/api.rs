//! The Prometheus HTTP API over the embedded store, spoken to as a client.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use ballast_metrics::storage::{Storage, StorageConfig};
use ballast_metrics::{
    EmbeddedSource, MetricSource, PrometheusSource, api_router, import_openmetrics_text,
};
use serde_json::Value;

const DATA: &str = "# TYPE http_requests counter\n\
http_requests_total{service=\"order\",code=\"200\"} 1 1700000000\n\
http_requests_total{service=\"order\",code=\"200\"} 7 1700000060\n\
http_requests_total{service=\"order\",code=\"500\"} 1 1700000000\n\
http_requests_total{service=\"order\",code=\"500\"} 2 1700000060\n\
up{job=\"x\"} 1 1700000060.5\n\
# EOF\n";

fn storage() -> Arc<Storage> {
    let storage = Storage::new(StorageConfig::default()).unwrap();
    import_openmetrics_text(DATA, &storage).unwrap();
    Arc::new(storage)
}

async fn start() -> (String, reqwest::Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let storage = storage();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api_router(storage)).await.unwrap() });
    (format!("http://{addr}"), reqwest::Client::new())
}

async fn get(c: &reqwest::Client, url: String) -> (u16, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn query_shapes_match_prometheus() {
    let (base, c) = start().await;
    let (s, v) = get(
        &c,
        format!("{base}/api/v1/query?query=sum(http_requests_total)&time=1700000060"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(v["data"]["result"][0]["metric"], serde_json::json!({}));
    assert_eq!(v["data"]["result"][0]["value"][0], 1_700_000_060.0);
    assert_eq!(v["data"]["result"][0]["value"][1], "9");

    let (_, v) = get(
        &c,
        format!("{base}/api/v1/query?query=1%2B1&time=1700000060.5"),
    )
    .await;
    assert_eq!(v["data"]["resultType"], "scalar");
    assert_eq!(v["data"]["result"][1], "2");

    let (_, v) = get(
        &c,
        format!("{base}/api/v1/query?query=%22hi%22&time=1700000060"),
    )
    .await;
    assert_eq!(v["data"]["resultType"], "string");
    assert_eq!(v["data"]["result"][1], "hi");

    let (_, v) = get(
        &c,
        format!("{base}/api/v1/query?query=up[5m]&time=1700000100"),
    )
    .await;
    assert_eq!(v["data"]["resultType"], "matrix");
    assert_eq!(v["data"]["result"][0]["values"][0][0], 1_700_000_060.5);

    let (_, v) = get(
        &c,
        format!("{base}/api/v1/query_range?query=http_requests_total%7Bcode%3D%22500%22%7D&start=1700000000&end=1700000120&step=60s"),
    )
    .await;
    assert_eq!(v["data"]["resultType"], "matrix");
    let values = v["data"]["result"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 3);
    assert_eq!(values[2][1], "2");

    // POST form works the same.
    let r = c
        .post(format!("{base}/api/v1/query"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=count(http_requests_total)&time=1700000060")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"]["result"][0]["value"][1], "2");
}

#[tokio::test]
async fn errors_are_bad_data_with_400() {
    let (base, c) = start().await;
    for url in [
        format!("{base}/api/v1/query?query=sum(&time=1"),
        format!("{base}/api/v1/query?time=1"),
        format!("{base}/api/v1/query?query=up&time=yesterday"),
        format!("{base}/api/v1/query_range?query=up&start=10&end=1&step=1"),
        format!("{base}/api/v1/query_range?query=up&start=1&end=100000&step=1"),
        format!("{base}/api/v1/query?query=holt_winters(up[5m],0.5,0.5)&time=1"),
    ] {
        let (s, v) = get(&c, url.clone()).await;
        assert_eq!(s, 400, "{url}: {v}");
        assert_eq!(v["status"], "error");
        assert_eq!(v["errorType"], "bad_data");
        assert!(v["error"].as_str().is_some());
    }
}

#[tokio::test]
async fn series_labels_and_values() {
    let (base, c) = start().await;
    let (s, v) = get(
        &c,
        format!(
            "{base}/api/v1/series?match[]=http_requests_total%7Bcode%3D%22500%22%7D&match[]=up"
        ),
    )
    .await;
    assert_eq!(s, 200);
    let list = v["data"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["__name__"], "http_requests_total");
    let (_, v) = get(&c, format!("{base}/api/v1/labels")).await;
    assert_eq!(
        v["data"],
        serde_json::json!(["__name__", "code", "job", "service"])
    );
    let (_, v) = get(&c, format!("{base}/api/v1/label/code/values")).await;
    assert_eq!(v["data"], serde_json::json!(["200", "500"]));
    let (_, v) = get(
        &c,
        format!("{base}/api/v1/label/__name__/values?match[]=up"),
    )
    .await;
    assert_eq!(v["data"], serde_json::json!(["up"]));
    let (s, _) = get(&c, format!("{base}/api/v1/series")).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn embedded_and_http_sources_give_the_same_answers() {
    let (base, _) = start().await;
    let http = PrometheusSource::new(&base, std::time::Duration::from_secs(10)).unwrap();
    let embedded = EmbeddedSource::new(storage());
    for q in [
        "sum by (code) (rate(http_requests_total[5m]))",
        "up",
        "time()",
        "absent(nope)",
    ] {
        let a = http.query(q, 1_700_000_100_000).await.unwrap();
        let b = embedded.query(q, 1_700_000_100_000).await.unwrap();
        assert_eq!(a, b, "{q}");
    }
    let a = http
        .query_range(
            "http_requests_total",
            1_700_000_000_000,
            1_700_000_120_000,
            30_000,
        )
        .await
        .unwrap();
    let b = embedded
        .query_range(
            "http_requests_total",
            1_700_000_000_000,
            1_700_000_120_000,
            30_000,
        )
        .await
        .unwrap();
    assert_eq!(a, b);
    let sel = vec!["http_requests_total".to_string()];
    let a = http
        .series(&sel, 1_699_999_000_000, 1_700_001_000_000)
        .await
        .unwrap();
    let b = embedded
        .series(&sel, 1_699_999_000_000, 1_700_001_000_000)
        .await
        .unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a, b);
}
