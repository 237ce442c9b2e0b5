//! The embedded platform under traffic: crashing an instance while clients read through the
//! gateway fails none of their requests, and the orchestrator brings a replacement up.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use ballast_cli::config::BallastConfig;
use ballast_cli::platform::{Addresses, Platform};

async fn platform(dir: &tempfile::TempDir) -> Platform {
    let mut config = BallastConfig {
        data_dir: dir.path().join("data"),
        store: ballast_kit::testing::store_config(),
        ..BallastConfig::default()
    };
    config.orchestrator.time_scale = 10.0;
    config.gateway.rate_limit.anonymous.rate_per_second = 100_000.0;
    config.gateway.rate_limit.anonymous.burst = 100_000;
    Platform::start(
        config,
        Addresses {
            gateway: "127.0.0.1:0".parse().unwrap(),
            admin: "127.0.0.1:0".parse().unwrap(),
            base_port: 0,
            sre: "127.0.0.1:0".parse().unwrap(),
        },
        Duration::from_secs(20),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_an_instance_under_load_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let platform = platform(&dir).await;
    let api = format!("http://{}/api/v1", platform.gateway);
    let http = reqwest::Client::new();
    let page: serde_json::Value = http
        .get(format!("{api}/products?per_page=10"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();

    let readers: Vec<_> = (0..4)
        .map(|worker| {
            let http = http.clone();
            let api = api.clone();
            let ids = ids.clone();
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for i in 0..150 {
                    let id = &ids[(worker + i) % ids.len()];
                    match http.get(format!("{api}/products/{id}")).send().await {
                        Ok(r) if r.status() == 200 => {}
                        Ok(r) => failures.push(r.status().to_string()),
                        Err(e) => failures.push(e.to_string()),
                    }
                }
                failures
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(50)).await;
    let victim = platform
        .orchestrator
        .instances()
        .into_iter()
        .find(|i| i.service == "product")
        .unwrap()
        .name;
    platform.orchestrator.crash(&victim).unwrap();

    for reader in readers {
        let failures = reader.await.unwrap();
        assert!(failures.is_empty(), "failed requests: {failures:?}");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !platform
        .orchestrator
        .instances()
        .iter()
        .any(|i| i.name == victim && i.ready && i.restarts == 1)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            platform.orchestrator.instances()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_data_and_does_not_seed_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = ballast_kit::testing::store_config();
    let mut config = BallastConfig {
        data_dir: dir.path().join("data"),
        store,
        ..BallastConfig::default()
    };
    config.orchestrator.time_scale = 10.0;
    let addresses = Addresses {
        gateway: "127.0.0.1:0".parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        base_port: 0,
        sre: "127.0.0.1:0".parse().unwrap(),
    };
    let first = Platform::start(config.clone(), addresses, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(first.seeded_products >= 150);
    assert!(matches!(
        first.admin_seed,
        ballast_cli::platform::AdminSeed::Created {
            generated: true,
            ..
        }
    ));
    first.stop().await;
    let second = Platform::start(config, addresses, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(second.seeded_products, 0);
    assert!(matches!(
        second.admin_seed,
        ballast_cli::platform::AdminSeed::Existing { .. }
    ));
    let page: serde_json::Value = reqwest::get(format!(
        "http://{}/api/v1/products?per_page=1",
        second.gateway
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(page["total"].as_u64().unwrap() >= 150);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballast_load_drives_the_shop_and_reports_latency() {
    let dir = tempfile::tempdir().unwrap();
    let platform = platform(&dir).await;
    let args = ballast_cli::cli::LoadArgs {
        gateway: format!("http://{}", platform.gateway),
        rate: 40.0,
        duration: Duration::from_secs(2).into(),
        users: 3,
        max_in_flight: 64,
        order_share: 0.0,
        decline_share: 0.0,
        settle: Duration::from_secs(1).into(),
        record: None,
        json: true,
        quiet: true,
    };
    let summary = ballast_cli::load::run(args).await.unwrap();
    assert_eq!(summary.requests, 80);
    assert_eq!(
        summary.succeeded, summary.requests,
        "{:?}",
        summary.by_status
    );
    assert!(summary.latency_ms.p50 > 0.0 && summary.latency_ms.p99 >= summary.latency_ms.p50);
    assert!(
        summary.by_operation.len() >= 3,
        "{:?}",
        summary.by_operation
    );
    platform.stop().await;
}

async fn query(sre: std::net::SocketAddr, expr: &str) -> serde_json::Value {
    let response: serde_json::Value = reqwest::Client::new()
        .get(
            reqwest::Url::parse_with_params(
                &format!("http://{sre}/api/v1/query"),
                [("query", expr)],
            )
            .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["status"], "success", "{expr}: {response}");
    response["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_scrapes_every_instance_and_keeps_history_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = BallastConfig {
        data_dir: dir.path().join("data"),
        store: ballast_kit::testing::store_config(),
        ..BallastConfig::default()
    };
    config.orchestrator.time_scale = 10.0;
    config.metrics.scrape_interval = Duration::from_millis(200);
    config.metrics.scrape_timeout = Duration::from_millis(200);
    let addresses = Addresses {
        gateway: "127.0.0.1:0".parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        base_port: 0,
        sre: "127.0.0.1:0".parse().unwrap(),
    };
    let first = Platform::start(config.clone(), addresses, Duration::from_secs(20))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let data = query(
            first.sre,
            r#"sum by (job) (up{job=~"product|user|gateway"})"#,
        )
        .await;
        let up: std::collections::BTreeMap<String, String> = data["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["metric"]["job"].as_str().unwrap().to_owned(),
                    r["value"][1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if up.get("product").map(String::as_str) == Some("2")
            && up.get("user").map(String::as_str) == Some("2")
            && up.get("gateway").map(String::as_str) == Some("1")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{up:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Request metrics of the uniform names arrive with their service label.
    reqwest::get(format!(
        "http://{}/api/v1/products?per_page=1",
        first.gateway
    ))
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while query(
        first.sre,
        r#"http_requests_total{service="product",route="/v1/products"}"#,
    )
    .await["result"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopped_at = ballast_kit::store::now_millis();
    first.stop().await;

    let second = Platform::start(config, addresses, Duration::from_secs(20))
        .await
        .unwrap();
    // Samples scraped before the restart are still there.
    let data = query(
        second.sre,
        r#"http_requests_total{service="product",route="/v1/products"}[10m]"#,
    )
    .await;
    let oldest = data["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|series| {
            series["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v[0].as_f64().unwrap())
        })
        .fold(f64::INFINITY, f64::min);
    assert!(
        oldest * 1000.0 < stopped_at as f64,
        "no sample from before the restart: {data}"
    );
    let metrics = reqwest::get(format!("http://{}/metrics", second.sre))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ballast_metrics_store_chunk_bytes_per_sample_milli"),
        "{metrics}"
    );
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_serves_slo_status_and_alertmanager_apis() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut config = BallastConfig {
        data_dir: dir.path().join("data"),
        store: ballast_kit::testing::store_config(),
        ..BallastConfig::default()
    };
    config.orchestrator.time_scale = 10.0;
    config.suite.alerts_dir = root.join("alerts");
    config.suite.routing_file = root.join("alerts/routing.yaml");
    config.suite.slo_dir = root.join("slo");
    let addresses = Addresses {
        gateway: "127.0.0.1:0".parse().unwrap(),
        admin: "127.0.0.1:0".parse().unwrap(),
        base_port: 0,
        sre: "127.0.0.1:0".parse().unwrap(),
    };
    let platform = Platform::start(config, addresses, Duration::from_secs(30))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let slos = loop {
        let response = http
            .get(format!("http://{}/api/v1/slos", platform.sre))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break response.json::<serde_json::Value>().await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no SLO report: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(slos["status"], "success");
    let text = slos.to_string();
    assert!(text.contains("product") && text.contains("99.95"), "{text}");
    let alerts = http
        .get(format!("http://{}/api/v2/alerts", platform.sre))
        .send()
        .await
        .unwrap();
    assert_eq!(alerts.status(), 200);
    assert!(alerts.json::<serde_json::Value>().await.unwrap().is_array());
    let silences = http
        .get(format!("http://{}/api/v2/silences", platform.sre))
        .send()
        .await
        .unwrap();
    assert_eq!(silences.status(), 200);
    platform.stop().await;
}
