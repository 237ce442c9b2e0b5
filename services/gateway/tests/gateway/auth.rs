//! Feature 1 and 2: JWT verification, roles, forwarded headers, JWKS; API keys.

use ballast_gateway::ApiKeyConfig;
use ballast_kit::auth::Role;
use ballast_kit::config::Secret;

use crate::support::{Mode, StandIn, TestGateway, echo, problem, table, unlimited};

async fn gateway_with(config: ballast_gateway::GatewayConfig) -> (TestGateway, StandIn, StandIn) {
    let user = StandIn::start("user-1", Mode::Echo).await;
    let product = StandIn::start("product-1", Mode::Echo).await;
    let gateway = TestGateway::start(
        config,
        table(vec![
            ("user", vec![user.endpoint(true)]),
            ("product", vec![product.endpoint(true)]),
        ]),
    )
    .await;
    (gateway, user, product)
}

#[tokio::test]
async fn protected_routes_need_a_valid_token_and_the_right_role() {
    let (gateway, user, product) = gateway_with(unlimited()).await;

    // Public: no token needed.
    let body = echo(gateway.get("/api/v1/products").await).await;
    assert_eq!(body["uri"], "/v1/products");

    // Authenticated route without, or with a bad, token: 401.
    problem(gateway.get("/api/v1/users/me").await, 401).await;
    problem(gateway.get_as("/api/v1/users/me", "not-a-jwt").await, 401).await;
    let customer = gateway.token("c-1", &[Role::Customer]);
    let tampered = format!("{customer}x");
    problem(gateway.get_as("/api/v1/users/me", &tampered).await, 401).await;
    let basic = gateway
        .client
        .get(gateway.at("/api/v1/users/me"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    problem(basic, 401).await;
    // A token signed by some other key set is refused.
    let other_dir = tempfile::tempdir().unwrap();
    let stranger = ballast_kit::testing::keys(other_dir.path())
        .issue("x", "x@example.com", &[Role::Admin])
        .unwrap();
    problem(gateway.get_as("/api/v1/users", &stranger).await, 401).await;

    // Customer on an authenticated route: forwarded with the token.
    let body = echo(gateway.get_as("/api/v1/users/me", &customer).await).await;
    assert_eq!(
        body["headers"]["authorization"],
        format!("Bearer {customer}")
    );

    // Customer on admin routes: 403, and nothing reaches the upstream.
    let before = user.count() + product.count();
    problem(gateway.get_as("/api/v1/users", &customer).await, 403).await;
    let delete = gateway
        .client
        .delete(gateway.at("/api/v1/products/p-1"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    problem(delete, 403).await;
    assert_eq!(user.count() + product.count(), before);

    // Admin: allowed.
    let admin = gateway.token("a-1", &[Role::Admin]);
    let body = echo(gateway.get_as("/api/v1/users/u-9", &admin).await).await;
    assert_eq!(body["uri"], "/v1/users/u-9");
    assert_eq!(body["instance"], "user-1");
}

#[tokio::test]
async fn request_ids_are_generated_or_kept_and_hop_by_hop_headers_are_stripped() {
    let (gateway, _user, product) = gateway_with(unlimited()).await;

    let response = gateway.get("/api/v1/categories").await;
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!generated.is_empty());
    let body = echo(response).await;
    assert_eq!(body["headers"]["x-request-id"], generated.as_str());

    let response = gateway
        .client
        .get(gateway.at("/api/v1/categories"))
        .header("x-request-id", "req-42")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "drop me")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("x-custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let body = echo(response).await;
    let headers = body["headers"].as_object().unwrap();
    assert_eq!(headers["x-request-id"], "req-42");
    assert_eq!(headers["x-custom"], "kept");
    assert!(!headers.contains_key("x-hop"), "{headers:?}");
    assert!(!headers.contains_key("proxy-authorization"), "{headers:?}");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(product.count(), 2);
}

#[tokio::test]
async fn jwks_serves_the_verification_keys() {
    let (gateway, _user, _product) = gateway_with(unlimited()).await;
    let response = gateway.get("/api/v1/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    let jwks: serde_json::Value = response.json().await.unwrap();
    assert_eq!(jwks, gateway.keys.jwks());
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
}

#[tokio::test]
async fn api_keys_authenticate_machine_clients_with_their_roles() {
    let mut config = unlimited();
    config.api_keys = vec![
        ApiKeyConfig {
            name: "catalog-sync".into(),
            key: Secret::new("k-admin-0123456789"),
            roles: vec![Role::Admin],
        },
        ApiKeyConfig {
            name: "sre-bot".into(),
            key: Secret::new("k-sre-0123456789"),
            roles: vec![Role::Sre],
        },
    ];
    let (gateway, _user, product) = gateway_with(config).await;
    let with_key = |key: &'static str| {
        gateway
            .client
            .post(gateway.at("/api/v1/products"))
            .header("x-api-key", key)
            .header("content-type", "application/json")
            .body(r#"{"name":"lamp"}"#)
    };

    let response = with_key("k-admin-0123456789").send().await.unwrap();
    let body = echo(response).await;
    assert_eq!(body["body"], r#"{"name":"lamp"}"#);
    let headers = body["headers"].as_object().unwrap();
    assert!(
        !headers.contains_key("x-api-key"),
        "the key stays at the gateway"
    );
    // Upstreams see a token for the machine principal, signed with the platform's keys.
    let bearer = headers["authorization"].as_str().unwrap();
    let claims = gateway
        .keys
        .verify(bearer.strip_prefix("Bearer ").unwrap())
        .unwrap();
    assert_eq!(claims.sub, "apikey:catalog-sync");
    assert_eq!(claims.roles, vec![Role::Admin]);
    let again = echo(with_key("k-admin-0123456789").send().await.unwrap()).await;
    assert_eq!(again["headers"]["authorization"], bearer, "the same token");

    problem(with_key("k-sre-0123456789").send().await.unwrap(), 403).await;
    problem(with_key("k-admin-012345678").send().await.unwrap(), 401).await;
    problem(with_key("").send().await.unwrap(), 401).await;
    assert_eq!(product.count(), 2);
}

#[tokio::test]
async fn an_empty_api_key_is_a_configuration_error() {
    let mut config = unlimited();
    config.api_keys = vec![ApiKeyConfig {
        name: "blank".into(),
        key: Secret::new(""),
        roles: vec![Role::Admin],
    }];
    let dir = tempfile::tempdir().unwrap();
    let keys = ballast_kit::testing::keys(dir.path());
    let (_tx, rx) = tokio::sync::watch::channel(ballast_gateway::Endpoints::new());
    let error = ballast_gateway::router(config, keys, rx).await.unwrap_err();
    assert!(error.to_string().contains("blank"), "{error}");
}
