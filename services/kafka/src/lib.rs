//! Kafka for Ballast's event bus: [`KafkaBus`] implements [`ballast_kit::events::EventBus`]
//! with rdkafka (librdkafka), with the semantics of the kit's embedded log bus, so services
//! run unchanged on either.
//!
//! - [`config`]: [`KafkaConfig`] (brokers, client id, topic prefix, partitions, replication,
//!   extra librdkafka properties whose values never print) and the client settings built from it
//! - [`bus`]: [`KafkaBus`]: an idempotent producer (`acks=all`) awaiting every delivery
//!   report, topics created on demand, consumer lag, readiness ping
//! - [`subscription`]: a consumer group member committing exactly what it acknowledges
//! - [`codec`]: an event as a Kafka message (key, JSON payload, `id`/`kind`/`traceparent` headers)
//! - [`context`]: librdkafka logs and rebalances as `tracing` events
//! - [`error`]: the crate's error type
//!
//! Delivery is at least once, as on the embedded bus: an event is redelivered when its
//! consumer stops before acknowledging it, and consumers deduplicate by event id.

pub mod bus;
pub mod codec;
pub mod config;
pub mod context;
pub mod error;
pub mod subscription;

pub use bus::KafkaBus;
pub use config::KafkaConfig;
pub use error::Error;
