#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Payment end to end: commands in through the bus, answers out through the outbox, charges
//! through HTTP, on the store the run selects.

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::auth::Role;
use ballast_kit::events::catalog::{
    ChargePayment, PaymentCaptured, PaymentDeclined, PaymentRefunded, RefundPayment,
};
use ballast_kit::events::{Event, Subscription};
use ballast_kit::store::now_millis;
use ballast_kit::testing::{TestInstance, spawn};
use ballast_payment::charges::{self, Recorded};
use ballast_payment::commands;
use ballast_payment::provider::Answer;
use ballast_payment::{PaymentConfig, PaymentService};
use serde_json::{Value, json};

async fn start() -> TestInstance {
    start_with(PaymentConfig::default()).await
}

async fn start_with(config: PaymentConfig) -> TestInstance {
    spawn(Arc::new(PaymentService { config })).await
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
        .subscribe(&format!("test-{}", id()), &["payments".to_owned()])
        .await
        .unwrap()
}

async fn next(sub: &mut Box<dyn Subscription>) -> Event {
    let delivery = tokio::time::timeout(Duration::from_secs(15), sub.next())
        .await
        .expect("no payment answer within 15s")
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

fn charge(order_id: &str, amount_minor: i64, card_token: &str) -> Event {
    Event::of(
        order_id,
        &ChargePayment {
            order_id: order_id.into(),
            user_id: format!("user-{}", &order_id[order_id.len() - 6..]),
            amount_minor,
            currency: "EUR".into(),
            card_token: card_token.into(),
        },
    )
    .unwrap()
}

fn refund(order_id: &str, amount_minor: Option<i64>) -> Event {
    Event::of(
        order_id,
        &RefundPayment {
            order_id: order_id.into(),
            amount_minor,
            reason: "compensation".into(),
        },
    )
    .unwrap()
}

fn buyer(order_id: &str) -> String {
    format!("user-{}", &order_id[order_id.len() - 6..])
}

async fn audit(app: &TestInstance) -> Vec<Value> {
    let token = app.token("sre-1", &[Role::Sre]);
    let response = client()
        .get(app.at("/v1/audit/charges"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

async fn charges_of(app: &TestInstance, order_id: &str) -> Vec<Value> {
    audit(app)
        .await
        .into_iter()
        .filter(|c| c["order_id"] == order_id)
        .collect()
}

/// Polls until the order has a charge row.
async fn recorded(app: &TestInstance, order_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(charge) = charges_of(app, order_id).await.pop() {
            return charge;
        }
        assert!(tokio::time::Instant::now() < deadline, "no charge recorded");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn outbox_count(app: &TestInstance, order_id: &str, kind: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE event_key = $1 AND kind = $2",
    )
    .bind(order_id)
    .bind(kind)
    .fetch_one(app.context.store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn tok_ok_captures_and_the_buyer_reads_it() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let order = id();
    publish(&app, &charge(&order, 2599, "tok_ok")).await;
    let event = next(&mut sub).await;
    let captured = event.decode::<PaymentCaptured>().unwrap().unwrap();
    assert_eq!(captured.order_id, order);
    assert_eq!(captured.amount_minor, 2599);
    assert_eq!(captured.currency, "EUR");
    assert_eq!(captured.user_id, buyer(&order));

    let url = app.at(&format!("/v1/payments/{order}"));
    let own = app.token(&buyer(&order), &[Role::Customer]);
    let response = client().get(&url).bearer_auth(&own).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "captured");
    assert_eq!(body["id"], captured.charge_id);
    assert_eq!(body["amount_minor"], 2599);
    assert_eq!(body["refundable_minor"], 2599);
    assert_eq!(body["refunds"], json!([]));
    assert_eq!(body["card_token_kind"], "ok");

    let stranger = app.token("someone-else", &[Role::Customer]);
    let response = client()
        .get(&url)
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let admin = app.token("admin-1", &[Role::Admin]);
    let response = client().get(&url).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = client()
        .get(app.at(&format!("/v1/payments/{}", id())))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn tok_decline_declines() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let order = id();
    publish(&app, &charge(&order, 100, "tok_decline")).await;
    let declined = next(&mut sub)
        .await
        .decode::<PaymentDeclined>()
        .unwrap()
        .unwrap();
    assert_eq!(declined.order_id, order);
    assert_eq!(declined.reason, "card_declined");
    let charge = recorded(&app, &order).await;
    assert_eq!(charge["status"], "declined");
    assert_eq!(charge["decline_reason"], "card_declined");
    // A refund of a declined charge is answered with nothing refunded.
    publish(&app, &refund(&order, None)).await;
    let refunded = next(&mut sub)
        .await
        .decode::<PaymentRefunded>()
        .unwrap()
        .unwrap();
    assert_eq!(refunded.amount_minor, 0);
    assert_eq!(recorded(&app, &order).await["status"], "declined");
}

#[tokio::test]
async fn tok_timeout_stays_pending_until_voided() {
    let app = start_with(PaymentConfig {
        retry_after: Duration::from_millis(100),
        sweep_interval: Duration::from_millis(50),
        ..PaymentConfig::default()
    })
    .await;
    let mut sub = answers(&app).await;
    let slow = id();
    publish(&app, &charge(&slow, 700, "tok_timeout")).await;
    // A later charge answers; the timed-out one never does, even after sweeps.
    let other = id();
    publish(&app, &charge(&other, 1, "tok_ok")).await;
    let event = next(&mut sub).await;
    assert_eq!(event.key, other);
    let pending = recorded(&app, &slow).await;
    assert_eq!(pending["status"], "pending");
    assert_eq!(outbox_count(&app, &slow, "payment.captured").await, 0);
    assert_eq!(outbox_count(&app, &slow, "payment.declined").await, 0);

    publish(&app, &refund(&slow, None)).await;
    let event = next(&mut sub).await;
    let voided = event.decode::<PaymentRefunded>().unwrap().unwrap();
    assert_eq!(voided.order_id, slow);
    assert_eq!(voided.amount_minor, 0);
    assert_eq!(voided.refund_id, "");
    assert_eq!(recorded(&app, &slow).await["status"], "voided");
    // A repeated charge command of the voided order captures nothing.
    publish(&app, &charge(&slow, 700, "tok_timeout")).await;
    publish(&app, &charge(&other, 1, "tok_ok")).await; // marker: answered after it
    let event = next(&mut sub).await;
    assert_eq!(event.key, other, "the voided charge re-emits nothing");
    assert_eq!(recorded(&app, &slow).await["status"], "voided");
}

#[tokio::test]
async fn the_same_charge_command_twice_charges_once() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let order = id();
    let command = charge(&order, 1500, "tok_ok");
    publish(&app, &command).await;
    publish(&app, &command).await; // redelivery: same event id
    publish(&app, &charge(&order, 1500, "tok_ok")).await; // a retried command: new event id
    // A retry that arrives while the provider call is in flight is answered by that call's
    // outcome; one that arrives after it is answered again. Either way: one charge, one
    // provider call, every answer about the same charge.
    let first = next(&mut sub)
        .await
        .decode::<PaymentCaptured>()
        .unwrap()
        .unwrap();
    let charges = charges_of(&app, &order).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["status"], "captured");
    assert_eq!(charges[0]["attempts"], 1, "the provider was asked once");
    publish(&app, &charge(&order, 1500, "tok_ok")).await; // retried after the capture
    let again = next(&mut sub)
        .await
        .decode::<PaymentCaptured>()
        .unwrap()
        .unwrap();
    assert_eq!(again.charge_id, first.charge_id);
    // Whatever else answers (the in-flight retry, if it came after the capture) is the same.
    while let Ok(delivery) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
        let delivery = delivery.unwrap();
        sub.ack(&delivery).await.unwrap();
        let extra = delivery.event.decode::<PaymentCaptured>().unwrap().unwrap();
        assert_eq!(extra.charge_id, first.charge_id);
    }
    let charges = charges_of(&app, &order).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["attempts"], 1, "the provider was asked once");
}

#[tokio::test]
async fn refunds_full_and_partial_never_beyond_captured() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let order = id();
    publish(&app, &charge(&order, 1000, "tok_ok")).await;
    let captured = next(&mut sub)
        .await
        .decode::<PaymentCaptured>()
        .unwrap()
        .unwrap();

    publish(&app, &refund(&order, Some(300))).await;
    let first = next(&mut sub)
        .await
        .decode::<PaymentRefunded>()
        .unwrap()
        .unwrap();
    assert_eq!(first.amount_minor, 300);
    assert_eq!(first.charge_id, captured.charge_id);
    assert!(!first.refund_id.is_empty());

    let admin = app.token("admin-1", &[Role::Admin]);
    let url = app.at(&format!("/v1/payments/{order}/refunds"));
    let response = client()
        .post(&url)
        .bearer_auth(&admin)
        .json(&json!({"amount_minor": 500, "reason": "damaged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["refund"]["amount_minor"], 500);
    assert_eq!(body["charge"]["refunded_minor"], 800);
    assert_eq!(body["charge"]["refundable_minor"], 200);
    let second = next(&mut sub)
        .await
        .decode::<PaymentRefunded>()
        .unwrap()
        .unwrap();
    assert_eq!(second.amount_minor, 500);

    // Over-refund: refused, nothing changes.
    let response = client()
        .post(&url)
        .bearer_auth(&admin)
        .json(&json!({"amount_minor": 201, "reason": "too much"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    // A command for too much changes nothing either (and is not answered).
    publish(&app, &refund(&order, Some(5000))).await;
    // Everything left: 200.
    publish(&app, &refund(&order, None)).await;
    let rest = next(&mut sub)
        .await
        .decode::<PaymentRefunded>()
        .unwrap()
        .unwrap();
    assert_eq!(rest.amount_minor, 200);
    // Nothing left: answered with 0; the admin gets 409.
    publish(&app, &refund(&order, None)).await;
    let none = next(&mut sub)
        .await
        .decode::<PaymentRefunded>()
        .unwrap()
        .unwrap();
    assert_eq!(none.amount_minor, 0);
    let response = client()
        .post(&url)
        .bearer_auth(&admin)
        .json(&json!({"amount_minor": 1, "reason": "again"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);

    let own = app.token(&buyer(&order), &[Role::Customer]);
    let body: Value = client()
        .get(app.at(&format!("/v1/payments/{order}")))
        .bearer_auth(&own)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "captured");
    assert_eq!(body["refunded_minor"], 1000);
    assert_eq!(body["refundable_minor"], 0);
    let amounts: Vec<i64> = body["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![300, 500, 200]);
    let audited = charges_of(&app, &order).await;
    assert_eq!(audited[0]["refunded_minor"], 1000);
}

#[tokio::test]
async fn admin_refunds_are_checked() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let declined = id();
    publish(&app, &charge(&declined, 100, "tok_decline")).await;
    next(&mut sub).await;
    let admin = app.token("admin-1", &[Role::Admin]);
    let customer = app.token(&buyer(&declined), &[Role::Customer]);
    let url = app.at(&format!("/v1/payments/{declined}/refunds"));
    let body = json!({"amount_minor": 10, "reason": "goodwill"});
    let response = client()
        .post(&url)
        .bearer_auth(&customer)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = client().post(&url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = client()
        .post(&url)
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        409,
        "a declined charge has nothing to refund"
    );
    for bad in [
        json!({"amount_minor": 0, "reason": "x"}),
        json!({"amount_minor": 5, "reason": " "}),
    ] {
        let response = client()
            .post(&url)
            .bearer_auth(&admin)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
    }
    let response = client()
        .post(app.at(&format!("/v1/payments/{}/refunds", id())))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = client()
        .get(app.at("/v1/audit/charges"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let charge = &charges_of(&app, &declined).await[0];
    for column in [
        "id",
        "user_id",
        "amount_minor",
        "currency",
        "status",
        "refunded_minor",
    ] {
        assert!(!charge[column].is_null(), "{column} missing");
    }
}

#[tokio::test]
async fn a_late_provider_success_after_a_void_does_not_capture() {
    let app = start().await;
    let store = &app.context.store;
    let order = id();
    let command = ChargePayment {
        order_id: order.clone(),
        user_id: "u1".into(),
        amount_minor: 900,
        currency: "EUR".into(),
        card_token: "tok_ok".into(),
    };
    // Recorded pending; the provider call is in flight.
    let mut tx = charges::begin_write(store).await.unwrap();
    let Recorded::New(pending) = charges::record_pending(&mut tx, &command, now_millis())
        .await
        .unwrap()
    else {
        panic!("expected a new charge")
    };
    tx.commit().await.unwrap();
    assert!(
        charges::claim(store, &pending, now_millis(), None)
            .await
            .unwrap()
    );
    // The saga gives up and voids it.
    let mut tx = charges::begin_write(store).await.unwrap();
    assert!(
        charges::void(&mut tx, &pending.id, now_millis())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    // The provider's success arrives late: ignored.
    let applied = commands::apply(store, &pending.id, &Answer::Approved)
        .await
        .unwrap();
    assert_eq!(applied, None);
    let mut conn = store.pool().acquire().await.unwrap();
    let after = charges::by_order(&mut conn, &order).await.unwrap().unwrap();
    assert_eq!(after.status, "voided");
    assert_eq!(outbox_count(&app, &order, "payment.captured").await, 0);
    // And a settle that had not started yet does not even ask the provider.
    let provider = ballast_payment::Provider::new(&PaymentConfig::default());
    assert_eq!(
        commands::settle_order(store, &provider, &order, None)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_void_racing_a_slow_provider_wins() {
    let app = start_with(PaymentConfig {
        latency: Duration::from_millis(300),
        ..PaymentConfig::default()
    })
    .await;
    let mut sub = answers(&app).await;
    let order = id();
    publish(&app, &charge(&order, 400, "tok_ok")).await;
    // The refund lands while the provider is still thinking: the charge is voided.
    publish(&app, &refund(&order, None)).await;
    let first = next(&mut sub).await;
    match first.kind.as_str() {
        "payment.refunded" => {
            // Voided before the answer: the answer must not capture.
            assert_eq!(
                first
                    .decode::<PaymentRefunded>()
                    .unwrap()
                    .unwrap()
                    .amount_minor,
                0
            );
            // The provider is asked right after the charge is recorded (or not at all when
            // the void came first) and answers 300 ms later: past that, with a margin for
            // the task, the charge must still be voided and nothing captured.
            let created_at = recorded(&app, &order).await["created_at"].as_i64().unwrap();
            while now_millis() < created_at + 1_500 {
                assert_eq!(outbox_count(&app, &order, "payment.captured").await, 0);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(outbox_count(&app, &order, "payment.captured").await, 0);
            assert_eq!(recorded(&app, &order).await["status"], "voided");
        }
        // The provider was faster: the refund then gives all of it back.
        "payment.captured" => {
            let refunded = next(&mut sub)
                .await
                .decode::<PaymentRefunded>()
                .unwrap()
                .unwrap();
            assert_eq!(refunded.amount_minor, 400);
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn a_provider_call_lost_in_a_crash_is_retried() {
    let app = start_with(PaymentConfig {
        retry_after: Duration::from_millis(200),
        sweep_interval: Duration::from_millis(50),
        ..PaymentConfig::default()
    })
    .await;
    let mut sub = answers(&app).await;
    let order = id();
    // As if an instance recorded the charge and crashed before asking the provider.
    let mut tx = charges::begin_write(&app.context.store).await.unwrap();
    let command = ChargePayment {
        order_id: order.clone(),
        user_id: "u2".into(),
        amount_minor: 50,
        currency: "EUR".into(),
        card_token: "tok_ok".into(),
    };
    charges::record_pending(&mut tx, &command, now_millis())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let captured = next(&mut sub)
        .await
        .decode::<PaymentCaptured>()
        .unwrap()
        .unwrap();
    assert_eq!(captured.order_id, order);
    assert_eq!(recorded(&app, &order).await["status"], "captured");
}

#[tokio::test]
async fn a_refund_before_the_charge_blocks_a_late_charge() {
    let app = start().await;
    let mut sub = answers(&app).await;
    let order = id();
    publish(&app, &refund(&order, None)).await;
    let answer = next(&mut sub)
        .await
        .decode::<PaymentRefunded>()
        .unwrap()
        .unwrap();
    assert_eq!(answer.amount_minor, 0);
    publish(&app, &charge(&order, 300, "tok_ok")).await;
    let marker = id();
    publish(&app, &charge(&marker, 1, "tok_decline")).await;
    let event = next(&mut sub).await;
    assert_eq!(event.key, marker, "the late charge is not answered");
    let charges = charges_of(&app, &order).await;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0]["status"], "voided");
    assert_eq!(charges[0]["amount_minor"], 0);
    assert_eq!(outbox_count(&app, &order, "payment.captured").await, 0);
}
