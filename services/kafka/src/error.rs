//! The crate's one error type: what can go wrong between the bus and Kafka.

use rdkafka::error::KafkaError;

/// An error of the Kafka bus. The [`ballast_kit::events::EventBus`] methods return it inside
/// `anyhow::Error`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable.
    #[error("kafka configuration: {0}")]
    Config(String),
    /// A librdkafka call failed (`op` says which).
    #[error("kafka {op}: {source}")]
    Kafka {
        /// What the bus was doing.
        op: &'static str,
        /// librdkafka's error.
        #[source]
        source: KafkaError,
    },
    /// The client hit an error it cannot recover from (e.g. a fenced idempotent producer).
    #[error("kafka fatal error {code}: {reason}")]
    Fatal {
        /// librdkafka's error code.
        code: rdkafka::error::RDKafkaErrorCode,
        /// librdkafka's explanation.
        reason: String,
    },
    /// A topic could not be created or found.
    #[error("kafka topic {topic}: {reason}")]
    Topic {
        /// The Kafka topic name.
        topic: String,
        /// Why.
        reason: String,
    },
    /// The producer went away before reporting a delivery.
    #[error("kafka delivery of event {0} was cancelled (producer closed)")]
    Cancelled(String),
    /// An event could not be encoded as JSON.
    #[error("encoding event: {0}")]
    Encode(#[from] serde_json::Error),
    /// A blocking librdkafka call panicked or was cancelled.
    #[error("kafka worker task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl Error {
    /// Wraps a librdkafka error with what the bus was doing.
    pub(crate) fn kafka(op: &'static str) -> impl FnOnce(KafkaError) -> Self {
        move |source| Self::Kafka { op, source }
    }
}
