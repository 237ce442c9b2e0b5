#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The order service over HTTP and the bus: the test plays inventory, payment and shipping by
//! reading the commands the service emits and publishing their answers. Runs on SQLite or
//! PostgreSQL (`BALLAST_TEST_STORE=postgres`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ballast_kit::auth::Role;
use ballast_kit::events::catalog::{
    Payload, PaymentCaptured, PaymentDeclined, PaymentRefunded, ProductCreated, ProductDeleted,
    ShipmentCreated, ShipmentStatusChanged, StockCommitted, StockRejected, StockReleased,
    StockReserved, topics,
};
use ballast_kit::events::{Event, Subscription};
use ballast_kit::testing::{TestInstance, environment, spawn, spawn_in};
use ballast_order::{OrderConfig, OrderService};
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn fast_config() -> OrderConfig {
    OrderConfig {
        sweep_interval: Duration::from_millis(50),
        ..OrderConfig::default()
    }
}

async fn app_with(config: OrderConfig) -> TestInstance {
    spawn(Arc::new(OrderService::new(config))).await
}

async fn app() -> TestInstance {
    app_with(fast_config()).await
}

/// Publishes `payload` about `key` as inventory, payment or shipping would.
async fn publish<T: Payload>(app: &TestInstance, key: &str, payload: &T) -> Event {
    let event = Event::of(key, payload).unwrap();
    app.context
        .bus
        .publish(std::slice::from_ref(&event))
        .await
        .unwrap();
    event
}

/// Publishes a product and waits until the order service knows it.
async fn product(app: &TestInstance, id: &str, price_minor: i64, weight_grams: i64) {
    publish(
        app,
        id,
        &ProductCreated {
            product_id: id.into(),
            sku: format!("SKU-{id}"),
            name: format!("Product {id}"),
            price_minor,
            currency: "EUR".into(),
            weight_grams,
            initial_stock: 10,
        },
    )
    .await;
    wait_until(|| async {
        let n: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM catalog WHERE product_id = $1",
        )
        .bind(id)
        .fetch_one(app.context.store.pool())
        .await
        .unwrap();
        n == 1
    })
    .await;
}

async fn wait_until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "condition not met within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Reads what the service emits on the command and order topics.
struct Probe {
    sub: Box<dyn Subscription>,
    unclaimed: Vec<Event>,
}

impl Probe {
    async fn new(app: &TestInstance) -> Self {
        let topics = [
            topics::INVENTORY_COMMANDS,
            topics::PAYMENT_COMMANDS,
            topics::ORDERS,
        ]
        .map(str::to_owned);
        let sub = app.context.bus.subscribe("test", &topics).await.unwrap();
        Self {
            sub,
            unclaimed: Vec::new(),
        }
    }

    /// The next event of `kind` about `order_id` (others are kept for later calls).
    async fn expect(&mut self, kind: &str, order_id: &str) -> Event {
        if let Some(i) = self
            .unclaimed
            .iter()
            .position(|e| e.kind == kind && e.key == order_id)
        {
            return self.unclaimed.remove(i);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let delivery = tokio::time::timeout(left, self.sub.next())
                .await
                .unwrap_or_else(|_| panic!("no {kind} for {order_id} within {WAIT:?}"))
                .unwrap();
            self.sub.ack(&delivery).await.unwrap();
            let event = delivery.event;
            if event.kind == kind && event.key == order_id {
                return event;
            }
            self.unclaimed.push(event);
        }
    }
}

fn address() -> Value {
    json!({"name": "Ada Lovelace", "line1": "1 Analytical St", "city": "London",
           "postal_code": "N1 1AA", "country": "gb"})
}

fn body(product_id: &str, quantity: i64, card: &str) -> Value {
    json!({
        "lines": [{"product_id": product_id, "quantity": quantity}],
        "card_token": card,
        "shipping_address": address(),
    })
}

async fn post_order(
    app: &TestInstance,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = client()
        .post(app.at("/v1/orders"))
        .bearer_auth(token)
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

/// Places an order and returns its id (asserting 202 pending).
async fn place(app: &TestInstance, token: &str, product_id: &str, card: &str) -> String {
    let key = uuid::Uuid::new_v4().to_string();
    let response = post_order(app, token, Some(&key), &body(product_id, 2, card)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["status"], "pending");
    order["id"].as_str().unwrap().to_owned()
}

async fn get_order(app: &TestInstance, token: &str, id: &str) -> reqwest::Response {
    client()
        .get(app.at(&format!("/v1/orders/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn wait_status(app: &TestInstance, token: &str, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let order: Value = get_order(app, token, id).await.json().await.unwrap();
        if order["status"] == status {
            return order;
        }
        assert!(
            Instant::now() < deadline,
            "order {id} is {} not {status} after {WAIT:?}",
            order["status"]
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn cancel(app: &TestInstance, token: &str, id: &str) -> reqwest::Response {
    client()
        .post(app.at(&format!("/v1/orders/{id}/cancel")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// How many events of `kind` about `order_id` the service has written to its outbox.
async fn emitted(app: &TestInstance, kind: &str, order_id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE kind = $1 AND event_key = $2",
    )
    .bind(kind)
    .bind(order_id)
    .fetch_one(app.context.store.pool())
    .await
    .unwrap()
}

fn captured(id: &str, amount_minor: i64) -> PaymentCaptured {
    PaymentCaptured {
        order_id: id.into(),
        user_id: "alice".into(),
        charge_id: format!("ch-{id}"),
        amount_minor,
        currency: "EUR".into(),
    }
}

fn refunded(id: &str, amount_minor: i64) -> PaymentRefunded {
    PaymentRefunded {
        order_id: id.into(),
        user_id: "alice".into(),
        charge_id: format!("ch-{id}"),
        refund_id: format!("rf-{}", uuid::Uuid::new_v4()),
        amount_minor,
    }
}

/// Drives a placed order through reserve, charge and commit to `confirmed`.
async fn confirm(app: &TestInstance, probe: &mut Probe, token: &str, id: &str, total: i64) {
    probe.expect("inventory.reserve", id).await;
    publish(
        app,
        id,
        &StockReserved {
            order_id: id.into(),
        },
    )
    .await;
    probe.expect("payment.charge", id).await;
    publish(app, id, &captured(id, total)).await;
    probe.expect("inventory.commit", id).await;
    publish(
        app,
        id,
        &StockCommitted {
            order_id: id.into(),
        },
    )
    .await;
    wait_status(app, token, id, "confirmed").await;
}

#[tokio::test]
async fn happy_path_confirms_ships_and_announces_every_step() {
    let app = app().await;
    let mut probe = Probe::new(&app).await;
    product(&app, "p1", 1250, 300).await;
    let token = app.token("alice", &[Role::Customer]);

    let key = "order-1";
    let response = post_order(&app, &token, Some(key), &body("p1", 2, "tok_ok")).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let order: Value = response.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order["status"], "pending");
    assert_eq!(
        order["total"],
        json!({"amount_minor": 2500, "currency": "EUR"})
    );
    assert_eq!(order["lines"][0]["unit_price"]["amount_minor"], 1250);
    assert_eq!(order["shipping_address"]["country"], "GB");

    let created = probe.expect("order.created", &id).await;
    assert_eq!(created.payload["total_minor"], 2500);
    let reserve = probe.expect("inventory.reserve", &id).await;
    assert_eq!(
        reserve.payload["lines"],
        json!([{"product_id": "p1", "quantity": 2}])
    );
    // The reservation outlives the saga's deadline by the margin.
    let expires_at = reserve.payload["expires_at"].as_i64().unwrap();
    assert!(expires_at >= created.occurred_at + 55_000, "{expires_at}");

    publish(
        &app,
        &id,
        &StockReserved {
            order_id: id.clone(),
        },
    )
    .await;
    let charge = probe.expect("payment.charge", &id).await;
    assert_eq!(charge.payload["amount_minor"], 2500);
    assert_eq!(charge.payload["currency"], "EUR");
    assert_eq!(charge.payload["card_token"], "tok_ok");
    assert_eq!(charge.payload["user_id"], "alice");

    publish(&app, &id, &captured(&id, 2500)).await;
    probe.expect("inventory.commit", &id).await;
    publish(
        &app,
        &id,
        &StockCommitted {
            order_id: id.clone(),
        },
    )
    .await;
    let confirmed = probe.expect("order.confirmed", &id).await;
    assert_eq!(confirmed.payload["weight_grams"], 600);
    assert_eq!(confirmed.payload["shipping_address"]["city"], "London");
    assert_eq!(confirmed.payload["total_minor"], 2500);
    wait_status(&app, &token, &id, "confirmed").await;

    // Shipping moves it on; once in transit it can no longer be cancelled.
    publish(
        &app,
        &id,
        &ShipmentCreated {
            order_id: id.clone(),
            user_id: "alice".into(),
            shipment_id: "sh-1".into(),
            tracking_number: "TRK1".into(),
        },
    )
    .await;
    let moved = |status: &str| ShipmentStatusChanged {
        order_id: id.clone(),
        user_id: "alice".into(),
        shipment_id: "sh-1".into(),
        status: status.into(),
    };
    publish(&app, &id, &moved("in_transit")).await;
    wait_status(&app, &token, &id, "shipped").await;
    assert_eq!(
        cancel(&app, &token, &id).await.status(),
        StatusCode::CONFLICT
    );
    publish(&app, &id, &moved("delivered")).await;
    wait_status(&app, &token, &id, "delivered").await;

    // Exactly one of each command, and the order's metrics.
    for kind in [
        "inventory.reserve",
        "payment.charge",
        "inventory.commit",
        "order.confirmed",
    ] {
        assert_eq!(emitted(&app, kind, &id).await, 1, "{kind}");
    }
    let metrics = client()
        .get(app.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"orders_total{service="order",status="confirmed"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"orders_total{service="order",status="pending"} 1"#));
    assert!(
        metrics.contains(
            r#"order_saga_duration_seconds_count{outcome="confirmed",service="order"} 1"#
        ) || metrics.contains(
            r#"order_saga_duration_seconds_count{service="order",outcome="confirmed"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_declined_payment_releases_the_stock_then_fails_and_a_late_capture_is_refunded() {
    let app = app().await;
    let mut probe = Probe::new(&app).await;
    product(&app, "p1", 1000, 100).await;
    let token = app.token("alice", &[Role::Customer]);
    let id = place(&app, &token, "p1", "tok_decline").await;

    probe.expect("inventory.reserve", &id).await;
    publish(
        &app,
        &id,
        &StockReserved {
            order_id: id.clone(),
        },
    )
    .await;
    probe.expect("payment.charge", &id).await;
    publish(
        &app,
        &id,
        &PaymentDeclined {
            order_id: id.clone(),
            user_id: "alice".into(),
            reason: "card_declined".into(),
        },
    )
    .await;
    let release = probe.expect("inventory.release", &id).await;
    assert_eq!(release.payload["reason"], "payment_declined");
    // Not failed until inventory confirms the release.
    let order: Value = get_order(&app, &token, &id).await.json().await.unwrap();
    assert_eq!(order["status"], "pending");
    publish(
        &app,
        &id,
        &StockReleased {
            order_id: id.clone(),
            reason: "compensation".into(),
        },
    )
    .await;
    let failed = probe.expect("order.failed", &id).await;
    assert_eq!(failed.payload["reason"], "payment_declined");
    let order = wait_status(&app, &token, &id, "failed").await;
    assert_eq!(order["reason"], "payment_declined");
    assert_eq!(emitted(&app, "payment.refund", &id).await, 0);

    // A capture that shows up after the failure is given back.
    publish(&app, &id, &captured(&id, 2000)).await;
    let refund = probe.expect("payment.refund", &id).await;
    assert_eq!(refund.payload["amount_minor"], Value::Null);
    assert_eq!(
        get_order(&app, &token, &id)
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "failed"
    );
}

#[tokio::test]
async fn rejected_stock_fails_the_order_without_charging() {
    let app = app().await;
    let mut probe = Probe::new(&app).await;
    product(&app, "p1", 1000, 100).await;
    let token = app.token("alice", &[Role::Customer]);
    let id = place(&app, &token, "p1", "tok_ok").await;
    probe.expect("inventory.reserve", &id).await;
    publish(
        &app,
        &id,
        &StockRejected {
            order_id: id.clone(),
            reason: "out_of_stock".into(),
        },
    )
    .await;
    let failed = probe.expect("order.failed", &id).await;
    assert_eq!(failed.payload["reason"], "out_of_stock");
    let order = wait_status(&app, &token, &id, "failed").await;
    assert_eq!(order["reason"], "out_of_stock");
    assert_eq!(emitted(&app, "payment.charge", &id).await, 0);
    assert_eq!(emitted(&app, "inventory.release", &id).await, 0);
}

#[tokio::test]
async fn a_saga_past_its_deadline_releases_voids_and_fails() {
    let app = app_with(OrderConfig {
        saga_timeout: Duration::from_millis(1500),
        reservation_margin: Duration::from_millis(500),
        sweep_interval: Duration::from_millis(50),
    })
    .await;
    let mut probe = Probe::new(&app).await;
    product(&app, "p1", 1000, 100).await;
    let token = app.token("alice", &[Role::Customer]);
    let id = place(&app, &token, "p1", "tok_timeout").await;

    let reserve = probe.expect("inventory.reserve", &id).await;
    let created_at = reserve.occurred_at;
    assert!(reserve.payload["expires_at"].as_i64().unwrap() >= created_at + 2000 - 50);
    publish(
        &app,
        &id,
        &StockReserved {
            order_id: id.clone(),
        },
    )
    .await;
    probe.expect("payment.charge", &id).await;
    // Payment never answers the charge: the sweeper compensates.
    let release = probe.expect("inventory.release", &id).await;
    assert_eq!(release.payload["reason"], "timeout");
    let refund = probe.expect("payment.refund", &id).await;
    assert_eq!(refund.payload["reason"], "timeout");
    assert!(refund.occurred_at >= created_at + 1500);

    publish(&app, &id, &refunded(&id, 0)).await;
    publish(
        &app,
        &id,
        &StockReleased {
            order_id: id.clone(),
            reason: "compensation".into(),
        },
    )
    .await;
    let failed = probe.expect("order.failed", &id).await;
    assert_eq!(failed.payload["reason"], "timeout");
    wait_status(&app, &token, &id, "failed").await;
    assert_eq!(emitted(&app, "payment.refund", &id).await, 1);
}

#[tokio::test]
async fn a_compensation_nobody_answers_is_asked_again() {
    let app = app_with(OrderConfig {
        saga_timeout: Duration::from_millis(500),
        reservation_margin: Duration::from_millis(500),
        sweep_interval: Duration::from_millis(50),
    })
    .await;
    let mut probe = Probe::new(&app).await;
    product(&app, "p1", 1000, 100).await;
    let token = app.token("alice", &[Role::Customer]);
    let id = place(&app, &token, "p1", "tok_ok").await;
    // Inventory never answers: release, then release again after another timeout.
    probe.expect("inventory.reserve", &id).await;
    probe.expect("inventory.release", &id).await;
    probe.expect("inventory.release", &id).await;
    publish(
        &app,
        &id,
        &StockRejected {
            order_id: id.clone(),
            reason: "out_of_stock".into(),
        },
    )
    .await;
    let failed = wait_status(&app, &token, &id, "failed").await;
    assert_eq!(failed["reason"], "timeout");
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_order_and_charges_once() {
    let app = app().await;
    let mut probe = Probe::new(&app).await;
    product(&app, "p1", 700, 100).await;
    let alice = app.token("alice", &[Role::Customer]);
    let bob = app.token("bob", &[Role::Customer]);
    let request = body("p1", 3, "tok_ok");

    let first = post_order(&app, &alice, Some("k-1"), &request).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_owned();
    // Replays, also concurrent ones, answer 200 with the same order.
    let replays =
        futures::future::join_all((0..4).map(|_| post_order(&app, &alice, Some("k-1"), &request)))
            .await;
    for replay in replays {
        assert_eq!(replay.status(), StatusCode::OK);
        let replay: Value = replay.json().await.unwrap();
        assert_eq!(replay["id"], id.as_str());
    }
    // The same key with another body is refused; another user's key space is separate.
    let other = post_order(&app, &alice, Some("k-1"), &body("p1", 4, "tok_ok")).await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bobs = post_order(&app, &bob, Some("k-1"), &request).await;
    assert_eq!(bobs.status(), StatusCode::ACCEPTED);
    assert_ne!(bobs.json::<Value>().await.unwrap()["id"], id.as_str());

    // A brand-new key raced from several clients at once also makes one order.
    let raced = futures::future::join_all(
        (0..4).map(|_| post_order(&app, &alice, Some("k-race"), &request)),
    )
    .await;
    let mut ids = Vec::new();
    for response in raced {
        assert!(
            matches!(response.status(), StatusCode::OK | StatusCode::ACCEPTED),
            "{}",
            response.status()
        );
        ids.push(response.json::<Value>().await.unwrap()["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");

    confirm(&app, &mut probe, &alice, &id, 2100).await;
    assert_eq!(emitted(&app, "payment.charge", &id).await, 1);
    assert_eq!(emitted(&app, "order.created", &id).await, 1);
    let count: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE user_id = 'alice'")
            .fetch_one(app.context.store.pool())
            .await
            .unwrap();
    assert_eq!(count, 2, "k-1 and k-race");
}

#[tokio::test]
async fn bad_requests_are_refused_with_problems() {
    let app = app().await;
    product(&app, "p1", 700, 100).await;
    product(&app, "gone", 700, 100).await;
    publish(
        &app,
        "gone",
        &ProductDeleted {
            product_id: "gone".into(),
        },
    )
    .await;
    wait_until(|| async {
        let active: i64 =
            sqlx::query_scalar("SELECT active FROM catalog WHERE product_id = 'gone'")
                .fetch_one(app.context.store.pool())
                .await
                .unwrap();
        active == 0
    })
    .await;
    let token = app.token("alice", &[Role::Customer]);
    let status = |r: reqwest::Response| r.status();

    assert_eq!(
        status(post_order(&app, &token, None, &body("p1", 1, "tok_ok")).await),
        StatusCode::BAD_REQUEST
    );
    let long = "k".repeat(129);
    assert_eq!(
        status(post_order(&app, &token, Some(&long), &body("p1", 1, "tok_ok")).await),
        StatusCode::BAD_REQUEST
    );
    for (i, bad) in [
        body("p1", 0, "tok_ok"),
        body("p1", 101, "tok_ok"),
        body("nope", 1, "tok_ok"),
        body("gone", 1, "tok_ok"),
        json!({"lines": [], "card_token": "tok_ok", "shipping_address": address()}),
        json!({"lines": [{"product_id": "p1", "quantity": 1}], "card_token": "tok_ok"}),
    ]
    .iter()
    .enumerate()
    {
        let response = post_order(&app, &token, Some(&format!("bad-{i}")), bad).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "case {i}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "case {i}"
        );
    }
    let anonymous = client()
        .post(app.at("/v1/orders"))
        .header("Idempotency-Key", "x")
        .json(&body("p1", 1, "tok_ok"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let count: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM orders")
        .fetch_one(app.context.store.pool())
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn duplicate_and_re_emitted_events_have_no_second_effect() {
    let app = app().await;
    let mut probe = Probe::new(&app).await;
    product(&app, "p1", 1000, 100).await;
    let token = app.token("alice", &[Role::Customer]);
    let id = place(&app, &token, "p1", "tok_ok").await;
    probe.expect("inventory.reserve", &id).await;

    // The same event delivered twice, and inventory re-emitting its outcome.
    let reserved = publish(
        &app,
        &id,
        &StockReserved {
            order_id: id.clone(),
        },
    )
    .await;
    app.context
        .bus
        .publish(std::slice::from_ref(&reserved))
        .await
        .unwrap();
    publish(
        &app,
        &id,
        &StockReserved {
            order_id: id.clone(),
        },
    )
    .await;
    probe.expect("payment.charge", &id).await;
    let capture = publish(&app, &id, &captured(&id, 2000)).await;
    app.context
        .bus
        .publish(std::slice::from_ref(&capture))
        .await
        .unwrap();
    publish(&app, &id, &captured(&id, 2000)).await;
    probe.expect("inventory.commit", &id).await;
    publish(
        &app,
        &id,
        &StockCommitted {
            order_id: id.clone(),
        },
    )
    .await;
    publish(
        &app,
        &id,
        &StockCommitted {
            order_id: id.clone(),
        },
    )
    .await;
    wait_status(&app, &token, &id, "confirmed").await;
    // Wait until the saga consumer has read everything published, then count.
    wait_until(|| async {
        let lag = app
            .context
            .bus
            .lag(
                ballast_order::SAGA_GROUP,
                &[topics::INVENTORY.to_owned(), topics::PAYMENTS.to_owned()],
            )
            .await
            .unwrap();
        lag.values().all(|l| *l == 0)
    })
    .await;
    for kind in ["payment.charge", "inventory.commit", "order.confirmed"] {
        assert_eq!(emitted(&app, kind, &id).await, 1, "{kind}");
    }
}

#[tokio::test]
async fn a_second_instance_resumes_a_saga_the_first_left_midway() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let env = environment(dir.path()).await;
    let service = Arc::new(OrderService::new(fast_config()));
    let first = spawn_in(service.clone(), env.clone(), dir.clone()).await;
    let mut probe = Probe::new(&first).await;
    product(&first, "p1", 1000, 100).await;
    let token = first.token("alice", &[Role::Customer]);
    let id = place(&first, &token, "p1", "tok_ok").await;
    probe.expect("inventory.reserve", &id).await;
    publish(
        &first,
        &id,
        &StockReserved {
            order_id: id.clone(),
        },
    )
    .await;
    probe.expect("payment.charge", &id).await;
    // The first instance stops with the charge outstanding; the capture arrives meanwhile.
    drop(first);
    let second = spawn_in(service, env, dir.clone()).await;
    publish(&second, &id, &captured(&id, 2000)).await;
    probe.expect("inventory.commit", &id).await;
    publish(
        &second,
        &id,
        &StockCommitted {
            order_id: id.clone(),
        },
    )
    .await;
    probe.expect("order.confirmed", &id).await;
    wait_status(&second, &token, &id, "confirmed").await;
    assert_eq!(emitted(&second, "payment.charge", &id).await, 1);
}

#[tokio::test]
async fn cancelling_before_and_after_confirmation_gives_stock_and_money_back() {
    let app = app().await;
    let mut probe = Probe::new(&app).await;
    product(&app, "p1", 1000, 100).await;
    let alice = app.token("alice", &[Role::Customer]);
    let bob = app.token("bob", &[Role::Customer]);

    // Before confirmation: only the reservation goes back.
    let early = place(&app, &alice, "p1", "tok_ok").await;
    probe.expect("inventory.reserve", &early).await;
    assert_eq!(
        cancel(&app, &bob, &early).await.status(),
        StatusCode::NOT_FOUND
    );
    let response = cancel(&app, &alice, &early).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "cancelling"
    );
    assert_eq!(
        cancel(&app, &alice, &early).await.status(),
        StatusCode::ACCEPTED
    );
    let release = probe.expect("inventory.release", &early).await;
    assert_eq!(release.payload["reason"], "cancelled");
    // A late reservation does not start a charge.
    publish(
        &app,
        &early,
        &StockReserved {
            order_id: early.clone(),
        },
    )
    .await;
    publish(
        &app,
        &early,
        &StockReleased {
            order_id: early.clone(),
            reason: "cancelled".into(),
        },
    )
    .await;
    probe.expect("order.cancelled", &early).await;
    wait_status(&app, &alice, &early, "cancelled").await;
    assert_eq!(emitted(&app, "payment.charge", &early).await, 0);
    assert_eq!(
        cancel(&app, &alice, &early).await.status(),
        StatusCode::CONFLICT
    );

    // After confirmation (label created): stock and the whole charge go back.
    let late = place(&app, &alice, "p1", "tok_ok").await;
    confirm(&app, &mut probe, &alice, &late, 2000).await;
    publish(
        &app,
        &late,
        &ShipmentCreated {
            order_id: late.clone(),
            user_id: "alice".into(),
            shipment_id: "sh-2".into(),
            tracking_number: "TRK2".into(),
        },
    )
    .await;
    assert_eq!(
        cancel(&app, &alice, &late).await.status(),
        StatusCode::ACCEPTED
    );
    probe.expect("inventory.release", &late).await;
    let refund = probe.expect("payment.refund", &late).await;
    assert_eq!(refund.payload["reason"], "cancelled");
    publish(&app, &late, &refunded(&late, 2000)).await;
    publish(
        &app,
        &late,
        &StockReleased {
            order_id: late.clone(),
            reason: "cancelled".into(),
        },
    )
    .await;
    let cancelled = probe.expect("order.cancelled", &late).await;
    assert_eq!(cancelled.payload["user_id"], "alice");
    wait_status(&app, &alice, &late, "cancelled").await;
}

#[tokio::test]
async fn orders_are_private_listed_newest_first_and_audited_for_admins() {
    let app = app().await;
    product(&app, "p1", 1000, 100).await;
    let alice = app.token("alice", &[Role::Customer]);
    let bob = app.token("bob", &[Role::Customer]);
    let admin = app.token("root", &[Role::Admin]);
    let sre = app.token("pager", &[Role::Sre]);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(place(&app, &alice, "p1", "tok_ok").await);
    }
    place(&app, &bob, "p1", "tok_ok").await;

    assert_eq!(
        get_order(&app, &bob, &ids[0]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_order(&app, &admin, &ids[0]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        get_order(&app, &alice, "no-such-order").await.status(),
        StatusCode::NOT_FOUND
    );

    let page: Value = client()
        .get(app.at("/v1/orders?per_page=2"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 3);
    let listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![ids[2].as_str(), ids[1].as_str()]);
    let second: Value = client()
        .get(app.at("/v1/orders?per_page=2&page=2"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["items"][0]["id"], ids[0].as_str());
    let bad = client()
        .get(app.at("/v1/orders?per_page=0"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let audit = |token: String| {
        let url = app.at("/v1/audit/orders");
        async move { client().get(url).bearer_auth(token).send().await.unwrap() }
    };
    assert_eq!(audit(alice.clone()).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(audit(sre.clone()).await.status(), StatusCode::OK);
    let all: Value = audit(admin.clone()).await.json().await.unwrap();
    let orders = all["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 4);
    let first = orders.iter().find(|o| o["id"] == ids[0].as_str()).unwrap();
    assert_eq!(first["status"], "pending");
    assert_eq!(first["terminal"], false);
    assert!(first["idempotency_key"].as_str().unwrap().len() > 10);
    assert!(matches!(first["step"].as_str().unwrap(), "reserving"));
    assert!(first["deadline_at_ms"].as_i64().unwrap() > first["created_at_ms"].as_i64().unwrap());
    assert_eq!(all["next_after"], Value::Null);
    let paged: Value = client()
        .get(app.at("/v1/audit/orders?limit=3"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after = paged["next_after"].as_str().unwrap().to_owned();
    let rest: Value = client()
        .get(app.at(&format!("/v1/audit/orders?after={after}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["orders"].as_array().unwrap().len(), 1);

    let openapi: Value = client()
        .get(app.at("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/orders/{id}/cancel",
        "/v1/audit/orders",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path}");
    }
}
