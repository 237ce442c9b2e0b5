//! The bus configuration ([`KafkaConfig`]) and the librdkafka client settings built from it.

use std::collections::BTreeMap;
use std::fmt;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// librdkafka properties the bus sets itself, because its delivery guarantees depend on them;
/// `extra` may not override them.
pub const RESERVED: &[&str] = &[
    "bootstrap.servers",
    "metadata.broker.list",
    "client.id",
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "auto.offset.reset",
    "enable.partition.eof",
    "enable.idempotence",
    "acks",
    "request.required.acks",
];

/// How to reach Kafka and how to lay out topics.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Client id the brokers see (logs, quotas).
    pub client_id: String,
    /// Prepended to every topic name (`staging.` puts `orders` in `staging.orders`).
    pub topic_prefix: String,
    /// Partitions of the topics the bus creates.
    pub partitions: i32,
    /// Replication factor of the topics the bus creates.
    pub replication_factor: i32,
    /// Further librdkafka properties for every client (security, timeouts); values may be
    /// secrets and never print.
    pub extra: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "localhost:9092".into(),
            client_id: "ballast".into(),
            topic_prefix: String::new(),
            partitions: 6,
            replication_factor: 1,
            extra: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extra: BTreeMap<&str, &str> = self
            .extra
            .keys()
            .map(|key| (key.as_str(), "[redacted]"))
            .collect();
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("client_id", &self.client_id)
            .field("topic_prefix", &self.topic_prefix)
            .field("partitions", &self.partitions)
            .field("replication_factor", &self.replication_factor)
            .field("extra", &extra)
            .finish()
    }
}

impl KafkaConfig {
    /// Checks what librdkafka would only reject later, or not at all.
    pub fn validate(&self) -> Result<(), Error> {
        if self.brokers.trim().is_empty() {
            return Err(Error::Config("brokers must not be empty".into()));
        }
        if self.partitions < 1 {
            return Err(Error::Config(format!(
                "partitions must be at least 1, not {}",
                self.partitions
            )));
        }
        if self.replication_factor < 1 {
            return Err(Error::Config(format!(
                "replication_factor must be at least 1, not {}",
                self.replication_factor
            )));
        }
        if let Some(key) = self.extra.keys().find(|k| RESERVED.contains(&k.as_str())) {
            return Err(Error::Config(format!(
                "extra.{key} is set by the bus itself and cannot be overridden"
            )));
        }
        Ok(())
    }

    /// The Kafka topic that holds the bus topic `topic`.
    pub fn kafka_topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.topic_prefix)
    }

    /// The bus topic held in the Kafka topic `kafka_topic` (the prefix removed).
    pub fn bus_topic<'a>(&self, kafka_topic: &'a str) -> &'a str {
        kafka_topic
            .strip_prefix(self.topic_prefix.as_str())
            .unwrap_or(kafka_topic)
    }

    fn base(&self, defaults: &[(&str, &str)], fixed: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", &self.client_id);
        for (key, value) in fixed {
            config.set(*key, *value);
        }
        config
    }

    /// The idempotent producer: every acknowledged write is on all in-sync replicas, and
    /// retries neither duplicate nor reorder within a partition.
    pub fn producer(&self) -> ClientConfig {
        self.base(
            &[("message.timeout.ms", "30000")],
            &[("enable.idempotence", "true"), ("acks", "all")],
        )
    }

    /// A group member that commits only what it acknowledges and starts new groups at the
    /// beginning of each partition.
    pub fn consumer(&self, group: &str) -> ClientConfig {
        self.base(
            &[
                ("session.timeout.ms", "10000"),
                ("heartbeat.interval.ms", "1000"),
            ],
            &[
                ("group.id", group),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "earliest"),
                ("enable.partition.eof", "false"),
            ],
        )
    }

    /// The admin client (topic creation; its metadata requests never auto-create topics).
    pub fn admin(&self) -> ClientConfig {
        self.base(&[], &[("allow.auto.create.topics", "false")])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_unknown_keys_are_rejected() {
        let config: KafkaConfig = serde_json::from_str(r#"{"brokers":"k1:9092,k2:9092"}"#).unwrap();
        assert_eq!(config.brokers, "k1:9092,k2:9092");
        assert_eq!(config.partitions, 6);
        assert_eq!(config.replication_factor, 1);
        assert_eq!(config.topic_prefix, "");
        config.validate().unwrap();
        let unknown = serde_json::from_str::<KafkaConfig>(r#"{"broker":"k1:9092"}"#);
        assert!(unknown.unwrap_err().to_string().contains("unknown field"));
    }

    #[test]
    fn extra_values_never_print() {
        let mut config = KafkaConfig::default();
        config
            .extra
            .insert("sasl.password".into(), "hunter2-secret".into());
        let printed = format!("{config:?}");
        assert!(printed.contains("sasl.password"));
        assert!(!printed.contains("hunter2"));
    }

    #[test]
    fn reserved_properties_and_bad_counts_are_refused() {
        let mut config = KafkaConfig::default();
        config
            .extra
            .insert("enable.auto.commit".into(), "true".into());
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("enable.auto.commit")
        );
        let config = KafkaConfig {
            partitions: 0,
            ..KafkaConfig::default()
        };
        assert!(config.validate().is_err());
        let config = KafkaConfig {
            brokers: " ".into(),
            ..KafkaConfig::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn fixed_settings_win_and_extra_overrides_defaults() {
        let mut config = KafkaConfig::default();
        config
            .extra
            .insert("session.timeout.ms".into(), "6000".into());
        let consumer = config.consumer("inventory");
        assert_eq!(consumer.get("group.id"), Some("inventory"));
        assert_eq!(consumer.get("enable.auto.commit"), Some("false"));
        assert_eq!(consumer.get("session.timeout.ms"), Some("6000"));
        let producer = config.producer();
        assert_eq!(producer.get("enable.idempotence"), Some("true"));
        assert_eq!(producer.get("acks"), Some("all"));
        assert_eq!(producer.get("session.timeout.ms"), Some("6000"));
    }

    #[test]
    fn topic_prefix_round_trips() {
        let config = KafkaConfig {
            topic_prefix: "staging.".into(),
            ..KafkaConfig::default()
        };
        assert_eq!(config.kafka_topic("orders"), "staging.orders");
        assert_eq!(config.bus_topic("staging.orders"), "orders");
        assert_eq!(config.bus_topic("other"), "other");
    }
}
