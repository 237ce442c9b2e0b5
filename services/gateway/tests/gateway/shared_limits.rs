//! Feature 3 on Redis: gateway replicas share one limit. Needs Redis (fails without it).

use ballast_gateway::Limit;

use crate::support::{Mode, StandIn, TestGateway, echo, problem, table, unlimited};

#[tokio::test]
async fn replicas_share_one_limit_through_redis() {
    let product = StandIn::start("product-1", Mode::Echo).await;
    let mut config = unlimited();
    config.rate_limit.anonymous = Limit {
        rate_per_second: 1.0 / 86_400.0,
        burst: 3,
    };
    config.rate_limit.redis_url = Some(ballast_kit::config::Secret::new(
        ballast_kit::testing::redis_url(),
    ));
    config.rate_limit.key_prefix = format!("ballast:test:{}:", uuid::Uuid::new_v4().simple());
    let one = TestGateway::start(
        config.clone(),
        table(vec![("product", vec![product.endpoint(true)])]),
    )
    .await;
    let two = one.replica(config).await;

    echo(one.get("/api/v1/products").await).await;
    echo(two.get("/api/v1/products").await).await;
    echo(one.get("/api/v1/products").await).await;
    // The fourth request is over the shared burst, whichever replica takes it.
    let response = two.get("/api/v1/products").await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    problem(response, 429).await;
    problem(one.get("/api/v1/products").await, 429).await;
    assert_eq!(product.count(), 3);
    assert!(
        two.metrics()
            .await
            .contains(r#"gateway_rate_limited_total{scope="anonymous"} 1"#)
    );
}
