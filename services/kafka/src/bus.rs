//! [`KafkaBus`]: publishing through one idempotent producer, topics created on demand, group
//! membership through [`crate::subscription`], and consumer lag from committed offsets and
//! high watermarks.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ballast_kit::events::{Event, EventBus, Subscription};
use futures::future::BoxFuture;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::codec;
use crate::config::KafkaConfig;
use crate::context::Context;
use crate::error::Error;
use crate::subscription::KafkaSubscription;

/// How long one metadata, offset or admin request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long readiness waits for the brokers.
const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a publish waits for room in a full producer queue.
const QUEUE_FULL_TIMEOUT: Duration = Duration::from_secs(30);

/// The Kafka event bus. Cheap to clone; clones share the producer and the clients.
#[derive(Clone)]
pub struct KafkaBus {
    inner: Arc<Inner>,
}

struct Inner {
    config: KafkaConfig,
    producer: FutureProducer<Context>,
    admin: Arc<AdminClient<Context>>,
    /// Kafka topics known to exist.
    topics: Mutex<HashSet<String>>,
    /// Per group, a consumer that never joins: it reads the group's committed offsets.
    offset_readers: Mutex<HashMap<String, Arc<BaseConsumer<Context>>>>,
}

impl std::fmt::Debug for KafkaBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBus")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl KafkaBus {
    /// Creates the clients and checks that the brokers answer.
    pub async fn connect(config: &KafkaConfig) -> anyhow::Result<Self> {
        config.validate()?;
        let producer: FutureProducer<Context> = config
            .producer()
            .create_with_context(Context::new("producer"))
            .map_err(Error::kafka("creating the producer"))?;
        let admin: AdminClient<Context> = config
            .admin()
            .create_with_context(Context::new("admin"))
            .map_err(Error::kafka("creating the admin client"))?;
        let bus = Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                producer,
                admin: Arc::new(admin),
                topics: Mutex::new(HashSet::new()),
                offset_readers: Mutex::new(HashMap::new()),
            }),
        };
        bus.ping_brokers(REQUEST_TIMEOUT).await?;
        tracing::info!(brokers = config.brokers, "connected to kafka");
        Ok(bus)
    }

    /// The configuration the bus runs with.
    pub fn config(&self) -> &KafkaConfig {
        &self.inner.config
    }

    /// Makes sure the Kafka topics of the bus topics `topics` exist: those missing are created
    /// with the configured partitions and replication; where the cluster refuses topic
    /// creation (ACLs, a mock broker), a metadata request through the producer lets a broker
    /// with auto-creation make them, and otherwise fails.
    pub async fn ensure_topics(&self, topics: &[String]) -> Result<(), Error> {
        let unknown: Vec<String> = {
            let known = self
                .inner
                .topics
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            topics
                .iter()
                .map(|t| self.inner.config.kafka_topic(t))
                .filter(|t| !known.contains(t))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        if unknown.is_empty() {
            return Ok(());
        }
        // The admin client never auto-creates: this only looks.
        let admin = self.inner.admin.clone();
        let names = unknown.clone();
        let missing: Vec<String> = tokio::task::spawn_blocking(move || {
            let mut missing = Vec::new();
            for topic in names {
                if !topic_exists(admin.inner(), &topic)? {
                    missing.push(topic);
                }
            }
            Ok::<_, Error>(missing)
        })
        .await??;
        let refused = self.create_topics(&missing).await;
        for topic in refused {
            let producer = self.inner.producer.clone();
            let name = topic.clone();
            let found = tokio::task::spawn_blocking(move || topic_exists(producer.client(), &name))
                .await??;
            if !found {
                return Err(Error::Topic {
                    topic,
                    reason: "it does not exist and could not be created".into(),
                });
            }
            tracing::warn!(
                topic,
                "kafka topic creation refused; the broker created the topic with its own defaults"
            );
        }
        self.inner
            .topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(unknown);
        Ok(())
    }

    /// Creates `topics`; returns those the cluster did not create (nor had).
    async fn create_topics(&self, topics: &[String]) -> Vec<String> {
        if topics.is_empty() {
            return Vec::new();
        }
        let config = &self.inner.config;
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| {
                NewTopic::new(
                    t,
                    config.partitions,
                    TopicReplication::Fixed(config.replication_factor),
                )
            })
            .collect();
        let options = AdminOptions::new()
            .request_timeout(Some(REQUEST_TIMEOUT))
            .operation_timeout(Some(REQUEST_TIMEOUT));
        let mut refused = Vec::new();
        match self.inner.admin.create_topics(new.iter(), &options).await {
            Ok(results) => {
                for result in results {
                    match result {
                        Ok(topic) => tracing::info!(
                            topic,
                            partitions = config.partitions,
                            replication_factor = config.replication_factor,
                            "kafka topic created"
                        ),
                        Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                        Err((topic, code)) => {
                            tracing::warn!(topic, %code, "creating a kafka topic failed");
                            refused.push(topic);
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, "creating kafka topics failed");
                refused.extend(topics.iter().cloned());
            }
        }
        refused
    }

    async fn publish_events(&self, events: &[Event]) -> Result<(), Error> {
        if events.is_empty() {
            return Ok(());
        }
        let topics: Vec<String> = events
            .iter()
            .map(|e| e.topic.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        self.ensure_topics(&topics).await?;
        // Enqueue in order (the producer keeps that order per partition), then wait for every
        // delivery report.
        let mut deliveries = Vec::with_capacity(events.len());
        for event in events {
            let topic = self.inner.config.kafka_topic(&event.topic);
            let payload = codec::payload(event)?;
            let mut record = FutureRecord::to(&topic)
                .key(event.key.as_str())
                .payload(&payload)
                .headers(codec::headers(event));
            let deadline = tokio::time::Instant::now() + QUEUE_FULL_TIMEOUT;
            loop {
                match self.inner.producer.send_result(record) {
                    Ok(delivery) => {
                        deliveries.push((event.id.as_str(), delivery));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if tokio::time::Instant::now() < deadline =>
                    {
                        record = back;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err((source, _)) => {
                        return Err(Error::Kafka {
                            op: "enqueueing an event",
                            source,
                        });
                    }
                }
            }
        }
        for (id, delivery) in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((source, _))) => {
                    return Err(Error::Kafka {
                        op: "delivering an event",
                        source,
                    });
                }
                Err(_) => return Err(Error::Cancelled(id.to_owned())),
            }
        }
        Ok(())
    }

    /// Joins consumer group `group` on the bus topics `topics` (what
    /// [`EventBus::subscribe`] does, with the concrete type).
    pub async fn join(&self, group: &str, topics: &[String]) -> Result<KafkaSubscription, Error> {
        if topics.is_empty() {
            return Err(Error::Config(
                "a subscription needs at least one topic".into(),
            ));
        }
        self.ensure_topics(topics).await?;
        let consumer: StreamConsumer<Context> = self
            .inner
            .config
            .consumer(group)
            .create_with_context(Context::new(format!("group {group}")))
            .map_err(Error::kafka("creating a consumer"))?;
        let names: Vec<String> = topics
            .iter()
            .map(|t| self.inner.config.kafka_topic(t))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        consumer
            .subscribe(&refs)
            .map_err(Error::kafka("subscribing"))?;
        Ok(KafkaSubscription::new(
            consumer,
            self.inner.config.clone(),
            group.to_owned(),
        ))
    }

    fn offset_reader(&self, group: &str) -> Result<Arc<BaseConsumer<Context>>, Error> {
        let mut readers = self
            .inner
            .offset_readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(reader) = readers.get(group) {
            return Ok(reader.clone());
        }
        let reader: BaseConsumer<Context> = self
            .inner
            .config
            .consumer(group)
            .create_with_context(Context::new(format!("offsets of {group}")))
            .map_err(Error::kafka("creating an offset reader"))?;
        let reader = Arc::new(reader);
        readers.insert(group.to_owned(), reader.clone());
        Ok(reader)
    }

    async fn group_lag(
        &self,
        group: &str,
        topics: &[String],
    ) -> Result<BTreeMap<String, i64>, Error> {
        let reader = self.offset_reader(group)?;
        let topics: Vec<(String, String)> = topics
            .iter()
            .map(|t| (t.clone(), self.inner.config.kafka_topic(t)))
            .collect();
        tokio::task::spawn_blocking(move || {
            // The reader never joins, so it has no messages; polling serves its logs and
            // errors, which would otherwise queue up.
            let _ = reader.poll(Duration::ZERO);
            let mut lags = BTreeMap::new();
            for (topic, kafka_topic) in topics {
                lags.insert(topic, topic_lag(&reader, &kafka_topic)?);
            }
            Ok(lags)
        })
        .await?
    }

    async fn ping_brokers(&self, timeout: Duration) -> Result<(), Error> {
        let producer = self.inner.producer.clone();
        tokio::task::spawn_blocking(move || {
            let metadata = producer
                .client()
                .fetch_metadata(None, timeout)
                .map_err(Error::kafka("reading cluster metadata"))?;
            if metadata.brokers().is_empty() {
                return Err(Error::Topic {
                    topic: String::new(),
                    reason: "the cluster reports no brokers".into(),
                });
            }
            Ok(())
        })
        .await?
    }
}

/// Whether `topic` exists, by a metadata request through `client` (which auto-creates the
/// topic where both the client and the broker allow it).
fn topic_exists<C: rdkafka::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
) -> Result<bool, Error> {
    let metadata = client
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .map_err(Error::kafka("reading topic metadata"))?;
    Ok(match metadata.topics().iter().find(|t| t.name() == topic) {
        Some(found) => match found.error().map(RDKafkaErrorCode::from) {
            None => !found.partitions().is_empty(),
            // Just created; the leader is being elected.
            Some(RDKafkaErrorCode::LeaderNotAvailable) => true,
            Some(_) => false,
        },
        None => false,
    })
}

/// Messages of `kafka_topic` not yet committed by the reader's group: per partition, the high
/// watermark minus the committed offset (the low watermark where the group has none, which
/// is where it would start).
fn topic_lag(reader: &BaseConsumer<Context>, kafka_topic: &str) -> Result<i64, Error> {
    let metadata = reader
        .fetch_metadata(Some(kafka_topic), REQUEST_TIMEOUT)
        .map_err(Error::kafka("reading topic metadata"))?;
    let partitions: Vec<i32> = match metadata.topics().iter().find(|t| t.name() == kafka_topic) {
        Some(topic) if topic.error().is_none() => {
            topic.partitions().iter().map(|p| p.id()).collect()
        }
        // Not created yet: nothing published, nothing to consume.
        _ => return Ok(0),
    };
    let mut wanted = TopicPartitionList::new();
    for partition in &partitions {
        wanted.add_partition(kafka_topic, *partition);
    }
    let committed = reader
        .committed_offsets(wanted, REQUEST_TIMEOUT)
        .map_err(Error::kafka("reading committed offsets"))?;
    let mut lag = 0;
    for partition in partitions {
        let (low, high) = reader
            .fetch_watermarks(kafka_topic, partition, REQUEST_TIMEOUT)
            .map_err(Error::kafka("reading watermarks"))?;
        let position = committed
            .find_partition(kafka_topic, partition)
            .and_then(|p| match p.offset() {
                Offset::Offset(offset) => Some(offset),
                _ => None,
            })
            .unwrap_or(low)
            .max(low);
        lag += (high - position).max(0);
    }
    Ok(lag)
}

impl EventBus for KafkaBus {
    fn publish<'a>(&'a self, events: &'a [Event]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.publish_events(events).await?) })
    }

    fn subscribe<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Subscription>>> {
        Box::pin(async move {
            let subscription: Box<dyn Subscription> = Box::new(self.join(group, topics).await?);
            Ok(subscription)
        })
    }

    fn lag<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<BTreeMap<String, i64>>> {
        Box::pin(async move { Ok(self.group_lag(group, topics).await?) })
    }

    fn ping(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move { Ok(self.ping_brokers(PING_TIMEOUT).await?) })
    }
}
