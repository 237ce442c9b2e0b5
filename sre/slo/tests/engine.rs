//! The engine end to end: daily roll-ups persisted on the selected store (SQLite, or
//! PostgreSQL with `BALLAST_TEST_STORE=postgres`), the status API over HTTP, time scaling,
//! the no-data condition and the low-traffic guard.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use ballast_kit::store::Store;
use ballast_metrics::{EmbeddedSource, Labels, Storage, StorageConfig};
use ballast_slo::engine::rollup::Sums;
use ballast_slo::engine::{Engine, EngineConfig};
use ballast_slo::{Specs, StatusBoard, ValidateOptions, status_router, validate_texts};

const SPEC: &str = r#"version: "prometheus/v1"
service: "shop"
slos:
  - name: "availability"
    objective: 99.9
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

const MIN: i64 = 60_000;
const DAY: i64 = 1440 * MIN;

fn specs() -> Specs {
    validate_texts(
        &[(PathBuf::from("shop.yaml"), SPEC.to_string())],
        &ValidateOptions::default(),
    )
    .unwrap()
}

/// 10 requests/s, 1 % errors, scraped every 15 s over `[start, end]`.
fn storage(start: i64, end: i64) -> Arc<Storage> {
    let storage = Storage::new(StorageConfig {
        retention: std::time::Duration::from_secs(100 * 86_400),
        max_bytes: usize::MAX,
        snapshot_path: None,
    })
    .unwrap();
    let l = |code: &str| {
        Labels::from_pairs([
            ("__name__", "http_requests_total"),
            ("service", "shop"),
            ("code", code),
        ])
    };
    let mut t = start;
    let mut n = 0.0;
    while t <= end {
        storage.append(&l("200"), t, n * 148.5).unwrap();
        storage.append(&l("500"), t, n * 1.5).unwrap();
        n += 1.0;
        t += 15_000;
    }
    Arc::new(storage)
}

async fn store(dir: &std::path::Path) -> Store {
    let store = Store::connect(&ballast_kit::testing::store_config(), "slo", dir)
        .await
        .unwrap();
    ballast_slo::daily::migrate(&store).await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread")]
async fn daily_rollups_are_persisted_and_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let source = Arc::new(EmbeddedSource::new(storage(0, 2 * DAY)));
    let config = EngineConfig {
        backfill: false,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(&specs(), source, config).unwrap();
    // Start at 23:00 on day 0 and tick every 10 minutes into day 1.
    let mut t = DAY - 60 * MIN;
    while t <= DAY + 60 * MIN {
        assert!(engine.tick(t).await.is_empty());
        ballast_slo::daily::persist(&store, &engine.take_daily())
            .await
            .unwrap();
        t += 10 * MIN;
    }
    let rows = ballast_slo::daily::read(
        &store,
        Some("shop-availability"),
        "1970-01-01",
        "1970-01-02",
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Day 0: steps ending 23:00 .. 24:00 are 60 one-minute steps of 600 requests, less the
    // first (23:00, read alone) counted too: 61 steps.
    assert_eq!(rows[0].day, "1970-01-01");
    assert!((rows[0].total - 61.0 * 600.0).abs() < 1.0, "{rows:?}");
    assert!((rows[0].good / rows[0].total - 0.99).abs() < 1e-6);
    assert!((rows[1].total - 60.0 * 600.0).abs() < 1.0, "{rows:?}");
    let none = ballast_slo::daily::read(&store, None, "1971-01-01", "1971-12-31")
        .await
        .unwrap();
    assert!(none.is_empty());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn status_api_serves_the_report_and_says_when_scaled() {
    let source = Arc::new(EmbeddedSource::new(storage(0, DAY)));
    let config = EngineConfig {
        time_scale: 60,
        min_read_range_ms: 60_000,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(&specs(), source, config).unwrap();
    let board = StatusBoard::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, status_router(board.clone())).into_future());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/v1/slos");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 503);

    assert!(engine.tick(DAY).await.is_empty());
    board.publish(engine.report());
    let body: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["status"], "success");
    let data = &body["data"];
    assert_eq!(data["scaled"], true);
    assert_eq!(data["time_scale"], 60);
    assert!(data["note"].as_str().unwrap().contains("time-scaled x60"));
    let slo = &data["slos"][0];
    assert_eq!(slo["name"], "shop-availability");
    assert_eq!(slo["target"], "99.9%");
    // 1 % errors against a 0.1 % budget: burning 10x everywhere, budget overspent 10 times.
    let burn = slo["burn_rates"][0]["burn_rate"].as_f64().unwrap();
    assert!((burn - 10.0).abs() < 0.01, "{burn}");
    let remaining = slo["budget"]["remaining_ratio"].as_f64().unwrap();
    assert!((remaining + 9.0).abs() < 0.01, "{remaining}");
    // At 60x, 30 SLO days are 12 wall hours: the day of data covers the window.
    assert!((slo["coverage"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    let firing: Vec<&str> = slo["firing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // 10x fires the 6x page and both tickets, not the 14.4x page.
    assert!(firing.iter().any(|a| a.contains("PageSlow")), "{firing:?}");
    assert!(
        firing.iter().any(|a| a.contains("TicketSlow")),
        "{firing:?}"
    );
    assert!(!firing.iter().any(|a| a.contains("PageFast")), "{firing:?}");
    let table = ballast_slo::render_table(&engine.report());
    assert!(table.contains("time-scaled x60"), "{table}");
    assert!(table.contains("shop-availability"), "{table}");
}

#[tokio::test]
async fn no_data_fires_after_its_for_and_low_traffic_never_pages() {
    let source = Arc::new(EmbeddedSource::new(storage(0, 0)));
    let mut engine = Engine::new(&specs(), source, EngineConfig::default()).unwrap();
    // One error out of one request a minute: a 100 % error ratio with too little traffic.
    let mut t = MIN;
    for _ in 0..120 {
        engine.push_steps(t, &[Some(Sums::new(1.0, 1.0))]);
        t += MIN;
    }
    let r = engine.report();
    let page = r.slos[0]
        .tiers
        .iter()
        .find(|t| t.alert.ends_with("PageFast"))
        .unwrap();
    assert_eq!(
        page.condition,
        ballast_slo::engine::eval::Condition::LowTraffic
    );
    assert!(!page.firing);
    // Then the series vanish: no data fires once it has lasted the alert's `for`.
    for _ in 0..30 {
        engine.push_steps(t, &[None]);
        t += MIN;
    }
    let r = engine.report();
    let nd = r.slos[0].no_data.as_ref().unwrap();
    assert!(nd.firing, "{nd:?}");
    assert!(r.slos[0].firing.contains(&nd.alert));
}
