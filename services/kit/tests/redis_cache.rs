//! The Redis cache backend against the Redis the run provides (`BALLAST_TEST_REDIS_URL`,
//! default 127.0.0.1:6379). A missing Redis fails this test; it never skips.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::cache::{Cache, CacheBackend, RedisBackend};
use ballast_kit::metrics::Metrics;

#[tokio::test]
async fn two_instances_share_one_redis_cache() {
    let url = ballast_kit::testing::redis_url();
    let prefix = format!("ballast-test:{}:", uuid::Uuid::new_v4().simple());
    let first = RedisBackend::connect(&url, &prefix)
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} is required for this test: {e:#}"));
    let second = RedisBackend::connect(&url, &prefix).await.unwrap();
    let metrics_a = Metrics::new("product").unwrap();
    let metrics_b = Metrics::new("product").unwrap();
    let a = Cache::new(Arc::new(first), metrics_a.clone());
    let b = Cache::new(Arc::new(second), metrics_b.clone());

    assert_eq!(b.get::<String>("product:1").await, None);
    a.set("product:1", &"kettle".to_owned(), Duration::from_secs(60))
        .await;
    assert_eq!(
        b.get::<String>("product:1").await.as_deref(),
        Some("kettle")
    );
    b.invalidate("product:1").await;
    assert_eq!(a.get::<String>("product:1").await, None);

    // Entries expire on their TTL.
    a.set("short", &1u8, Duration::from_millis(50)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while a.get::<u8>("short").await.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the entry never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let text = metrics_b.render().unwrap();
    assert!(
        text.contains(r#"cache_requests_total{result="hit",service="product"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"cache_requests_total{result="miss",service="product"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error() {
    let error = match RedisBackend::connect("redis://127.0.0.1:1/", "x:").await {
        Ok(_) => panic!("connected to a closed port"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("Redis"), "{error}");
    // The trait object is usable as the kit expects.
    let _: Option<Arc<dyn CacheBackend>> = None;
}
