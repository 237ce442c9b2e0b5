//! Scraper integration tests: real HTTP targets on 127.0.0.1 port 0.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use ballast_metrics::storage::{Storage, StorageConfig, is_stale_nan};
use ballast_metrics::{ScrapeConfig, Target, spawn_scrape_manager};
use parking_lot::Mutex;
use promql_parser::label::{MatchOp, Matcher};
use tokio_util::sync::CancellationToken;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn eq(name: &str, value: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, name, value)
}

fn samples(storage: &Storage, matchers: &[Matcher]) -> Vec<(i64, f64)> {
    storage
        .select(matchers, 0, i64::MAX)
        .into_iter()
        .flat_map(|s| s.samples)
        .collect()
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fast(target: Target) -> Target {
    Target {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(500),
        ..target
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_marks_stale_and_isolates_bad_targets() {
    let body = Arc::new(Mutex::new(String::from(
        "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 5\nhttp_requests_total{code=\"500\"} 1\nqueue_depth 3\n",
    )));
    let b = body.clone();
    let good = serve(Router::new().route(
        "/metrics",
        get(move || {
            let b = b.clone();
            async move { b.lock().clone() }
        }),
    ))
    .await;
    let bad = serve(
        Router::new()
            .route(
                "/malformed",
                get(|| async { "this is {not an exposition\n" }),
            )
            .route(
                "/huge",
                get(|| async { format!("big 1\n{}", "# pad\n".repeat(400_000)) }),
            )
            .route(
                "/hang",
                get(|| async {
                    std::future::pending::<()>().await;
                    "never"
                }),
            ),
    )
    .await;

    let storage = Arc::new(Storage::new(StorageConfig::default()).unwrap());
    let targets = vec![
        fast(Target::new("shop", "good:1", &format!("{good}/metrics"))),
        fast(Target::new(
            "shop",
            "malformed:1",
            &format!("{bad}/malformed"),
        )),
        fast(Target::new("shop", "huge:1", &format!("{bad}/huge"))),
        fast(Target::new("shop", "hang:1", &format!("{bad}/hang"))),
    ];
    let (tx, rx) = tokio::sync::watch::channel(targets.clone());
    let shutdown = CancellationToken::new();
    let config = ScrapeConfig {
        max_body_bytes: 1024 * 1024,
        honor_labels: false,
    };
    let manager = spawn_scrape_manager(storage.clone(), rx, config, shutdown.clone());

    // The good target is up with its samples carrying job and instance labels.
    let good_up = [eq("__name__", "up"), eq("instance", "good:1")];
    wait_for("good target scraped twice", || {
        samples(&storage, &good_up).len() >= 2
    })
    .await;
    assert!(samples(&storage, &good_up).iter().all(|(_, v)| *v == 1.0));
    let req = samples(
        &storage,
        &[
            eq("__name__", "http_requests_total"),
            eq("code", "200"),
            eq("job", "shop"),
        ],
    );
    assert_eq!(req.last().unwrap().1, 5.0);
    let scraped = samples(
        &storage,
        &[
            eq("__name__", "scrape_samples_scraped"),
            eq("instance", "good:1"),
        ],
    );
    assert_eq!(scraped.last().unwrap().1, 3.0);
    assert!(!samples(&storage, &[eq("__name__", "scrape_duration_seconds")]).is_empty());

    // Every bad target is down, and none of them stopped the process or the good target.
    for inst in ["malformed:1", "huge:1", "hang:1"] {
        let m = [eq("__name__", "up"), eq("instance", inst)];
        wait_for(inst, || !samples(&storage, &m).is_empty()).await;
        assert!(
            samples(&storage, &m).iter().all(|(_, v)| *v == 0.0),
            "{inst}"
        );
    }
    assert!(samples(&storage, &[eq("__name__", "big")]).is_empty());
    let before = samples(&storage, &good_up).len();
    wait_for("good target keeps being scraped", || {
        samples(&storage, &good_up).len() >= before + 3
    })
    .await;

    // A series that disappears from the exposition gets a staleness marker.
    *body.lock() = "http_requests_total{code=\"200\"} 7\nqueue_depth 4\n".into();
    let gone = [eq("__name__", "http_requests_total"), eq("code", "500")];
    wait_for("staleness marker", || {
        samples(&storage, &gone)
            .last()
            .is_some_and(|(_, v)| is_stale_nan(*v))
    })
    .await;

    // A removed target gets staleness markers on its series and its `up`.
    tx.send(targets[1..].to_vec()).unwrap();
    wait_for("target removal marks up stale", || {
        samples(&storage, &good_up)
            .last()
            .is_some_and(|(_, v)| is_stale_nan(*v))
    })
    .await;
    let depth = [eq("__name__", "queue_depth"), eq("instance", "good:1")];
    assert!(is_stale_nan(samples(&storage, &depth).last().unwrap().1));

    shutdown.cancel();
    manager.await.unwrap();
}

#[tokio::test]
async fn exposed_labels_clashing_with_target_labels_are_exported() {
    let url =
        serve(Router::new().route("/metrics", get(|| async { "m{job=\"inner\"} 1\n" }))).await;
    let storage = Arc::new(Storage::new(StorageConfig::default()).unwrap());
    let client = ballast_metrics::scrape::scrape_client().unwrap();
    let mut scraper = ballast_metrics::scrape::TargetScraper::new(
        Target::new("outer", "x:1", &format!("{url}/metrics")),
        ScrapeConfig::default(),
        client,
        storage.clone(),
    );
    let report = scraper.scrape().await;
    assert!(report.up, "{report:?}");
    let got = storage.select(&[eq("__name__", "m")], 0, i64::MAX);
    assert_eq!(got[0].labels.get("job"), "outer");
    assert_eq!(got[0].labels.get("exported_job"), "inner");
}
