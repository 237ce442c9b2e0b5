//! The embedded event bus, the outbox and idempotent consumers, on the store the run selects.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ballast_kit::events::catalog::{OrderCreated, StockReserved};
use ballast_kit::events::consumer::{self, Consumer, Handler, Outcome};
use ballast_kit::events::log::LogBus;
use ballast_kit::events::{Event, EventBus, outbox};
use ballast_kit::metrics::Metrics;
use ballast_kit::store::Store;
use futures::future::BoxFuture;
use sqlx::AnyConnection;

async fn bus(dir: &tempfile::TempDir) -> LogBus {
    let store = Store::connect(&ballast_kit::testing::store_config(), "bus", dir.path())
        .await
        .unwrap();
    LogBus::open(store)
        .await
        .unwrap()
        .with_lease_ttl(Duration::from_millis(500))
}

async fn service_store(dir: &tempfile::TempDir) -> Store {
    let store = Store::connect(&ballast_kit::testing::store_config(), "svc", dir.path())
        .await
        .unwrap();
    store.migrate("kit:svc", outbox::MIGRATIONS).await.unwrap();
    store
        .migrate(
            "svc",
            &[ballast_kit::store::Migration::portable(
                1,
                "effects",
                "CREATE TABLE effects (event_id TEXT NOT NULL, n BIGINT NOT NULL)",
            )],
        )
        .await
        .unwrap();
    store
}

fn order(id: &str) -> Event {
    Event::of(
        id,
        &OrderCreated {
            order_id: id.into(),
            user_id: "u1".into(),
            lines: vec![],
            total_minor: 100,
            currency: "USD".into(),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn a_group_reads_in_order_and_resumes_from_its_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let bus = bus(&dir).await;
    let events: Vec<Event> = (0..5).map(|i| order(&format!("o{i}"))).collect();
    bus.publish(&events).await.unwrap();
    let topics = vec!["orders".to_owned()];
    let mut first = bus.subscribe("shipping", &topics).await.unwrap();
    for expected in &events[..3] {
        let delivery = tokio::time::timeout(Duration::from_secs(5), first.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&delivery.event, expected);
        if expected.key != "o2" {
            first.ack(&delivery).await.unwrap();
        }
    }
    assert_eq!(bus.lag("shipping", &topics).await.unwrap()["orders"], 3);
    // Another group sees everything from the start.
    let mut other = bus.subscribe("notification", &topics).await.unwrap();
    assert_eq!(other.next().await.unwrap().event, events[0]);
    // The first member stops before acknowledging o2: its successor gets o2 again.
    drop(first);
    let mut second = bus.subscribe("shipping", &topics).await.unwrap();
    let redelivered = tokio::time::timeout(Duration::from_secs(5), second.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(redelivered.event.key, "o2");
}

#[tokio::test]
async fn only_one_member_of_a_group_holds_a_topic() {
    let dir = tempfile::tempdir().unwrap();
    let bus = bus(&dir).await;
    bus.publish(&[order("a")]).await.unwrap();
    let topics = vec!["orders".to_owned()];
    let mut one = bus.subscribe("g", &topics).await.unwrap();
    let mut two = bus.subscribe("g", &topics).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), one.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.event.key, "a");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), two.next())
            .await
            .is_err(),
        "the second member waits"
    );
}

struct Counting {
    calls: AtomicU32,
    fail_first: u32,
}

impl Handler for Counting {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            sqlx::query("INSERT INTO effects (event_id, n) VALUES ($1, $2)")
                .bind(&event.id)
                .bind(i64::from(n))
                .execute(&mut *conn)
                .await?;
            if n <= self.fail_first {
                anyhow::bail!("failing on purpose ({n})");
            }
            // Emits an event through the outbox in the same transaction.
            outbox::enqueue(
                conn,
                &Event::of(
                    &event.key,
                    &StockReserved {
                        order_id: event.key.clone(),
                    },
                )?,
            )
            .await
        })
    }
}

#[tokio::test]
async fn consumers_are_idempotent_retry_and_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let bus = bus(&dir).await;
    let store = service_store(&dir).await;
    let handler = Counting {
        calls: AtomicU32::new(0),
        fail_first: 2,
    };
    let mut consumer = Consumer::new("inventory", &["orders"]);
    consumer.backoff = Duration::from_millis(1);
    let event = order("o1");

    // Two failures roll back (no effect rows), the third attempt sticks.
    assert_eq!(
        consumer::process(&consumer, &store, &bus, &handler, &event)
            .await
            .unwrap(),
        Outcome::Processed
    );
    let effects: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM effects")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(effects, 1);
    // Redelivery has no second effect.
    assert_eq!(
        consumer::process(&consumer, &store, &bus, &handler, &event)
            .await
            .unwrap(),
        Outcome::Duplicate
    );
    assert_eq!(outbox::pending(&store).await.unwrap(), 1);

    // A handler that always fails sends the event to the dead-letter topic.
    let broken = Counting {
        calls: AtomicU32::new(0),
        fail_first: u32::MAX,
    };
    let poison = order("poison");
    assert_eq!(
        consumer::process(&consumer, &store, &bus, &broken, &poison)
            .await
            .unwrap(),
        Outcome::DeadLettered
    );
    assert_eq!(broken.calls.load(Ordering::SeqCst), consumer.max_attempts);
    let dead = bus.read_all("orders.dlq").await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, poison.id);
    assert_eq!(dead[0].payload["_dead_letter"]["group"], "inventory");
}

#[tokio::test]
async fn the_relay_publishes_the_outbox_once_and_the_runner_consumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let bus: Arc<dyn EventBus> = Arc::new(bus(&dir).await);
    let store = service_store(&dir).await;
    let metrics = Metrics::new("svc").unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    for i in 0..3 {
        outbox::enqueue(&mut tx, &order(&format!("o{i}")))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // An outbox write that rolls back never leaves.
    let mut tx = store.pool().begin().await.unwrap();
    outbox::enqueue(&mut tx, &order("rolled-back"))
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    assert_eq!(
        outbox::relay_batch(&store, bus.as_ref(), &metrics)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        outbox::relay_batch(&store, bus.as_ref(), &metrics)
            .await
            .unwrap(),
        0
    );
    assert_eq!(outbox::pending(&store).await.unwrap(), 0);

    let handler = Arc::new(Counting {
        calls: AtomicU32::new(0),
        fail_first: 0,
    });
    let runner = tokio::spawn(consumer::run(
        Consumer::new("inventory", &["orders"]),
        store.clone(),
        bus.clone(),
        metrics.clone(),
        handler.clone(),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while handler.calls.load(Ordering::SeqCst) < 3 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while bus.lag("inventory", &["orders".to_owned()]).await.unwrap()["orders"] != 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runner.abort();
    let text = metrics.render().unwrap();
    assert!(
        text.contains(r#"bus_events_published_total{service="svc",topic="orders"} 3"#),
        "{text}"
    );
    assert!(text.contains(r#"bus_events_consumed_total{group="inventory",outcome="processed",service="svc",topic="orders"} 3"#), "{text}");
}
