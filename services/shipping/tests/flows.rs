#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The shipping service over HTTP and the bus, on the store the run selects
//! (`BALLAST_TEST_STORE`): quotes, shipments from confirmed orders, tracking over time,
//! cancellation, returns, the audit endpoint and two replicas tracking the same shipments.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ballast_kit::auth::Role;
use ballast_kit::events::catalog::{
    Address, Line, OrderCancelled, OrderConfirmed, ShipmentCreated, ShipmentStatusChanged, topics,
};
use ballast_kit::events::{Event, Subscription};
use ballast_kit::testing::{TestInstance, environment, spawn, spawn_in};
use ballast_shipping::{ShippingConfig, ShippingService};
use reqwest::StatusCode;
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(20);

fn service(in_transit_after: Duration, delivered_after: Duration) -> Arc<ShippingService> {
    Arc::new(ShippingService {
        config: ShippingConfig {
            in_transit_after,
            delivered_after,
            tick: Duration::from_millis(50),
        },
    })
}

/// Moves on quickly.
fn fast() -> Arc<ShippingService> {
    service(Duration::from_millis(150), Duration::from_millis(150))
}

/// Never moves on within a test.
fn still() -> Arc<ShippingService> {
    service(Duration::from_secs(3600), Duration::from_secs(3600))
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn confirmed(order_id: &str, user_id: &str) -> OrderConfirmed {
    OrderConfirmed {
        order_id: order_id.into(),
        user_id: user_id.into(),
        lines: vec![Line {
            product_id: "p-1".into(),
            quantity: 2,
        }],
        weight_grams: 1_400,
        shipping_address: Address {
            name: "Ada Lovelace".into(),
            line1: "12 Analytical Row".into(),
            city: "London".into(),
            postal_code: "N1 9GU".into(),
            country: "gb".into(),
        },
        total_minor: 5_998,
        currency: "USD".into(),
    }
}

async fn publish(app: &TestInstance, events: &[Event]) {
    app.context.bus.publish(events).await.unwrap();
}

/// Polls `check` until it answers `Some`, failing after [`DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads the `shipping` topic with a private group.
struct Watcher {
    sub: Box<dyn Subscription>,
    seen: Vec<Event>,
}

impl Watcher {
    async fn new(app: &TestInstance) -> Self {
        let sub = app
            .context
            .bus
            .subscribe(
                &format!("test-{}", new_id()),
                &[topics::SHIPPING.to_owned()],
            )
            .await
            .unwrap();
        Self {
            sub,
            seen: Vec::new(),
        }
    }

    /// Reads until `done(seen)` holds.
    async fn until(&mut self, what: &str, done: impl Fn(&[Event]) -> bool) -> &[Event] {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let delivery = tokio::time::timeout(left, self.sub.next())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}: {:?}", self.seen))
                .unwrap();
            self.sub.ack(&delivery).await.unwrap();
            self.seen.push(delivery.event);
        }
        &self.seen
    }
}

fn statuses(events: &[Event], order_id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.key == order_id)
        .map(|e| {
            if let Some(created) = e.decode::<ShipmentCreated>() {
                created.unwrap();
                "created".to_owned()
            } else {
                e.decode::<ShipmentStatusChanged>().unwrap().unwrap().status
            }
        })
        .collect()
}

async fn send(
    app: &TestInstance,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, app.at(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(app: &TestInstance, path: &str, token: &str) -> (StatusCode, Value) {
    send(app, reqwest::Method::GET, path, Some(token), None).await
}

/// Confirms an order on the bus and answers its shipment id (from `shipment.created`).
async fn ship(app: &TestInstance, watcher: &mut Watcher, order_id: &str, user: &str) -> String {
    publish(
        app,
        &[Event::of(order_id, &confirmed(order_id, user)).unwrap()],
    )
    .await;
    let events = watcher
        .until("shipment.created", |seen| {
            seen.iter()
                .any(|e| e.key == order_id && e.decode::<ShipmentCreated>().is_some())
        })
        .await;
    let created = events
        .iter()
        .find_map(|e| {
            (e.key == order_id)
                .then(|| e.decode::<ShipmentCreated>())
                .flatten()
        })
        .unwrap()
        .unwrap();
    assert_eq!(created.user_id, user);
    assert!(created.tracking_number.starts_with("BL"));
    created.shipment_id
}

async fn status_of(app: &TestInstance, shipment_id: &str) -> String {
    let admin = app.token("admin-1", &[Role::Admin]);
    let (status, body) = get(app, &format!("/v1/shipments/{shipment_id}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn quotes_are_priced_by_weight_and_zone() {
    let app = spawn(still()).await;
    let quote = |body: Value| {
        let app = &app;
        async move {
            send(
                app,
                reqwest::Method::POST,
                "/v1/shipping/quote",
                None,
                Some(body),
            )
            .await
        }
    };
    let (status, body) = quote(json!({
        "weight_grams": 450,
        "destination": {"country": "US", "postal_code": "94103"}
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "amount_minor": 599, "currency": "USD", "service_level": "standard",
            "estimated_days": 3, "zone": "domestic"
        })
    );
    let (_, heavier) = quote(json!({
        "weight_grams": 4_000,
        "destination": {"country": "us", "postal_code": "94103"}
    }))
    .await;
    let (_, farther) = quote(json!({
        "weight_grams": 450,
        "destination": {"country": "DE", "postal_code": "10115"}
    }))
    .await;
    assert!(heavier["amount_minor"].as_i64().unwrap() > 599);
    assert!(farther["amount_minor"].as_i64().unwrap() > 599);
    assert_eq!(farther["zone"], "far");

    for (body, field) in [
        (
            json!({"weight_grams": 0, "destination": {"country": "US", "postal_code": "1"}}),
            "weight_grams",
        ),
        (
            json!({"weight_grams": 80_000, "destination": {"country": "US", "postal_code": "1"}}),
            "weight_grams",
        ),
        (
            json!({"weight_grams": 10, "destination": {"country": "Narnia", "postal_code": "1"}}),
            "destination.country",
        ),
        (
            json!({"weight_grams": 10, "destination": {"country": "US", "postal_code": " "}}),
            "destination.postal_code",
        ),
    ] {
        let (status, problem) = quote(body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["field"], field);
    }
    let (status, _) = quote(json!({"weight_grams": 10})).await;
    assert!(status.is_client_error());
    let (status, _) = quote(json!({
        "weight_grams": 10,
        "destination": {"country": "US", "postal_code": "1"},
        "insurance": true
    }))
    .await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn a_confirmed_order_ships_once_and_is_tracked_to_delivery() {
    let app = spawn(fast()).await;
    let mut watcher = Watcher::new(&app).await;
    let order_id = new_id();
    let first = Event::of(&order_id, &confirmed(&order_id, "u-1")).unwrap();
    // The same event delivered twice and a second confirmation of the same order.
    let again = Event::of(&order_id, &confirmed(&order_id, "u-1")).unwrap();
    publish(&app, &[first.clone(), first, again]).await;

    let events = watcher
        .until("delivery", |seen| {
            statuses(seen, &order_id).contains(&"delivered".to_owned())
        })
        .await;
    assert_eq!(
        statuses(events, &order_id),
        ["created", "in_transit", "delivered"]
    );
    let created = events[0].decode::<ShipmentCreated>().unwrap().unwrap();
    let shipment_id = created.shipment_id;

    let owner = app.token("u-1", &[Role::Customer]);
    let (status, body) = get(&app, &format!("/v1/shipments/{shipment_id}"), &owner).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], shipment_id.as_str());
    assert_eq!(body["order_id"], order_id.as_str());
    assert_eq!(body["status"], "delivered");
    assert_eq!(body["tracking_number"], created.tracking_number.as_str());
    assert_eq!(body["weight_grams"], 1_400);
    assert_eq!(body["address"]["country"], "GB");
    assert_eq!(body["address"]["name"], "Ada Lovelace");
    assert_eq!(body["return"], Value::Null);
    let history: Vec<&str> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["label_created", "in_transit", "delivered"]);

    let (status, audit) = get(
        &app,
        "/v1/audit/shipments",
        &app.token("sre-1", &[Role::Sre]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit["total"], 1, "one shipment for the order: {audit}");

    eventually("the shipment metrics", || async {
        let text = reqwest::get(app.at("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let has = |line: &str| text.lines().any(|l| l == line);
        (has(r#"shipments{service="shipping",status="delivered"} 1"#)
            && has(r#"shipments{service="shipping",status="in_transit"} 0"#)
            && has(r#"shipment_transitions_total{service="shipping",status="delivered"} 1"#)
            && has(r#"shipment_transitions_total{service="shipping",status="in_transit"} 1"#))
        .then_some(())
    })
    .await;
    assert_eq!(audit["items"][0]["order_id"], order_id.as_str());
}

#[tokio::test]
async fn shipments_are_private_to_their_owner_and_admins() {
    let app = spawn(still()).await;
    let mut watcher = Watcher::new(&app).await;
    let order_id = new_id();
    let shipment_id = ship(&app, &mut watcher, &order_id, "u-1").await;
    let path = format!("/v1/shipments/{shipment_id}");
    let (status, _) = send(&app, reqwest::Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get(&app, &path, &app.token("u-2", &[Role::Customer])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get(&app, &path, &app.token("a", &[Role::Admin])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "label_created");
    let (status, list) = get(
        &app,
        &format!("/v1/shipments?order_id={order_id}"),
        &app.token("u-1", &[Role::Customer]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], shipment_id.as_str());
    let (_, list) = get(
        &app,
        &format!("/v1/shipments?order_id={order_id}"),
        &app.token("u-2", &[Role::Customer]),
    )
    .await;
    assert_eq!(list["items"], json!([]));
    let (_, list) = get(&app, "/v1/shipments", &app.token("a", &[Role::Admin])).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, _) = get(
        &app,
        "/v1/shipments/no-such-shipment",
        &app.token("u-1", &[Role::Customer]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(
        &app,
        "/v1/audit/shipments",
        &app.token("u-1", &[Role::Customer]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_cancelled_order_cancels_a_label_but_not_a_parcel_in_transit() {
    // Labels wait an hour for pickup here.
    let app = spawn(still()).await;
    let mut watcher = Watcher::new(&app).await;
    let order_id = new_id();
    let shipment_id = ship(&app, &mut watcher, &order_id, "u-1").await;
    let cancel = OrderCancelled {
        order_id: order_id.clone(),
        user_id: "u-1".into(),
    };
    publish(&app, &[Event::of(&order_id, &cancel).unwrap()]).await;
    let events = watcher
        .until("cancellation", |seen| {
            statuses(seen, &order_id).contains(&"cancelled".to_owned())
        })
        .await;
    assert_eq!(statuses(events, &order_id), ["created", "cancelled"]);
    assert_eq!(status_of(&app, &shipment_id).await, "cancelled");

    // Here labels are picked up at once and parcels travel for an hour.
    let moving = spawn(service(Duration::ZERO, Duration::from_secs(3600))).await;
    let mut watcher = Watcher::new(&moving).await;
    let order_id = new_id();
    let shipment_id = ship(&moving, &mut watcher, &order_id, "u-1").await;
    watcher
        .until("pickup", |seen| {
            statuses(seen, &order_id).contains(&"in_transit".to_owned())
        })
        .await;
    let cancel = OrderCancelled {
        order_id: order_id.clone(),
        user_id: "u-1".into(),
    };
    // An unrelated cancellation (no shipment) is harmless.
    let other = OrderCancelled {
        order_id: new_id(),
        user_id: "u-1".into(),
    };
    publish(
        &moving,
        &[
            Event::of(&order_id, &cancel).unwrap(),
            Event::of(&other.order_id, &other).unwrap(),
        ],
    )
    .await;
    let lag = || async {
        let lag = moving
            .context
            .bus
            .lag("shipping", &[topics::ORDERS.to_owned()])
            .await
            .unwrap();
        (lag.values().sum::<i64>() == 0).then_some(())
    };
    eventually("the consumer to catch up", lag).await;
    assert_eq!(status_of(&moving, &shipment_id).await, "in_transit");
}

#[tokio::test]
async fn only_the_owner_returns_a_delivered_shipment_once() {
    let app = spawn(service(Duration::ZERO, Duration::ZERO)).await;
    let mut watcher = Watcher::new(&app).await;
    let order_id = new_id();
    let shipment_id = ship(&app, &mut watcher, &order_id, "u-1").await;
    watcher
        .until("delivery", |seen| {
            statuses(seen, &order_id).contains(&"delivered".to_owned())
        })
        .await;
    let path = format!("/v1/shipments/{shipment_id}/returns");
    let owner = app.token("u-1", &[Role::Customer]);
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        &path,
        Some(&app.token("u-2", &[Role::Customer])),
        Some(json!({"reason": "mine now"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        &path,
        Some(&owner),
        Some(json!({"reason": "x".repeat(501)})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, record) = send(
        &app,
        reqwest::Method::POST,
        &path,
        Some(&owner),
        Some(json!({"reason": "too small"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    assert_eq!(record["shipment_id"], shipment_id.as_str());
    assert_eq!(record["reason"], "too small");
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        &path,
        Some(&owner),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (_, body) = get(&app, &format!("/v1/shipments/{shipment_id}"), &owner).await;
    assert_eq!(body["status"], "returned");
    assert_eq!(body["return"]["id"], record["id"]);
    assert_eq!(body["history"].as_array().unwrap().len(), 4);
    let events = watcher
        .until("the return event", |seen| {
            statuses(seen, &order_id).contains(&"returned".to_owned())
        })
        .await;
    assert_eq!(
        statuses(events, &order_id),
        ["created", "in_transit", "delivered", "returned"]
    );
}

#[tokio::test]
async fn a_shipment_not_yet_delivered_cannot_be_returned() {
    let app = spawn(still()).await;
    let mut watcher = Watcher::new(&app).await;
    let order_id = new_id();
    let shipment_id = ship(&app, &mut watcher, &order_id, "u-1").await;
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        &format!("/v1/shipments/{shipment_id}/returns"),
        Some(&app.token("u-1", &[Role::Customer])),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(status_of(&app, &shipment_id).await, "label_created");
}

#[tokio::test]
async fn two_replicas_move_each_shipment_once() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let environment = environment(dir.path()).await;
    let one = spawn_in(fast(), environment.clone(), dir.clone()).await;
    let two = spawn_in(fast(), environment, dir).await;
    let mut watcher = Watcher::new(&one).await;
    let orders: Vec<String> = (0..8).map(|_| new_id()).collect();
    let events: Vec<Event> = orders
        .iter()
        .map(|id| Event::of(id, &confirmed(id, "u-1")).unwrap())
        .collect();
    publish(&two, &events).await;
    let seen = watcher
        .until("every delivery", |seen| {
            orders
                .iter()
                .all(|id| statuses(seen, id).contains(&"delivered".to_owned()))
        })
        .await
        .to_vec();
    let mut per_order: HashMap<&str, Vec<String>> = HashMap::new();
    for id in &orders {
        per_order.insert(id, statuses(&seen, id));
    }
    // Nothing moved twice: one history line per status.
    let admin = one.token("admin-1", &[Role::Admin]);
    let (_, audit) = get(&one, "/v1/audit/shipments", &admin).await;
    assert_eq!(audit["total"], 8);
    for item in audit["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        let (_, detail) = get(&two, &format!("/v1/shipments/{id}"), &admin).await;
        assert_eq!(detail["history"].as_array().unwrap().len(), 3, "{detail}");
    }
    for (order, statuses) in per_order {
        assert_eq!(statuses, ["created", "in_transit", "delivered"], "{order}");
    }
}
