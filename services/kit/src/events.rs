//! Events between services: the [`EventBus`] (two real implementations: the embedded log in
//! [`log`] and Kafka in the `ballast-kafka` crate), the transactional [`outbox`] every event
//! leaves through, and the idempotent [`consumer`] runner with retries and a dead-letter topic.
//!
//! Delivery is at least once. A producer writes its events into its own database's `outbox`
//! table in the same transaction as the state change; a relay publishes them afterwards. A
//! consumer records each processed event id in `processed_events` in the same transaction as
//! its effect, so a redelivered event has no second effect. Events of one order share a key
//! (the order id), so they stay in order.
//!
//! The event types themselves (topics, kinds, payloads) are the contract between services and
//! live in [`catalog`].

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub mod catalog;
pub mod consumer;
pub mod log;
pub mod outbox;

/// One event (or command) on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id (UUID v7, time-ordered); consumers deduplicate on it.
    pub id: String,
    /// The topic (`orders`, `payments.commands`, ...).
    pub topic: String,
    /// The partitioning key (the order id for everything about an order).
    pub key: String,
    /// The kind (`order.created`, `payment.charge`, ...).
    pub kind: String,
    /// The payload, one of the [`catalog`] types.
    pub payload: serde_json::Value,
    /// When it happened (Unix milliseconds).
    pub occurred_at: i64,
    /// W3C `traceparent` of the operation that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl Event {
    /// A new event with a fresh id, stamped now and carrying the current trace context.
    pub fn new(
        topic: &str,
        key: &str,
        kind: &str,
        payload: impl Serialize,
    ) -> anyhow::Result<Self> {
        let mut headers = http::HeaderMap::new();
        crate::telemetry::inject_current(&mut headers);
        Ok(Self {
            id: uuid::Uuid::now_v7().to_string(),
            topic: topic.to_owned(),
            key: key.to_owned(),
            kind: kind.to_owned(),
            payload: serde_json::to_value(payload)?,
            occurred_at: crate::store::now_millis(),
            traceparent: headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }

    /// A typed catalog event.
    pub fn of<T: catalog::Payload>(key: &str, payload: &T) -> anyhow::Result<Self> {
        Self::new(T::TOPIC, key, T::KIND, payload)
    }

    /// The payload as a catalog type, when the kind matches.
    pub fn decode<T: catalog::Payload>(&self) -> Option<anyhow::Result<T>> {
        (self.kind == T::KIND).then(|| {
            serde_json::from_value(self.payload.clone())
                .map_err(|e| anyhow::anyhow!("event {} ({}): {e}", self.id, self.kind))
        })
    }
}

/// One event handed to a subscriber, to be acknowledged once processed.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The event.
    pub event: Event,
    /// Its position in its topic (partition, offset), for acknowledgement and logs.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
}

/// A consumer group's membership on some topics: deliveries one at a time, acknowledged in
/// order.
pub trait Subscription: Send {
    /// The next delivery; waits until there is one.
    fn next(&mut self) -> BoxFuture<'_, anyhow::Result<Delivery>>;
    /// Marks `delivery` (and everything before it in its partition) processed for the group.
    fn ack<'a>(&'a mut self, delivery: &'a Delivery) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// A durable publish/subscribe log with consumer groups.
pub trait EventBus: Send + Sync {
    /// Appends events durably; `Ok` means the bus holds them. Order is kept per key.
    fn publish<'a>(&'a self, events: &'a [Event]) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Joins consumer group `group` on `topics`. Each event of a topic goes to one member of
    /// the group; a member that stops is replaced by another, from the last acknowledgement.
    fn subscribe<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Subscription>>>;
    /// Events published but not yet acknowledged by `group`, per topic.
    fn lag<'a>(
        &'a self,
        group: &'a str,
        topics: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<BTreeMap<String, i64>>>;
    /// Answers when the bus is reachable (for readiness).
    fn ping(&self) -> BoxFuture<'_, anyhow::Result<()>>;
}

/// The dead-letter topic of `topic`.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}
