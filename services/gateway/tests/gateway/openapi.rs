//! Feature 7: the merged public OpenAPI document.

use serde_json::json;

use crate::support::{StandIn, TestGateway, table, unlimited};

#[tokio::test]
async fn the_public_document_merges_the_upstreams() {
    let user = StandIn::with_openapi(
        "user-1",
        json!({
            "openapi": "3.1.0",
            "info": { "title": "user", "version": "1" },
            "paths": {
                "/v1/users": {
                    "post": { "operationId": "register", "responses": { "201": { "description": "created" } } },
                    "get": { "operationId": "list_users", "responses": { "200": { "description": "ok" } } }
                },
                "/v1/internal/users/purge": { "post": { "operationId": "purge", "responses": {} } }
            },
            "components": { "schemas": { "User": { "type": "object" } } }
        }),
    )
    .await;
    let product = StandIn::with_openapi(
        "product-1",
        json!({
            "openapi": "3.1.0",
            "info": { "title": "product", "version": "1" },
            "paths": {
                "/v1/products/{product_id}": {
                    "get": { "operationId": "get_product", "responses": { "200": { "description": "ok" } } }
                }
            },
            "components": { "schemas": { "Product": { "type": "object" } } }
        }),
    )
    .await;
    let gateway = TestGateway::start(
        unlimited(),
        table(vec![
            ("user", vec![user.endpoint(true)]),
            ("product", vec![product.endpoint(true)]),
        ]),
    )
    .await;
    let response = gateway.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert_eq!(paths["/api/v1/users"]["post"]["operationId"], "register");
    assert!(paths["/api/v1/users"]["post"].get("security").is_none());
    assert!(
        paths["/api/v1/users"]["get"]["security"].is_array(),
        "admin only"
    );
    assert_eq!(
        paths["/api/v1/products/{product_id}"]["get"]["operationId"],
        "get_product"
    );
    assert!(!paths.contains_key("/api/v1/internal/users/purge"));
    assert!(!paths.keys().any(|p| !p.starts_with("/api/v1/")));
    let schemas = &document["components"]["schemas"];
    assert!(schemas["User"].is_object() && schemas["Product"].is_object());
    assert!(
        document["info"]["x-unavailable-services"]
            .as_array()
            .unwrap()
            .contains(&json!("order"))
    );
    // utoipa can read what the gateway serves.
    let typed: utoipa::openapi::OpenApi = serde_json::from_value(document).unwrap();
    assert!(typed.paths.paths.contains_key("/api/v1/users"));
}
