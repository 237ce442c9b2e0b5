#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The product service announces every catalog change on the `catalog` topic, through its
//! outbox, on the store the run selects (`BALLAST_TEST_STORE`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ballast_kit::auth::Role;
use ballast_kit::events::catalog::{ProductCreated, ProductDeleted, ProductUpdated, topics};
use ballast_kit::events::{Event, Subscription};
use ballast_kit::testing::{TestInstance, spawn};
use ballast_product::{ProductService, seed_catalog, seed_stock};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Subscribes a fresh test group to the catalog topic (it reads from the start).
async fn catalog(app: &TestInstance) -> Box<dyn Subscription> {
    app.context
        .bus
        .subscribe("product-test", &[topics::CATALOG.to_owned()])
        .await
        .unwrap()
}

/// The next catalog event, within 10 s.
async fn next(sub: &mut Box<dyn Subscription>) -> Event {
    let delivery = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an event within 10 s")
        .unwrap();
    sub.ack(&delivery).await.unwrap();
    delivery.event
}

async fn send(
    app: &TestInstance,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let token = app.token("admin-1", &[Role::Admin]);
    let mut request = reqwest::Client::new()
        .request(method, app.at(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn product(sku: &str, name: &str, price: i64, weight: i64) -> Value {
    json!({
        "sku": sku,
        "name": name,
        "description": "A lamp that clamps to any desk edge and dims smoothly.",
        "category": "office",
        "price": {"amount_minor": price, "currency": "usd"},
        "weight_grams": weight
    })
}

#[tokio::test]
async fn seeding_announces_every_product_with_its_initial_stock() {
    let app = spawn(Arc::new(ProductService)).await;
    seed_catalog(&app.context.store).await.unwrap();
    let mut sub = catalog(&app).await;
    let stock: HashMap<String, i64> = seed_stock().into_iter().collect();
    let mut seen = HashMap::new();
    while seen.len() < stock.len() {
        let event = next(&mut sub).await;
        let created = event.decode::<ProductCreated>().unwrap().unwrap();
        assert_eq!(event.key, created.product_id);
        assert_eq!(created.currency, "USD");
        assert!(created.price_minor > 0 && created.weight_grams > 0);
        assert!(
            seen.insert(created.sku.clone(), created.initial_stock)
                .is_none(),
            "{} announced twice",
            created.sku
        );
    }
    assert_eq!(seen, stock);
    // A second seed inserts nothing and announces nothing.
    seed_catalog(&app.context.store).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM outbox")
        .fetch_one(app.context.store.pool())
        .await
        .unwrap();
    assert_eq!(count, 200);
}

#[tokio::test]
async fn admin_changes_are_announced_in_order() {
    let app = spawn(Arc::new(ProductService)).await;
    seed_catalog(&app.context.store).await.unwrap();
    let (status, created) = send(
        &app,
        reqwest::Method::POST,
        "/v1/products",
        Some(product("LAMP-0001", "Clamp Lamp", 4599, 1200)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        &format!("/v1/products/{id}"),
        Some(product("LAMP-0001", "Clamp Lamp II", 4999, 1100)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/v1/products/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let mut sub = catalog(&app).await;
    let mut mine = Vec::new();
    while mine.len() < 3 {
        let event = next(&mut sub).await;
        if event.key == id {
            mine.push(event);
        }
    }
    let created = mine[0].decode::<ProductCreated>().unwrap().unwrap();
    assert_eq!(
        created,
        ProductCreated {
            product_id: id.clone(),
            sku: "LAMP-0001".into(),
            name: "Clamp Lamp".into(),
            price_minor: 4599,
            currency: "USD".into(),
            weight_grams: 1200,
            initial_stock: 0,
        }
    );
    let updated = mine[1].decode::<ProductUpdated>().unwrap().unwrap();
    assert_eq!(
        updated,
        ProductUpdated {
            product_id: id.clone(),
            name: "Clamp Lamp II".into(),
            price_minor: 4999,
            currency: "USD".into(),
            weight_grams: 1100,
        }
    );
    let deleted = mine[2].decode::<ProductDeleted>().unwrap().unwrap();
    assert_eq!(deleted, ProductDeleted { product_id: id });
}

#[tokio::test]
async fn rejected_changes_announce_nothing() {
    let app = spawn(Arc::new(ProductService)).await;
    seed_catalog(&app.context.store).await.unwrap();
    let missing = "0190c6a0-0000-7000-8000-000000000000";
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        &format!("/v1/products/{missing}"),
        Some(product("LAMP-0002", "Lamp", 100, 10)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/v1/products/{missing}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A taken SKU is a 409, and its transaction (event included) rolls back.
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/v1/products",
        Some(product("ELEC-0101", "Copy", 100, 10)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let count: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM outbox")
        .fetch_one(app.context.store.pool())
        .await
        .unwrap();
    assert_eq!(count, 200, "only the seed's events");
}
