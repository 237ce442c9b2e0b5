//! Feature 5 (routing, retries, 503 / 504) and feature 8 (upstream metrics), plus trace
//! propagation.

use std::time::Duration;

use ballast_kit::auth::Role;

use crate::support::{
    Mode, StandIn, TestGateway, dead_url, echo, eventually, problem, table, unlimited,
};

#[tokio::test]
async fn paths_queries_methods_bodies_and_statuses_pass_through() {
    let product = StandIn::start("product-1", Mode::Echo).await;
    let gateway = TestGateway::start(
        unlimited(),
        table(vec![("product", vec![product.endpoint(true)])]),
    )
    .await;
    let response = gateway
        .client
        .get(gateway.at("/api/v1/products?category=lamps&page=2"))
        .header("x-echo-status", "206")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.headers()["x-upstream-instance"], "product-1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["uri"], "/v1/products?category=lamps&page=2");
    assert_eq!(body["method"], "GET");

    let admin = gateway.token("a", &[Role::Admin]);
    let response = gateway
        .client
        .put(gateway.at("/api/v1/products/p-7"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "price": 1299 }))
        .send()
        .await
        .unwrap();
    let body = echo(response).await;
    assert_eq!(body["method"], "PUT");
    assert_eq!(body["uri"], "/v1/products/p-7");
    assert_eq!(body["body"], r#"{"price":1299}"#);

    let metrics = gateway.metrics().await;
    assert!(
        metrics.contains(r#"gateway_upstream_requests_total{code="206",upstream="product"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"http_requests_total{code="200",method="PUT",route="/api/v1/products/{id}",service="gateway"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn ready_instances_take_turns_and_not_ready_ones_get_nothing() {
    let a = StandIn::start("product-a", Mode::Echo).await;
    let b = StandIn::start("product-b", Mode::Echo).await;
    let c = StandIn::start("product-c", Mode::Echo).await;
    let gateway = TestGateway::start(
        unlimited(),
        table(vec![(
            "product",
            vec![a.endpoint(true), b.endpoint(false), c.endpoint(true)],
        )]),
    )
    .await;
    for _ in 0..6 {
        echo(gateway.get("/api/v1/products").await).await;
    }
    assert_eq!((a.count(), b.count(), c.count()), (3, 0, 3));

    // b becomes ready, a stops being ready.
    gateway.endpoints.send_modify(|table| {
        table.insert(
            "product".into(),
            vec![a.endpoint(false), b.endpoint(true), c.endpoint(true)],
        );
    });
    for _ in 0..4 {
        echo(gateway.get("/api/v1/products").await).await;
    }
    assert_eq!((a.count(), b.count(), c.count()), (3, 2, 5));
}

#[tokio::test]
async fn a_gone_instance_is_skipped_and_no_instance_is_503() {
    let live = StandIn::start("product-live", Mode::Echo).await;
    let gone = ballast_gateway::Endpoint {
        instance: "product-gone".into(),
        url: dead_url().await,
        ready: true,
    };
    let gateway = TestGateway::start(
        unlimited(),
        table(vec![("product", vec![gone.clone(), live.endpoint(true)])]),
    )
    .await;
    for _ in 0..4 {
        let body = echo(gateway.get("/api/v1/products").await).await;
        assert_eq!(body["instance"], "product-live");
    }
    assert_eq!(live.count(), 4);
    let metrics = gateway.metrics().await;
    assert!(
        metrics.contains(
            r#"gateway_upstream_requests_total{code="connect_error",upstream="product"} 2"#
        ),
        "{metrics}"
    );

    // An instance that served requests (pooled connections) crashes while still listed ready.
    let crashing = StandIn::start("product-crashing", Mode::Echo).await;
    gateway.endpoints.send_modify(|table| {
        table.insert(
            "product".into(),
            vec![crashing.endpoint(true), live.endpoint(true)],
        );
    });
    for _ in 0..2 {
        echo(gateway.get("/api/v1/products").await).await;
    }
    assert_eq!(crashing.count(), 1);
    drop(crashing);
    for _ in 0..4 {
        let body = echo(gateway.get("/api/v1/products").await).await;
        assert_eq!(body["instance"], "product-live");
    }

    // Every instance gone: 503 with Retry-After.
    gateway.endpoints.send_modify(|table| {
        table.insert("product".into(), vec![gone.clone()]);
    });
    let response = gateway.get("/api/v1/products").await;
    assert!(response.headers().contains_key("retry-after"));
    problem(response, 503).await;

    // A service with no instances at all (not written yet): 503.
    let customer = gateway.token("c", &[Role::Customer]);
    let response = gateway.get_as("/api/v1/orders", &customer).await;
    assert_eq!(response.headers()["retry-after"], "1");
    problem(response, 503).await;
    let response = gateway.get("/api/v1/inventory/p-1").await;
    problem(response, 503).await;
}

#[tokio::test]
async fn a_slow_upstream_is_a_504() {
    let slow = StandIn::start("product-slow", Mode::Hang).await;
    let mut config = unlimited();
    config.upstream_timeout = Duration::from_millis(300);
    let gateway =
        TestGateway::start(config, table(vec![("product", vec![slow.endpoint(true)])])).await;
    problem(gateway.get("/api/v1/products").await, 504).await;
    let metrics = gateway.metrics().await;
    assert!(
        metrics.contains(r#"gateway_upstream_requests_total{code="timeout",upstream="product"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_trace_continues_upstream() {
    let _telemetry =
        ballast_kit::telemetry::init("gateway-test", ballast_kit::telemetry::LogFormat::Json)
            .unwrap();
    let product = StandIn::start("product-1", Mode::Echo).await;
    let gateway = TestGateway::start(
        unlimited(),
        table(vec![("product", vec![product.endpoint(true)])]),
    )
    .await;
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = gateway
        .client
        .get(gateway.at("/api/v1/products"))
        .header("traceparent", incoming)
        .send()
        .await
        .unwrap();
    let body = echo(response).await;
    let forwarded = body["headers"]["traceparent"].as_str().unwrap();
    assert!(
        forwarded.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{forwarded}"
    );
    assert_ne!(forwarded, incoming, "the gateway's own span is the parent");

    // Without an incoming trace the gateway starts one.
    let body = echo(gateway.get("/api/v1/products").await).await;
    eventually(|| product.count() == 2).await;
    let started = body["headers"]["traceparent"].as_str().unwrap();
    assert_eq!(started.len(), 55, "{started}");
}
