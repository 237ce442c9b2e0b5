#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! The notification service over the bus and HTTP, on the store the run selects
//! (`BALLAST_TEST_STORE`): events become per-user notifications on the right channel, a
//! redelivered event records one, delivery goes through the sink once (also with two
//! replicas), and users list only their own.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ballast_kit::auth::Role;
use ballast_kit::events::Event;
use ballast_kit::events::catalog::{
    Address, Line, OrderCancelled, OrderConfirmed, OrderCreated, OrderFailed, PaymentCaptured,
    PaymentDeclined, PaymentRefunded, ShipmentCreated, ShipmentStatusChanged,
};
use ballast_kit::testing::{TestInstance, environment, spawn, spawn_in};
use ballast_notification::sink::{Sink, SinkError};
use ballast_notification::store::Pending;
use ballast_notification::{NotificationConfig, NotificationService};
use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(20);

/// Records what it delivers.
#[derive(Default)]
struct Recording {
    delivered: Mutex<Vec<Pending>>,
}

impl Sink for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }

    fn deliver<'a>(&'a self, notification: &'a Pending) -> BoxFuture<'a, Result<(), SinkError>> {
        self.delivered.lock().unwrap().push(notification.clone());
        Box::pin(async { Ok(()) })
    }
}

/// Fails its first `failures` deliveries, then records like [`Recording`].
struct Flaky {
    failures: AtomicUsize,
    inner: Recording,
}

impl Sink for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }

    fn deliver<'a>(&'a self, notification: &'a Pending) -> BoxFuture<'a, Result<(), SinkError>> {
        let fail = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Box::pin(async {
                Err(SinkError {
                    sink: "flaky",
                    reason: "mail server unavailable".into(),
                })
            });
        }
        self.inner.deliver(notification)
    }
}

/// A dispatcher holding its claims long enough that none lapses during a delivery.
fn service(sink: Arc<dyn Sink>) -> Arc<NotificationService> {
    retrying(sink, Duration::from_secs(10))
}

/// A dispatcher that retries a failed delivery after `claim_for`.
fn retrying(sink: Arc<dyn Sink>, claim_for: Duration) -> Arc<NotificationService> {
    Arc::new(NotificationService {
        config: NotificationConfig {
            dispatch_interval: Duration::from_millis(50),
            claim_for,
        },
        sink,
    })
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

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

async fn get(app: &TestInstance, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().get(app.at(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `user`'s notifications once there are `count` of them (all of them, newest first).
async fn notifications_of(app: &TestInstance, user: &str, count: i64) -> Vec<Value> {
    let token = app.token(user, &[Role::Customer]);
    eventually(&format!("{count} notifications for {user}"), || {
        let token = token.clone();
        async move {
            let (status, page) = get(app, "/v1/notifications?per_page=100", Some(&token)).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            (page["total"].as_i64().unwrap() >= count)
                .then(|| page["items"].as_array().unwrap().clone())
        }
    })
    .await
}

fn kinds(items: &[Value]) -> Vec<(&str, &str)> {
    items
        .iter()
        .map(|n| (n["kind"].as_str().unwrap(), n["channel"].as_str().unwrap()))
        .collect()
}

fn address() -> Address {
    Address {
        name: "Ada".into(),
        line1: "1 Row".into(),
        city: "Boston".into(),
        postal_code: "02110".into(),
        country: "US".into(),
    }
}

/// The events of one order's happy path and its later refund, in order.
fn lifecycle(order_id: &str, user: &str) -> Vec<Event> {
    let shipment_id = new_id();
    let lines = vec![Line {
        product_id: "p".into(),
        quantity: 2,
    }];
    vec![
        Event::of(
            order_id,
            &OrderCreated {
                order_id: order_id.into(),
                user_id: user.into(),
                lines: lines.clone(),
                total_minor: 5_998,
                currency: "EUR".into(),
            },
        )
        .unwrap(),
        Event::of(
            order_id,
            &PaymentCaptured {
                order_id: order_id.into(),
                user_id: user.into(),
                charge_id: "ch".into(),
                amount_minor: 5_998,
                currency: "EUR".into(),
            },
        )
        .unwrap(),
        Event::of(
            order_id,
            &OrderConfirmed {
                order_id: order_id.into(),
                user_id: user.into(),
                lines,
                weight_grams: 900,
                shipping_address: address(),
                total_minor: 5_998,
                currency: "EUR".into(),
            },
        )
        .unwrap(),
        Event::of(
            order_id,
            &ShipmentCreated {
                order_id: order_id.into(),
                user_id: user.into(),
                shipment_id: shipment_id.clone(),
                tracking_number: "BL0123456789ABCDEF".into(),
            },
        )
        .unwrap(),
        Event::of(
            order_id,
            &ShipmentStatusChanged {
                order_id: order_id.into(),
                user_id: user.into(),
                shipment_id: shipment_id.clone(),
                status: "in_transit".into(),
            },
        )
        .unwrap(),
        Event::of(
            order_id,
            &ShipmentStatusChanged {
                order_id: order_id.into(),
                user_id: user.into(),
                shipment_id,
                status: "delivered".into(),
            },
        )
        .unwrap(),
        Event::of(
            order_id,
            &PaymentRefunded {
                order_id: order_id.into(),
                user_id: user.into(),
                charge_id: "ch".into(),
                refund_id: "rf".into(),
                amount_minor: 1_000,
            },
        )
        .unwrap(),
    ]
}

#[tokio::test]
async fn an_orders_events_notify_its_buyer_on_the_right_channels() {
    let sink = Arc::new(Recording::default());
    let app = spawn(service(sink.clone())).await;
    let order_id = new_id();
    app.context
        .bus
        .publish(&lifecycle(&order_id, "u-1"))
        .await
        .unwrap();
    let items = notifications_of(&app, "u-1", 6).await;
    let mut seen = kinds(&items);
    seen.sort();
    assert_eq!(
        seen,
        [
            ("order.confirmed", "email"),
            ("order.created", "email"),
            ("payment.captured", "push"),
            ("payment.refunded", "email"),
            ("shipment.delivered", "sms"),
            ("shipment.in_transit", "sms"),
        ]
    );
    let find = |kind: &str| items.iter().find(|n| n["kind"] == kind).unwrap().clone();
    let created = find("order.created");
    assert_eq!(created["order_id"], order_id.as_str());
    assert!(
        created["subject"]
            .as_str()
            .unwrap()
            .contains(&order_id[..8])
    );
    assert!(created["body"].as_str().unwrap().contains("59.98 EUR"));
    assert!(
        find("shipment.in_transit")["body"]
            .as_str()
            .unwrap()
            .contains("BL0123456789ABCDEF")
    );
    assert!(
        find("payment.refunded")["body"]
            .as_str()
            .unwrap()
            .contains("10.00 EUR")
    );
    // Newest first.
    let stamps: Vec<&str> = items
        .iter()
        .map(|n| n["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = stamps.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(stamps, sorted);

    // Delivered through the sink, once each.
    let token = app.token("u-1", &[Role::Customer]);
    eventually("delivery", || {
        let token = token.clone();
        let app = &app;
        async move {
            let (_, page) = get(app, "/v1/notifications", Some(&token)).await;
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["status"] == "delivered" && n["delivered_at"].is_string())
                .then_some(())
        }
    })
    .await;
    assert_eq!(sink.delivered.lock().unwrap().len(), 6);

    // Nobody else sees them.
    let (status, page) = get(
        &app,
        "/v1/notifications",
        Some(&app.token("u-2", &[Role::Customer])),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 0);
    assert_eq!(page["items"], Value::Array(vec![]));
    let (status, _) = get(&app, "/v1/notifications", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failures_declines_and_cancellations_are_told_and_voids_are_not() {
    let app = spawn(service(Arc::new(Recording::default()))).await;
    let failed = new_id();
    let cancelled = new_id();
    let events = vec![
        Event::of(
            &failed,
            &PaymentDeclined {
                order_id: failed.clone(),
                user_id: "u-3".into(),
                reason: "card_declined".into(),
            },
        )
        .unwrap(),
        Event::of(
            &failed,
            &PaymentRefunded {
                order_id: failed.clone(),
                user_id: "u-3".into(),
                charge_id: "ch".into(),
                refund_id: "void".into(),
                amount_minor: 0,
            },
        )
        .unwrap(),
        Event::of(
            &failed,
            &OrderFailed {
                order_id: failed.clone(),
                user_id: "u-3".into(),
                reason: "payment_declined".into(),
            },
        )
        .unwrap(),
        Event::of(
            &cancelled,
            &OrderCancelled {
                order_id: cancelled.clone(),
                user_id: "u-3".into(),
            },
        )
        .unwrap(),
        Event::of(
            &cancelled,
            &ShipmentStatusChanged {
                order_id: cancelled.clone(),
                user_id: "u-3".into(),
                shipment_id: "s".into(),
                status: "cancelled".into(),
            },
        )
        .unwrap(),
    ];
    app.context.bus.publish(&events).await.unwrap();
    notifications_of(&app, "u-3", 3).await;
    // Once the consumer has read everything, nothing more was recorded.
    eventually("the consumer to catch up", || async {
        let lag = app
            .context
            .bus
            .lag(
                "notification",
                &["orders".into(), "payments".into(), "shipping".into()],
            )
            .await
            .unwrap();
        (lag.values().sum::<i64>() == 0).then_some(())
    })
    .await;
    let items = notifications_of(&app, "u-3", 3).await;
    let mut seen = kinds(&items);
    seen.sort();
    assert_eq!(
        seen,
        [
            ("order.cancelled", "email"),
            ("order.failed", "email"),
            ("payment.declined", "push"),
        ]
    );
    let failed_mail = items.iter().find(|n| n["kind"] == "order.failed").unwrap();
    assert!(
        failed_mail["body"]
            .as_str()
            .unwrap()
            .contains("the payment was declined")
    );
}

#[tokio::test]
async fn a_redelivered_event_records_one_notification() {
    let sink = Arc::new(Recording::default());
    let app = spawn(service(sink.clone())).await;
    let order_id = new_id();
    let event = Event::of(
        &order_id,
        &OrderCancelled {
            order_id: order_id.clone(),
            user_id: "u-4".into(),
        },
    )
    .unwrap();
    let marker = Event::of(
        &order_id,
        &OrderFailed {
            order_id: order_id.clone(),
            user_id: "u-4".into(),
            reason: "timeout".into(),
        },
    )
    .unwrap();
    // The same event three times (as a producer retrying after a lost acknowledgement
    // would), then a different one: once that is recorded, the duplicates were consumed.
    app.context
        .bus
        .publish(&[event.clone(), event.clone()])
        .await
        .unwrap();
    app.context.bus.publish(&[event, marker]).await.unwrap();
    let items = notifications_of(&app, "u-4", 2).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0]["kind"], "order.failed");
    assert_eq!(items[1]["kind"], "order.cancelled");
    let (status, audit) = get(
        &app,
        "/v1/audit/notifications",
        Some(&app.token("sre-1", &[Role::Sre])),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit["total"], 2);
    assert_eq!(audit["per_channel"]["email"], 2);
    let (status, _) = get(
        &app,
        "/v1/audit/notifications",
        Some(&app.token("u-4", &[Role::Customer])),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn two_replicas_deliver_each_notification_once() {
    let sink = Arc::new(Recording::default());
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let environment = environment(dir.path()).await;
    let one = spawn_in(service(sink.clone()), environment.clone(), dir.clone()).await;
    let _two = spawn_in(service(sink.clone()), environment, dir).await;
    let events: Vec<Event> = (0..30)
        .map(|i| {
            let order_id = new_id();
            Event::of(
                &order_id,
                &OrderCancelled {
                    order_id: order_id.clone(),
                    user_id: format!("u-{}", i % 3),
                },
            )
            .unwrap()
        })
        .collect();
    one.context.bus.publish(&events).await.unwrap();
    let admin = one.token("admin", &[Role::Admin]);
    eventually("every delivery", || {
        let admin = admin.clone();
        let one = &one;
        async move {
            let (_, audit) = get(one, "/v1/audit/notifications", Some(&admin)).await;
            (audit["total"] == 30 && audit["pending"] == 0).then_some(())
        }
    })
    .await;
    let delivered = sink.delivered.lock().unwrap().clone();
    let mut ids: Vec<&str> = delivered.iter().map(|p| p.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(delivered.len(), 30);
    assert_eq!(ids.len(), 30);
}

#[tokio::test]
async fn pages_are_checked_and_sliced() {
    let app = spawn(service(Arc::new(Recording::default()))).await;
    let events: Vec<Event> = (0..5)
        .map(|_| {
            let order_id = new_id();
            Event::of(
                &order_id,
                &OrderCancelled {
                    order_id: order_id.clone(),
                    user_id: "u-5".into(),
                },
            )
            .unwrap()
        })
        .collect();
    app.context.bus.publish(&events).await.unwrap();
    let all = notifications_of(&app, "u-5", 5).await;
    let token = app.token("u-5", &[Role::Customer]);
    let (status, page) = get(&app, "/v1/notifications?page=2&per_page=2", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 5);
    assert_eq!(page["page"], 2);
    let ids: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["id"])
        .collect();
    assert_eq!(ids, [&all[2]["id"], &all[3]["id"]]);
    for bad in ["per_page=0", "per_page=101", "page=0"] {
        let (status, problem) = get(&app, &format!("/v1/notifications?{bad}"), Some(&token)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
    }
    let (status, _) = get(&app, "/v1/notifications?page=x", Some(&token)).await;
    assert!(status.is_client_error());
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_counted() {
    let sink = Arc::new(Flaky {
        failures: AtomicUsize::new(2),
        inner: Recording::default(),
    });
    let app = spawn(retrying(sink.clone(), Duration::from_millis(100))).await;
    let order_id = new_id();
    let event = Event::of(
        &order_id,
        &OrderCancelled {
            order_id: order_id.clone(),
            user_id: "u-6".into(),
        },
    )
    .unwrap();
    app.context.bus.publish(&[event]).await.unwrap();
    let token = app.token("u-6", &[Role::Customer]);
    eventually("delivery after two failures", || {
        let token = token.clone();
        let app = &app;
        async move {
            let (_, page) = get(app, "/v1/notifications", Some(&token)).await;
            (page["items"][0]["status"] == "delivered").then_some(())
        }
    })
    .await;
    assert_eq!(sink.inner.delivered.lock().unwrap().len(), 1);
    eventually("the delivery metrics", || async {
        let text = reqwest::get(app.at("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let has = |line: &str| text.lines().any(|l| l == line);
        (has(r#"notification_delivery_failures_total{service="notification",sink="flaky"} 2"#)
            && has(r#"notifications_delivered_total{channel="email",service="notification",sink="flaky"} 1"#)
            && has(r#"notifications_pending{service="notification"} 0"#))
        .then_some(())
    })
    .await;
}
