//! The Kafka bus against librdkafka's in-process mock cluster (it speaks the real protocol):
//! publishing and consuming in key order, consumer groups sharing partitions, redelivery when
//! a member goes away without acknowledging, the kit's idempotent consumer with
//! dead-lettering on top, consumer lag, and readiness.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ballast_kafka::{KafkaBus, KafkaConfig};
use ballast_kit::events::consumer::{self, Consumer, Handler, Outcome};
use ballast_kit::events::{Delivery, Event, EventBus, Subscription, dead_letter_topic, outbox};
use ballast_kit::metrics::Metrics;
use ballast_kit::store::Store;
use futures::future::BoxFuture;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use sqlx::AnyConnection;

/// Upper bound for any single wait in these tests (group joins on the mock take seconds).
const WAIT: Duration = Duration::from_secs(40);

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

type Mock = MockCluster<'static, DefaultProducerContext>;

fn mock() -> Mock {
    // `RUST_LOG=ballast_kafka=debug,librdkafka=info cargo test -p ballast-kafka -- --nocapture`
    // shows what the bus and librdkafka do.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_test_writer()
        .try_init();
    MockCluster::new(1).expect("starting the mock kafka cluster")
}

fn config(mock: &Mock) -> KafkaConfig {
    KafkaConfig {
        brokers: mock.bootstrap_servers(),
        client_id: "ballast-kafka-test".into(),
        topic_prefix: "test.".into(),
        extra: BTreeMap::from([
            // Quick failover and rebalances on the mock (its rebalance waits up to the session
            // timeout for members to rejoin).
            ("session.timeout.ms".into(), "6000".into()),
            ("heartbeat.interval.ms".into(), "500".into()),
        ]),
        partitions: 4,
        ..KafkaConfig::default()
    }
}

fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh bus topic, created on the mock as an operator would: the mock has no CreateTopics,
/// so a topic the bus creates itself takes the fallback (auto-creation through a metadata
/// request, after the admin request times out).
fn topic(mock: &Mock, name: &str) -> String {
    let topic = unique(name);
    mock.create_topic(&format!("test.{topic}"), 4, 1).unwrap();
    topic
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Polls `condition` until it holds or the deadline passes.
async fn eventually<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    within(what, async {
        while !condition().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

fn event(topic: &str, key: &str, kind: &str, payload: serde_json::Value) -> Event {
    Event::new(topic, key, kind, payload).unwrap()
}

/// A group member consuming in a task, recording what it receives.
struct Member {
    seen: Arc<Mutex<Vec<Delivery>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Member {
    /// Consumes with `subscription`, acknowledging each delivery when `ack`.
    fn start(mut subscription: Box<dyn Subscription>, ack: bool) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let delivery = subscription.next().await.expect("receiving");
                if ack {
                    subscription.ack(&delivery).await.expect("acknowledging");
                }
                record.lock().unwrap().push(delivery);
            }
        });
        Self { seen, task }
    }

    fn ids_of(&self, kind: &str) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.event.kind == kind)
            .map(|d| d.event.id.clone())
            .collect()
    }

    /// Stops consuming: the subscription is dropped (the member leaves the group).
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Publishes warm-up events on many keys until every member has received one, so that the
/// group is stable (every member holds partitions) before a test publishes what it checks.
async fn until_every_member_consumes(bus: &KafkaBus, topic: &str, members: &[&Member]) {
    let mut round = 0;
    within("every member receiving a partition", async {
        loop {
            if members.iter().all(|m| !m.ids_of("test.warmup").is_empty()) {
                return;
            }
            let events: Vec<Event> = (0..16)
                .map(|k| {
                    event(
                        topic,
                        &format!("warm-{round}-{k}"),
                        "test.warmup",
                        serde_json::json!({}),
                    )
                })
                .collect();
            bus.publish(&events).await.unwrap();
            round += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_consumed_in_key_order_and_lag_drains() {
    let mock = mock();
    let bus = within("connecting", KafkaBus::connect(&config(&mock)))
        .await
        .unwrap();
    let topic = topic(&mock, "orders");
    let keys = ["order-a", "order-b", "order-c", "order-d"];
    let mut published = Vec::new();
    for seq in 0..5 {
        let batch: Vec<Event> = keys
            .iter()
            .map(|key| Event {
                traceparent: Some(TRACEPARENT.into()),
                ..event(&topic, key, "order.step", serde_json::json!({ "seq": seq }))
            })
            .collect();
        within("publishing", bus.publish(&batch)).await.unwrap();
        published.extend(batch);
    }

    let mut subscription = within(
        "subscribing",
        bus.subscribe("orders-reader", std::slice::from_ref(&topic)),
    )
    .await
    .unwrap();
    let mut received: Vec<Delivery> = Vec::new();
    for _ in 0..published.len() {
        let delivery = within("receiving", subscription.next()).await.unwrap();
        within("acknowledging", subscription.ack(&delivery))
            .await
            .unwrap();
        received.push(delivery);
    }

    let mut by_key: HashMap<String, Vec<&Delivery>> = HashMap::new();
    for delivery in &received {
        assert_eq!(
            delivery.event.topic, topic,
            "the bus topic, without the prefix"
        );
        by_key
            .entry(delivery.event.key.clone())
            .or_default()
            .push(delivery);
    }
    for key in keys {
        let deliveries = &by_key[key];
        let seqs: Vec<i64> = deliveries
            .iter()
            .map(|d| d.event.payload["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, vec![0, 1, 2, 3, 4], "events of {key} in order");
        let partitions: BTreeSet<i32> = deliveries.iter().map(|d| d.partition).collect();
        assert_eq!(partitions.len(), 1, "events of {key} share a partition");
        let offsets: Vec<i64> = deliveries.iter().map(|d| d.offset).collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "offsets grow: {offsets:?}"
        );
    }
    // What arrives is what was sent (id, key, kind, payload, time and trace context).
    let sent: HashMap<&str, &Event> = published.iter().map(|e| (e.id.as_str(), e)).collect();
    for delivery in &received {
        assert_eq!(&delivery.event, sent[delivery.event.id.as_str()]);
    }
    // On the wire: key = event key, headers id, kind and traceparent.
    let raw: StreamConsumer = config(&mock).consumer("raw-reader").create().unwrap();
    raw.subscribe(&[format!("test.{topic}").as_str()]).unwrap();
    let message = within("reading a raw message", raw.recv()).await.unwrap();
    let payload: Event = serde_json::from_slice(message.payload().unwrap()).unwrap();
    assert_eq!(message.key(), Some(payload.key.as_bytes()));
    let headers: HashMap<&str, &[u8]> = message
        .headers()
        .unwrap()
        .iter()
        .filter_map(|h| Some((h.key, h.value?)))
        .collect();
    assert_eq!(headers["id"], payload.id.as_bytes());
    assert_eq!(headers["kind"], b"order.step");
    assert_eq!(headers["traceparent"], TRACEPARENT.as_bytes());
    drop(message);
    tokio::task::spawn_blocking(move || drop(raw))
        .await
        .unwrap();

    let lag = within(
        "lag",
        bus.lag("orders-reader", std::slice::from_ref(&topic)),
    )
    .await
    .unwrap();
    assert_eq!(lag[&topic], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_counts_what_the_group_has_not_acknowledged() {
    let mock = mock();
    let bus = within("connecting", KafkaBus::connect(&config(&mock)))
        .await
        .unwrap();
    let topic = topic(&mock, "payments");
    let never = unique("never-published");
    let topics = vec![topic.clone(), never.clone()];
    let events: Vec<Event> = (0..5)
        .map(|seq| {
            event(
                &topic,
                "order-1",
                "payment.step",
                serde_json::json!({ "seq": seq }),
            )
        })
        .collect();
    within("publishing", bus.publish(&events)).await.unwrap();

    let lag = within("lag", bus.lag("billing", &topics)).await.unwrap();
    assert_eq!(
        lag,
        BTreeMap::from([(topic.clone(), 5), (never.clone(), 0)])
    );

    let mut subscription = within(
        "subscribing",
        bus.subscribe("billing", std::slice::from_ref(&topic)),
    )
    .await
    .unwrap();
    let mut deliveries = Vec::new();
    for _ in 0..5 {
        deliveries.push(within("receiving", subscription.next()).await.unwrap());
    }
    assert_eq!(
        within("lag", bus.lag("billing", &topics)).await.unwrap()[&topic],
        5,
        "received is not acknowledged"
    );
    for delivery in &deliveries[..3] {
        within("acknowledging", subscription.ack(delivery))
            .await
            .unwrap();
    }
    assert_eq!(
        within("lag", bus.lag("billing", &topics)).await.unwrap()[&topic],
        2
    );
    // An out-of-order ack never moves the group backwards.
    within("acknowledging", subscription.ack(&deliveries[4]))
        .await
        .unwrap();
    within("acknowledging", subscription.ack(&deliveries[3]))
        .await
        .unwrap();
    assert_eq!(
        within("lag", bus.lag("billing", &topics)).await.unwrap()[&topic],
        0
    );
    // Another group has its own position.
    assert_eq!(
        within("lag", bus.lag("audit", &topics)).await.unwrap()[&topic],
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_a_group_share_partitions_and_each_event_goes_to_one() {
    let mock = mock();
    let bus = within("connecting", KafkaBus::connect(&config(&mock)))
        .await
        .unwrap();
    let topic = topic(&mock, "inventory");
    let topics = vec![topic.clone()];
    let a = Member::start(
        within("subscribing", bus.subscribe("stock", &topics))
            .await
            .unwrap(),
        true,
    );
    let b = Member::start(
        within("subscribing", bus.subscribe("stock", &topics))
            .await
            .unwrap(),
        true,
    );
    until_every_member_consumes(&bus, &topic, &[&a, &b]).await;

    let events: Vec<Event> = (0..40)
        .map(|k| {
            event(
                &topic,
                &format!("order-{k}"),
                "test.real",
                serde_json::json!({ "k": k }),
            )
        })
        .collect();
    within("publishing", bus.publish(&events)).await.unwrap();
    let sent: BTreeSet<String> = events.iter().map(|e| e.id.clone()).collect();
    eventually("every event consumed", || {
        let got = a.ids_of("test.real").len() + b.ids_of("test.real").len();
        async move { got >= 40 }
    })
    .await;
    eventually("lag drained", || async {
        bus.lag("stock", &topics).await.unwrap()[&topic] == 0
    })
    .await;

    let (at_a, at_b) = (a.ids_of("test.real"), b.ids_of("test.real"));
    assert!(
        !at_a.is_empty() && !at_b.is_empty(),
        "both members consume: {} and {}",
        at_a.len(),
        at_b.len()
    );
    let mut all: Vec<String> = at_a.iter().chain(&at_b).cloned().collect();
    all.sort();
    let unique: Vec<String> = all
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(all, unique, "no event delivered twice");
    assert_eq!(unique.into_iter().collect::<BTreeSet<_>>(), sent);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_leaving_without_acknowledging_hands_its_events_to_another() {
    let mock = mock();
    let bus = within("connecting", KafkaBus::connect(&config(&mock)))
        .await
        .unwrap();
    let topic = topic(&mock, "shipping");
    let topics = vec![topic.clone()];
    let quitter = Member::start(
        within("subscribing", bus.subscribe("ship", &topics))
            .await
            .unwrap(),
        false,
    );
    let stayer = Member::start(
        within("subscribing", bus.subscribe("ship", &topics))
            .await
            .unwrap(),
        true,
    );
    until_every_member_consumes(&bus, &topic, &[&quitter, &stayer]).await;

    let events: Vec<Event> = (0..40)
        .map(|k| {
            event(
                &topic,
                &format!("order-{k}"),
                "test.real",
                serde_json::json!({ "k": k }),
            )
        })
        .collect();
    within("publishing", bus.publish(&events)).await.unwrap();
    eventually("every event received once", || {
        let got = quitter.ids_of("test.real").len() + stayer.ids_of("test.real").len();
        async move { got >= 40 }
    })
    .await;
    let unacknowledged = quitter.ids_of("test.real");
    assert!(!unacknowledged.is_empty(), "the quitter held partitions");

    quitter.stop().await;
    eventually("the stayer receiving the quitter's events", || {
        let at_stayer: BTreeSet<String> = stayer.ids_of("test.real").into_iter().collect();
        let all_there = unacknowledged.iter().all(|id| at_stayer.contains(id));
        async move { all_there }
    })
    .await;
    eventually("lag drained", || async {
        bus.lag("ship", &topics).await.unwrap()[&topic] == 0
    })
    .await;
    let at_stayer: BTreeSet<String> = stayer.ids_of("test.real").into_iter().collect();
    assert_eq!(at_stayer, events.iter().map(|e| e.id.clone()).collect());
    stayer.stop().await;
}

/// Records each handled event in `effects` (no unique key: a second effect would show), and
/// refuses events whose payload says `fail`.
struct Recorder;

impl Handler for Recorder {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            if event.payload["fail"].as_bool() == Some(true) {
                anyhow::bail!("refusing event {}", event.id);
            }
            sqlx::query("INSERT INTO effects (event_id) VALUES ($1)")
                .bind(&event.id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }
}

async fn effects(store: &Store, id: &str) -> i64 {
    sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM effects WHERE event_id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_consumer_over_kafka_has_no_double_effect_and_dead_letters() {
    let mock = mock();
    let bus = within("connecting", KafkaBus::connect(&config(&mock)))
        .await
        .unwrap();
    let bus: Arc<dyn EventBus> = Arc::new(bus);
    let dir = tempfile::tempdir().unwrap();
    let store = within(
        "opening the store",
        Store::connect(
            &ballast_kit::testing::store_config(),
            "kafkatest",
            dir.path(),
        ),
    )
    .await
    .unwrap();
    store
        .migrate("kafkatest", outbox::MIGRATIONS)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE effects (event_id TEXT NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();

    let topic = topic(&mock, "orders");
    let mut settings = Consumer::new("notify", &[topic.as_str()]);
    settings.max_attempts = 3;
    settings.backoff = Duration::from_millis(10);
    let ok = event(
        &topic,
        "order-9",
        "order.created",
        serde_json::json!({ "n": 1 }),
    );
    let poison = event(
        &topic,
        "order-9",
        "order.created",
        serde_json::json!({ "fail": true }),
    );
    let after = event(
        &topic,
        "order-9",
        "order.confirmed",
        serde_json::json!({ "n": 2 }),
    );
    // The relay republishing a batch after a crash: the first event twice.
    within(
        "publishing",
        bus.publish(&[ok.clone(), ok.clone(), poison.clone(), after.clone()]),
    )
    .await
    .unwrap();

    // A member handles the first event, then dies before acknowledging it.
    let mut doomed = within("subscribing", bus.subscribe("notify", &settings.topics))
        .await
        .unwrap();
    let first = within("receiving", doomed.next()).await.unwrap();
    assert_eq!(first.event.id, ok.id);
    let outcome = consumer::process(&settings, &store, bus.as_ref(), &Recorder, &first.event)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Processed);
    drop(doomed);

    // Its replacement runs the kit's consumer loop over Kafka.
    let metrics = Metrics::new("kafkatest").unwrap();
    let runner = tokio::spawn(consumer::run(
        settings.clone(),
        store.clone(),
        bus.clone(),
        metrics.clone(),
        Arc::new(Recorder),
    ));
    eventually("the group caught up", || async {
        bus.lag("notify", &settings.topics).await.unwrap()[&topic] == 0
    })
    .await;
    assert_eq!(
        effects(&store, &ok.id).await,
        1,
        "redelivered twice, handled once"
    );
    assert_eq!(effects(&store, &after.id).await, 1);
    assert_eq!(effects(&store, &poison.id).await, 0);
    let rendered = metrics.render().unwrap();
    let count = |outcome: &str| {
        rendered
            .lines()
            .find(|l| {
                l.starts_with("bus_events_consumed_total")
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(|v| v.parse::<f64>().unwrap())
            .unwrap_or(0.0)
    };
    assert_eq!(count("duplicate"), 2.0, "{rendered}");
    assert_eq!(count("processed"), 1.0, "{rendered}");
    assert_eq!(count("dead_lettered"), 1.0, "{rendered}");

    // The poison event sits in the dead-letter topic (which the bus created on demand) with
    // why it failed.
    let dlq = vec![dead_letter_topic(&topic)];
    let mut reader = within(
        "subscribing to the dead letters",
        bus.subscribe("ops", &dlq),
    )
    .await
    .unwrap();
    let dead = within("reading the dead letter", reader.next())
        .await
        .unwrap();
    assert_eq!(dead.event.id, poison.id);
    assert_eq!(dead.event.topic, dlq[0]);
    assert_eq!(dead.event.payload["_dead_letter"]["group"], "notify");
    assert_eq!(dead.event.payload["_dead_letter"]["attempts"], 3);
    assert!(
        dead.event.payload["_dead_letter"]["error"]
            .as_str()
            .unwrap()
            .contains("refusing")
    );
    runner.abort();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_relay_publishes_through_kafka() {
    let mock = mock();
    let bus: Arc<dyn EventBus> = Arc::new(
        within("connecting", KafkaBus::connect(&config(&mock)))
            .await
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = within(
        "opening the store",
        Store::connect(
            &ballast_kit::testing::store_config(),
            "relaytest",
            dir.path(),
        ),
    )
    .await
    .unwrap();
    store
        .migrate("relaytest", outbox::MIGRATIONS)
        .await
        .unwrap();
    let topic = topic(&mock, "orders");
    let events: Vec<Event> = (0..3)
        .map(|seq| {
            event(
                &topic,
                "order-5",
                "order.step",
                serde_json::json!({ "seq": seq }),
            )
        })
        .collect();
    let mut tx = store.pool().begin().await.unwrap();
    for event in &events {
        outbox::enqueue(&mut tx, event).await.unwrap();
    }
    tx.commit().await.unwrap();

    let relay = tokio::spawn(outbox::relay(
        store.clone(),
        bus.clone(),
        Metrics::new("relaytest").unwrap(),
        Duration::from_millis(50),
    ));
    eventually("the outbox relayed", || async {
        outbox::pending(&store).await.unwrap() == 0
    })
    .await;
    let mut subscription = within(
        "subscribing",
        bus.subscribe("reader", std::slice::from_ref(&topic)),
    )
    .await
    .unwrap();
    for sent in &events {
        let delivery = within("receiving", subscription.next()).await.unwrap();
        assert_eq!(&delivery.event, sent);
    }
    relay.abort();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_follows_the_brokers() {
    let mock = mock();
    let bus = within("connecting", KafkaBus::connect(&config(&mock)))
        .await
        .unwrap();
    within("ping", bus.ping()).await.unwrap();
    mock.broker_down(1).unwrap();
    assert!(within("ping", bus.ping()).await.is_err());
    mock.broker_up(1).unwrap();
    eventually("ping answering again", || async {
        bus.ping().await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn connecting_to_nothing_fails() {
    let config = KafkaConfig {
        brokers: String::new(),
        ..KafkaConfig::default()
    };
    let error = KafkaBus::connect(&config).await.unwrap_err();
    assert!(error.to_string().contains("brokers"), "{error}");
}
