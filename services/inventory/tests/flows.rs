#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Inventory end to end: events in through the bus, answers out through the outbox, figures
//! through HTTP, on the store the run selects.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ballast_inventory::reservations::{self, ReserveOutcome};
use ballast_inventory::{InventoryConfig, InventoryService, handler};
use ballast_kit::auth::Role;
use ballast_kit::events::catalog::{
    CommitStock, Line, ProductCreated, ReleaseStock, ReserveStock, StockCommitted, StockRejected,
    StockReleased, StockReserved,
};
use ballast_kit::events::{Event, Subscription};
use ballast_kit::store::now_millis;
use ballast_kit::testing::{TestInstance, spawn};
use serde_json::{Value, json};

async fn start() -> TestInstance {
    spawn(Arc::new(InventoryService {
        config: InventoryConfig {
            sweep_interval: Duration::from_millis(100),
        },
    }))
    .await
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn answers(app: &TestInstance) -> Box<dyn Subscription> {
    app.context
        .bus
        .subscribe(&format!("test-{}", id()), &["inventory".to_owned()])
        .await
        .unwrap()
}

async fn next(sub: &mut Box<dyn Subscription>) -> Event {
    let delivery = tokio::time::timeout(Duration::from_secs(15), sub.next())
        .await
        .expect("no inventory answer within 15s")
        .unwrap();
    sub.ack(&delivery).await.unwrap();
    delivery.event
}

async fn publish(app: &TestInstance, event: &Event) {
    app.context
        .bus
        .publish(std::slice::from_ref(event))
        .await
        .unwrap();
}

/// Creates a product with `initial` units and waits until inventory has its stock row.
async fn product(app: &TestInstance, initial: i64) -> String {
    let product_id = id();
    let created = ProductCreated {
        product_id: product_id.clone(),
        sku: format!("SKU-{}", &product_id[..8]),
        name: "Widget".into(),
        price_minor: 999,
        currency: "EUR".into(),
        weight_grams: 100,
        initial_stock: initial,
    };
    publish(app, &Event::of(&product_id, &created).unwrap()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let response = client()
            .get(app.at(&format!("/v1/inventory/{product_id}")))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            return product_id;
        }
        assert!(tokio::time::Instant::now() < deadline, "no stock row");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn figures(app: &TestInstance, product_id: &str) -> (i64, i64) {
    let body: Value = client()
        .get(app.at(&format!("/v1/inventory/{product_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        body["available"].as_i64().unwrap(),
        body["reserved"].as_i64().unwrap(),
    )
}

async fn audit(app: &TestInstance, what: &str) -> Vec<Value> {
    let token = app.token("sre-1", &[Role::Sre]);
    let response = client()
        .get(app.at(&format!("/v1/audit/{what}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

async fn stock_row(app: &TestInstance, product_id: &str) -> Value {
    audit(app, "stock")
        .await
        .into_iter()
        .find(|row| row["product_id"] == product_id)
        .unwrap()
}

async fn reservation_status(app: &TestInstance, order_id: &str) -> Option<String> {
    audit(app, "reservations")
        .await
        .into_iter()
        .find(|row| row["order_id"] == order_id)
        .map(|row| row["status"].as_str().unwrap().to_owned())
}

/// Every stock row: nothing negative and initial + restocked = available + reserved + sold.
async fn assert_conserved(app: &TestInstance) {
    for row in audit(app, "stock").await {
        let n = |k: &str| row[k].as_i64().unwrap();
        for figure in ["initial", "restocked", "available", "reserved", "sold"] {
            assert!(n(figure) >= 0, "{figure} negative in {row}");
        }
        assert_eq!(
            n("initial") + n("restocked"),
            n("available") + n("reserved") + n("sold"),
            "not conserved: {row}"
        );
    }
}

fn reserve(order_id: &str, lines: &[(&str, i64)], expires_at: i64) -> Event {
    Event::of(
        order_id,
        &ReserveStock {
            order_id: order_id.into(),
            lines: lines
                .iter()
                .map(|(product_id, quantity)| Line {
                    product_id: (*product_id).into(),
                    quantity: *quantity,
                })
                .collect(),
            expires_at,
        },
    )
    .unwrap()
}

fn later() -> i64 {
    now_millis() + 600_000
}

fn commit(order_id: &str) -> Event {
    Event::of(
        order_id,
        &CommitStock {
            order_id: order_id.into(),
        },
    )
    .unwrap()
}

fn release(order_id: &str, reason: &str) -> Event {
    Event::of(
        order_id,
        &ReleaseStock {
            order_id: order_id.into(),
            reason: reason.into(),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn product_created_creates_stock_once() {
    let app = start().await;
    let product_id = product(&app, 7).await;
    assert_eq!(figures(&app, &product_id).await, (7, 0));
    // A second announcement of the same product (even with other figures) changes nothing.
    let again = ProductCreated {
        product_id: product_id.clone(),
        sku: "OTHER".into(),
        name: "Widget".into(),
        price_minor: 1,
        currency: "EUR".into(),
        weight_grams: 1,
        initial_stock: 100,
    };
    publish(&app, &Event::of(&product_id, &again).unwrap()).await;
    let zero = product(&app, 0).await; // processed after `again`
    assert_eq!(figures(&app, &zero).await, (0, 0));
    let row = stock_row(&app, &product_id).await;
    assert_eq!(row["initial"], 7);
    assert_eq!(row["available"], 7);
    assert_eq!(row["sku"], format!("SKU-{}", &product_id[..8]));
    let missing = client()
        .get(app.at(&format!("/v1/inventory/{}", id())))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_conserved(&app).await;
}

#[tokio::test]
async fn reserve_commit_and_cancel_release() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let a = product(&app, 5).await;
    let b = product(&app, 3).await;
    let order = id();
    publish(
        &app,
        &reserve(&order, &[(&a, 2), (&b, 1), (&a, 1)], later()),
    )
    .await;
    let answer = next(&mut sub).await;
    assert_eq!(answer.key, order);
    assert_eq!(
        answer.decode::<StockReserved>().unwrap().unwrap().order_id,
        order
    );
    assert_eq!(figures(&app, &a).await, (2, 3));
    assert_eq!(figures(&app, &b).await, (2, 1));
    assert_eq!(
        reservation_status(&app, &order).await.as_deref(),
        Some("held")
    );

    publish(&app, &commit(&order)).await;
    let answer = next(&mut sub).await;
    assert!(answer.decode::<StockCommitted>().is_some(), "{answer:?}");
    assert_eq!(figures(&app, &a).await, (2, 0));
    assert_eq!(stock_row(&app, &a).await["sold"], 3);
    // A repeated commit answers the same and sells nothing more.
    publish(&app, &commit(&order)).await;
    assert!(next(&mut sub).await.decode::<StockCommitted>().is_some());
    assert_eq!(stock_row(&app, &a).await["sold"], 3);

    // Cancellation: committed stock goes back.
    publish(&app, &release(&order, "cancelled")).await;
    let answer = next(&mut sub).await;
    let released = answer.decode::<StockReleased>().unwrap().unwrap();
    assert_eq!(released.reason, "cancelled");
    assert_eq!(figures(&app, &a).await, (5, 0));
    assert_eq!(figures(&app, &b).await, (3, 0));
    assert_eq!(stock_row(&app, &a).await["sold"], 0);
    // Released again: answered, nothing returned twice.
    publish(&app, &release(&order, "cancelled")).await;
    assert!(next(&mut sub).await.decode::<StockReleased>().is_some());
    assert_eq!(figures(&app, &a).await, (5, 0));
    // A commit after the release is refused.
    publish(&app, &commit(&order)).await;
    let refused = next(&mut sub)
        .await
        .decode::<StockRejected>()
        .unwrap()
        .unwrap();
    assert_eq!(refused.reason, "reservation_released");
    assert_conserved(&app).await;
}

#[tokio::test]
async fn compensation_releases_a_hold() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let a = product(&app, 4).await;
    let order = id();
    publish(&app, &reserve(&order, &[(&a, 4)], later())).await;
    assert!(next(&mut sub).await.decode::<StockReserved>().is_some());
    assert_eq!(figures(&app, &a).await, (0, 4));
    publish(&app, &release(&order, "payment_declined")).await;
    assert!(next(&mut sub).await.decode::<StockReleased>().is_some());
    assert_eq!(figures(&app, &a).await, (4, 0));
    assert_eq!(
        reservation_status(&app, &order).await.as_deref(),
        Some("released")
    );
    assert_conserved(&app).await;
}

#[tokio::test]
async fn a_redelivered_reserve_has_no_second_effect() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let a = product(&app, 10).await;
    let order = id();
    let command = reserve(&order, &[(&a, 3)], later());
    publish(&app, &command).await;
    publish(&app, &command).await; // the same event id: deduplicated
    // The same command again under a new event id: re-answered, nothing new held.
    publish(&app, &reserve(&order, &[(&a, 3)], later())).await;
    assert!(next(&mut sub).await.decode::<StockReserved>().is_some());
    assert!(next(&mut sub).await.decode::<StockReserved>().is_some());
    // The second answer is to the third event, so the duplicate before it was consumed.
    assert_eq!(figures(&app, &a).await, (7, 3));
    let held: Vec<Value> = audit(&app, "reservations")
        .await
        .into_iter()
        .filter(|r| r["order_id"] == order)
        .collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["lines"], json!([{"product_id": a, "quantity": 3}]));
    assert_conserved(&app).await;
}

#[tokio::test]
async fn out_of_stock_rejects_and_holds_nothing() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let a = product(&app, 5).await;
    let b = product(&app, 2).await;
    let order = id();
    // The first line fits; the second does not: nothing is held.
    publish(&app, &reserve(&order, &[(&a, 5), (&b, 3)], later())).await;
    let rejected = next(&mut sub)
        .await
        .decode::<StockRejected>()
        .unwrap()
        .unwrap();
    assert_eq!(rejected.reason, "out_of_stock");
    assert_eq!(figures(&app, &a).await, (5, 0));
    assert_eq!(figures(&app, &b).await, (2, 0));
    assert_eq!(
        reservation_status(&app, &order).await.as_deref(),
        Some("rejected")
    );
    // Asked again: the same answer, even though nothing changed in between.
    publish(&app, &reserve(&order, &[(&a, 1)], later())).await;
    let again = next(&mut sub)
        .await
        .decode::<StockRejected>()
        .unwrap()
        .unwrap();
    assert_eq!(again.reason, "out_of_stock");
    assert_eq!(figures(&app, &a).await, (5, 0));

    let unknown = id();
    publish(&app, &reserve(&unknown, &[(&a, 1), (&id(), 1)], later())).await;
    let rejected = next(&mut sub)
        .await
        .decode::<StockRejected>()
        .unwrap()
        .unwrap();
    assert_eq!(rejected.reason, "unknown_product");
    let invalid = id();
    publish(&app, &reserve(&invalid, &[(&a, 0)], later())).await;
    let rejected = next(&mut sub)
        .await
        .decode::<StockRejected>()
        .unwrap()
        .unwrap();
    assert_eq!(rejected.reason, "invalid_lines");
    assert_eq!(figures(&app, &a).await, (5, 0));
    assert_conserved(&app).await;
}

#[tokio::test]
async fn two_orders_for_the_last_unit_exactly_one_reserves() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let a = product(&app, 1).await;
    let (first, second) = (id(), id());
    app.context
        .bus
        .publish(&[
            reserve(&first, &[(&a, 1)], later()),
            reserve(&second, &[(&a, 1)], later()),
        ])
        .await
        .unwrap();
    let mut outcomes = BTreeMap::new();
    for _ in 0..2 {
        let event = next(&mut sub).await;
        outcomes.insert(event.key.clone(), event.kind.clone());
    }
    let kinds: Vec<&str> = outcomes.values().map(String::as_str).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "inventory.reserved").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "inventory.rejected").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(figures(&app, &a).await, (0, 1));
    assert_conserved(&app).await;
}

#[tokio::test]
async fn concurrent_reserves_of_the_last_units_never_oversell() {
    let app = start().await;
    let a = product(&app, 3).await;
    let b = product(&app, 3).await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..12 {
        let store = app.context.store.clone();
        let (a, b) = (a.clone(), b.clone());
        tasks.spawn(async move {
            // Lines in both orders, so lock ordering matters on PostgreSQL.
            let lines = if n % 2 == 0 {
                vec![(a, 1), (b, 1)]
            } else {
                vec![(b, 1), (a, 1)]
            };
            let lines: Vec<Line> = lines
                .into_iter()
                .map(|(product_id, quantity)| Line {
                    product_id,
                    quantity,
                })
                .collect();
            reservations::reserve_now(&store, &id(), &lines, later())
                .await
                .unwrap()
        });
    }
    let mut reserved = 0;
    let mut rejected = 0;
    while let Some(outcome) = tasks.join_next().await {
        match outcome.unwrap() {
            ReserveOutcome::Reserved => reserved += 1,
            ReserveOutcome::Rejected(reason) => {
                assert_eq!(reason, "out_of_stock");
                rejected += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((reserved, rejected), (3, 9));
    assert_eq!(figures(&app, &a).await, (0, 3));
    assert_eq!(figures(&app, &b).await, (0, 3));

    // The last single unit, many racers: exactly one wins.
    let c = product(&app, 1).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = app.context.store.clone();
        let c = c.clone();
        tasks.spawn(async move {
            let line = Line {
                product_id: c,
                quantity: 1,
            };
            reservations::reserve_now(&store, &id(), &[line], later())
                .await
                .unwrap()
        });
    }
    let mut winners = 0;
    while let Some(outcome) = tasks.join_next().await {
        if outcome.unwrap() == ReserveOutcome::Reserved {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(figures(&app, &c).await, (0, 1));
    assert_conserved(&app).await;
}

#[tokio::test]
async fn an_abandoned_hold_expires_and_cannot_be_committed() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let a = product(&app, 2).await;
    let order = id();
    publish(&app, &reserve(&order, &[(&a, 2)], now_millis() + 300)).await;
    assert!(next(&mut sub).await.decode::<StockReserved>().is_some());
    let expired = next(&mut sub)
        .await
        .decode::<StockReleased>()
        .unwrap()
        .unwrap();
    assert_eq!(expired.order_id, order);
    assert_eq!(expired.reason, "expired");
    assert_eq!(figures(&app, &a).await, (2, 0));
    assert_eq!(
        reservation_status(&app, &order).await.as_deref(),
        Some("expired")
    );
    publish(&app, &commit(&order)).await;
    let refused = next(&mut sub)
        .await
        .decode::<StockRejected>()
        .unwrap()
        .unwrap();
    assert_eq!(refused.reason, "reservation_expired");
    // A release of an expired hold is answered and returns nothing twice.
    publish(&app, &release(&order, "timeout")).await;
    assert!(next(&mut sub).await.decode::<StockReleased>().is_some());
    assert_eq!(figures(&app, &a).await, (2, 0));
    assert_conserved(&app).await;
}

#[tokio::test]
async fn a_commit_past_expiry_expires_the_hold_even_before_the_sweeper() {
    // A sweeper that never runs in this test's time frame.
    let app = spawn(Arc::new(InventoryService {
        config: InventoryConfig {
            sweep_interval: Duration::from_secs(3600),
        },
    }))
    .await;
    let mut sub = answers(&app).await;
    let a = product(&app, 2).await;
    let order = id();
    publish(&app, &reserve(&order, &[(&a, 1)], now_millis() - 1)).await;
    assert!(next(&mut sub).await.decode::<StockReserved>().is_some());
    publish(&app, &commit(&order)).await;
    let released = next(&mut sub)
        .await
        .decode::<StockReleased>()
        .unwrap()
        .unwrap();
    assert_eq!(released.reason, "expired");
    let refused = next(&mut sub)
        .await
        .decode::<StockRejected>()
        .unwrap()
        .unwrap();
    assert_eq!(refused.reason, "reservation_expired");
    assert_eq!(figures(&app, &a).await, (2, 0));
    assert_conserved(&app).await;
}

#[tokio::test]
async fn sweepers_racing_expire_each_hold_once() {
    let app = spawn(Arc::new(InventoryService {
        config: InventoryConfig {
            sweep_interval: Duration::from_secs(3600),
        },
    }))
    .await;
    let a = product(&app, 20).await;
    let past = now_millis() - 1;
    for _ in 0..10 {
        let line = Line {
            product_id: a.clone(),
            quantity: 2,
        };
        let outcome = reservations::reserve_now(&app.context.store, &id(), &[line], past)
            .await
            .unwrap();
        assert_eq!(outcome, ReserveOutcome::Reserved);
    }
    assert_eq!(figures(&app, &a).await, (0, 20));
    let mut sweepers = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let store = app.context.store.clone();
        sweepers.spawn(async move { handler::sweep_expired(&store, now_millis()).await.unwrap() });
    }
    let mut expired = 0;
    while let Some(n) = sweepers.join_next().await {
        expired += n.unwrap();
    }
    assert_eq!(expired, 10);
    assert_eq!(figures(&app, &a).await, (20, 0));
    let released: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE kind = 'inventory.released'",
    )
    .fetch_one(app.context.store.pool())
    .await
    .unwrap();
    assert_eq!(released, 10, "one inventory.released per expired hold");
    assert_conserved(&app).await;
}

#[tokio::test]
async fn a_release_before_any_reserve_blocks_a_late_reserve() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let a = product(&app, 3).await;
    let order = id();
    publish(&app, &release(&order, "timeout")).await;
    assert!(next(&mut sub).await.decode::<StockReleased>().is_some());
    publish(&app, &reserve(&order, &[(&a, 1)], later())).await;
    assert!(next(&mut sub).await.decode::<StockReleased>().is_some());
    assert_eq!(figures(&app, &a).await, (3, 0));
    assert_conserved(&app).await;
}

#[tokio::test]
async fn restock_is_for_admins() {
    let app = start().await;
    let a = product(&app, 1).await;
    let url = app.at(&format!("/v1/inventory/{a}/restock"));
    let admin = app.token("admin-1", &[Role::Admin]);
    let customer = app.token("user-1", &[Role::Customer]);

    let response = client()
        .post(&url)
        .bearer_auth(&admin)
        .json(&json!({"quantity": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["available"], 5);
    assert_eq!(body["restocked"], 4);
    assert_eq!(body["initial"], 1);
    assert_eq!(figures(&app, &a).await, (5, 0));

    let forbidden = client()
        .post(&url)
        .bearer_auth(&customer)
        .json(&json!({"quantity": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    let anonymous = client()
        .post(&url)
        .json(&json!({"quantity": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    for bad in [json!({"quantity": 0}), json!({"quantity": -3})] {
        let response = client()
            .post(&url)
            .bearer_auth(&admin)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
    }
    let unknown_field = client()
        .post(&url)
        .bearer_auth(&admin)
        .json(&json!({"quantity": 1, "price": 3}))
        .send()
        .await
        .unwrap();
    assert!(unknown_field.status().is_client_error());
    let missing = client()
        .post(app.at(&format!("/v1/inventory/{}/restock", id())))
        .bearer_auth(&admin)
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(figures(&app, &a).await, (5, 0));
    assert_conserved(&app).await;
}

#[tokio::test]
async fn audit_endpoints_need_admin_or_sre() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let a = product(&app, 2).await;
    let order = id();
    publish(&app, &reserve(&order, &[(&a, 2)], later())).await;
    next(&mut sub).await;
    for what in ["stock", "reservations"] {
        let url = app.at(&format!("/v1/audit/{what}"));
        let customer = app.token("user-1", &[Role::Customer]);
        let response = client()
            .get(&url)
            .bearer_auth(customer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        let response = client().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 401);
        let admin = app.token("admin-1", &[Role::Admin]);
        let response = client().get(&url).bearer_auth(admin).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let reservation = audit(&app, "reservations").await.remove(0);
    assert_eq!(reservation["order_id"], order);
    assert_eq!(reservation["status"], "held");
    assert_eq!(reservation["lines"][0]["quantity"], 2);
    assert!(reservation["expires_at"].as_i64().unwrap() > now_millis());
    let row = stock_row(&app, &a).await;
    for column in [
        "initial",
        "restocked",
        "available",
        "reserved",
        "sold",
        "sku",
        "updated_at",
    ] {
        assert!(!row[column].is_null(), "{column} missing");
    }
    let openapi: Value = client()
        .get(app.at("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(openapi["paths"]["/v1/inventory/{product_id}/restock"].is_object());
}

#[tokio::test]
async fn a_stock_take_sets_available_and_keeps_the_books() {
    let app = start().await;
    let a = product(&app, 5).await;
    let url = app.at(&format!("/v1/inventory/{a}"));
    let admin = app.token("admin-1", &[Role::Admin]);
    let put = |body: Value, token: String| {
        let url = url.clone();
        async move {
            client()
                .put(&url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let response = put(json!({"available": 9}), admin.clone()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["available"].as_i64(), body["restocked"].as_i64()),
        (Some(9), Some(4))
    );
    let response = put(json!({"available": 6}), admin.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(stock_row(&app, &a).await["restocked"], 1);
    // Below the initial stock: refused, nothing changes.
    let response = put(json!({"available": 4}), admin.clone()).await;
    assert_eq!(response.status(), 409);
    assert_eq!(figures(&app, &a).await, (6, 0));
    let response = put(json!({"available": -1}), admin.clone()).await;
    assert_eq!(response.status(), 422);
    let customer = app.token("user-1", &[Role::Customer]);
    assert_eq!(put(json!({"available": 7}), customer).await.status(), 403);
    assert_conserved(&app).await;
}
