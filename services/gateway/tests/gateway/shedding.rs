//! Feature 6: bounded concurrency with immediate load shedding.

use crate::support::{Mode, StandIn, TestGateway, echo, problem, table, unlimited};

#[tokio::test]
async fn beyond_max_in_flight_requests_are_shed_at_once() {
    let product = StandIn::start("product-1", Mode::Gate).await;
    let mut config = unlimited();
    config.max_in_flight = 2;
    let gateway = TestGateway::start(
        config,
        table(vec![("product", vec![product.endpoint(true)])]),
    )
    .await;

    let first = tokio::spawn({
        let (client, url) = (gateway.client.clone(), gateway.at("/api/v1/products"));
        async move { client.get(url).send().await.unwrap() }
    });
    let second = tokio::spawn({
        let (client, url) = (gateway.client.clone(), gateway.at("/api/v1/products/p-1"));
        async move { client.get(url).send().await.unwrap() }
    });
    product.wait_for(2).await;

    // Both permits are held: the next request is refused without waiting.
    let response = gateway.get("/api/v1/categories").await;
    assert_eq!(response.headers()["retry-after"], "1");
    problem(response, 503).await;
    // Health and metrics are not behind the limit.
    let metrics = gateway.metrics().await;
    assert!(metrics.contains("gateway_shed_total 1"), "{metrics}");
    assert_eq!(gateway.get("/health/live").await.status(), 200);

    product.release(2);
    echo(first.await.unwrap()).await;
    echo(second.await.unwrap()).await;

    // Capacity is back.
    product.release(1);
    echo(gateway.get("/api/v1/categories").await).await;
    assert_eq!(product.count(), 3);
}
