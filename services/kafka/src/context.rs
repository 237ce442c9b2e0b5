//! The librdkafka client context: its logs, errors and group rebalances become `tracing`
//! events carrying the client's role as a field.

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;

/// Context of one librdkafka client.
#[derive(Debug, Clone)]
pub struct Context {
    /// What the client is for (`producer`, `admin`, `group inventory`).
    pub role: String,
}

impl Context {
    /// The context of a client with `role`.
    pub fn new(role: impl Into<String>) -> Self {
        Self { role: role.into() }
    }
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let role = self.role.as_str();
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", role, facility, "{message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", role, facility, "{message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", role, facility, "{message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", role, facility, "{message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // librdkafka recovers from these by itself (reconnects, retries); fatal errors are
        // checked where they matter.
        tracing::warn!(target: "librdkafka", role = self.role, %error, reason, "kafka client error");
    }
}

impl ConsumerContext for Context {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => tracing::info!(
                role = self.role,
                partitions = partitions.count(),
                "kafka partitions assigned"
            ),
            Rebalance::Revoke(partitions) => tracing::info!(
                role = self.role,
                partitions = partitions.count(),
                "kafka partitions revoked"
            ),
            Rebalance::Error(error) => {
                tracing::warn!(role = self.role, %error, "kafka rebalance failed")
            }
        }
    }
}
