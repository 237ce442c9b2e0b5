//! Features 3 (in-memory rate limits) and 4 (body size, media type, malformed input).

use std::time::Duration;

use ballast_gateway::{ApiKeyConfig, GatewayConfig, Limit};
use ballast_kit::auth::Role;
use ballast_kit::config::Secret;

use crate::support::{Mode, StandIn, TestGateway, echo, problem, table, unlimited};

/// Two requests back to back, then one a day.
const TWO_THEN_WAIT: Limit = Limit {
    rate_per_second: 1.0 / 86_400.0,
    burst: 2,
};

async fn start(config: GatewayConfig) -> (TestGateway, StandIn) {
    let product = StandIn::start("product-1", Mode::Echo).await;
    let gateway = TestGateway::start(
        config,
        table(vec![("product", vec![product.endpoint(true)])]),
    )
    .await;
    (gateway, product)
}

async fn assert_limited(response: reqwest::Response) {
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    problem(response, 429).await;
}

#[tokio::test]
async fn users_keys_and_anonymous_clients_each_have_their_own_limit() {
    let mut config = unlimited();
    config.rate_limit.per_user = TWO_THEN_WAIT;
    config.rate_limit.per_api_key = TWO_THEN_WAIT;
    config.rate_limit.anonymous = TWO_THEN_WAIT;
    config.api_keys = vec![ApiKeyConfig {
        name: "loadgen".into(),
        key: Secret::new("loadgen-key"),
        roles: vec![Role::Customer],
    }];
    let (gateway, product) = start(config).await;
    let alice = gateway.token("alice", &[Role::Customer]);
    let bob = gateway.token("bob", &[Role::Customer]);

    for _ in 0..2 {
        echo(gateway.get_as("/api/v1/products", &alice).await).await;
    }
    assert_limited(gateway.get_as("/api/v1/products", &alice).await).await;
    // A new token for the same user shares the user's limit.
    let alice_again = gateway.token("alice", &[Role::Customer]);
    assert_limited(gateway.get_as("/api/v1/products", &alice_again).await).await;
    // Bob, the API key and anonymous callers are unaffected.
    echo(gateway.get_as("/api/v1/products", &bob).await).await;
    let by_key = || {
        gateway
            .client
            .get(gateway.at("/api/v1/products"))
            .header("x-api-key", "loadgen-key")
    };
    echo(by_key().send().await.unwrap()).await;
    echo(by_key().send().await.unwrap()).await;
    assert_limited(by_key().send().await.unwrap()).await;
    echo(gateway.get("/api/v1/products").await).await;
    echo(gateway.get("/api/v1/products").await).await;
    assert_limited(gateway.get("/api/v1/products").await).await;
    // Bad credentials count against the caller's IP.
    assert_limited(gateway.get_as("/api/v1/products", "garbage").await).await;
    assert_eq!(product.count(), 7);

    let metrics = gateway.metrics().await;
    for (scope, count) in [("user", 2), ("api_key", 1), ("anonymous", 2)] {
        let line = format!("gateway_rate_limited_total{{scope=\"{scope}\"}} {count}");
        assert!(metrics.contains(&line), "{line} missing in\n{metrics}");
    }
}

#[tokio::test]
async fn the_rate_refills_the_bucket() {
    let mut config = unlimited();
    // One request at a time, ten per second: the second waits about 100 ms.
    config.rate_limit.anonymous = Limit {
        rate_per_second: 10.0,
        burst: 1,
    };
    let (gateway, _product) = start(config).await;
    echo(gateway.get("/api/v1/products").await).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = gateway.get("/api/v1/products").await;
        if response.status() == 200 {
            break;
        }
        assert_limited(response).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the limit never refilled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn bodies_are_bounded_and_must_be_json() {
    let mut config = unlimited();
    config.max_body_bytes = 1024;
    let (gateway, product) = start(config).await;
    let admin = gateway.token("a", &[Role::Admin]);
    let post = || {
        gateway
            .client
            .post(gateway.at("/api/v1/products"))
            .bearer_auth(&admin)
    };

    let fits = format!(r#"{{"name":"{}"}}"#, "x".repeat(900));
    let ok = post()
        .header("content-type", "application/json; charset=utf-8")
        .body(fits.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(echo(ok).await["body"], fits.as_str());

    // Declared too large.
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(2000));
    let declared = post()
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    problem(declared, 413).await;

    // Streamed (chunked, no Content-Length) and too large.
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..20).map(|_| Ok("x".repeat(100))).collect();
    let streamed = post()
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    problem(streamed, 413).await;

    // Not JSON.
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = post()
            .header("content-type", content_type)
            .body("name=lamp")
            .send()
            .await
            .unwrap();
        problem(response, 415).await;
    }
    let untyped = post().body("{}").send().await.unwrap();
    problem(untyped, 415).await;
    assert_eq!(product.count(), 1, "only the good request went upstream");
}

#[tokio::test]
async fn malformed_requests_never_cause_a_server_error() {
    let (gateway, _product) = start(unlimited()).await;
    let client = &gateway.client;
    let customer = gateway.token("c", &[Role::Customer]);
    let requests = vec![
        client.get(gateway.at("/api/v1/products/%ZZ%00")),
        client.get(gateway.at("/api/v1/products?%%%=&&")),
        client.get(gateway.at("/api/v1/nope")),
        client.get(gateway.at("/api/v2/products")),
        client.get(gateway.at("/api/v1/products/a/b/c/d")),
        client.patch(gateway.at("/api/v1/categories")),
        client
            .get(gateway.at("/api/v1/users/me"))
            .header("authorization", "Bearer"),
        client
            .get(gateway.at("/api/v1/users/me"))
            .header("authorization", "Bearer a.b.c"),
        client
            .get(gateway.at("/api/v1/users/me"))
            .header("authorization", "bearer  \t "),
        client.get(gateway.at("/api/v1/users/me")).header(
            "x-api-key",
            http::HeaderValue::from_bytes(b"\xff\xfek").unwrap(),
        ),
        client
            .post(gateway.at("/api/v1/products/p/reviews"))
            .bearer_auth(&customer)
            .header("content-type", "application/json")
            .body("{not json"),
        client
            .post(gateway.at("/api/v1/products/p/reviews"))
            .bearer_auth(&customer)
            .header(
                "content-type",
                http::HeaderValue::from_bytes(b"\xffgarbage").unwrap(),
            )
            .body("{}"),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let status = response.status();
        let url = response.url().clone();
        assert!(status.as_u16() < 500, "{url}: {status}");
    }
    let not_allowed = client
        .patch(gateway.at("/api/v1/categories"))
        .send()
        .await
        .unwrap();
    problem(not_allowed, 405).await;
    problem(
        client.get(gateway.at("/api/v1/nope")).send().await.unwrap(),
        404,
    )
    .await;
}
