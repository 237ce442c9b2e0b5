//! The platform's configuration: one TOML file plus `BALLAST_SECTION__KEY` overrides, one
//! typed section per component. Unknown keys are errors; secrets never print.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ballast_kit::auth::AuthConfig;
use ballast_kit::cache::CacheConfig;
use ballast_kit::config::{EnvSource, Secret};
use ballast_kit::store::StoreConfig;
use ballast_kit::store::humantime_serde_compat as hts;
use ballast_orchestrator::OrchestratorConfig;
use serde::{Deserialize, Serialize};

/// The whole configuration of `ballast up` and of each `ballast serve` role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BallastConfig {
    /// Where SQLite files, generated keys and state live.
    pub data_dir: PathBuf,
    /// `[store]`: SQLite (default) or PostgreSQL.
    pub store: StoreConfig,
    /// `[cache]`: in-memory (default) or Redis.
    pub cache: CacheConfig,
    /// `[auth]`: token keys (generated into the data directory when unset).
    pub auth: AuthConfig,
    /// `[gateway]`: limits, rate limits, API keys.
    pub gateway: ballast_gateway::GatewayConfig,
    /// `[orchestrator]`: probes, backoff, time scale.
    pub orchestrator: OrchestratorConfig,
    /// `[services.<name>]`: replicas per service.
    pub services: BTreeMap<String, ServiceSettings>,
    /// `[admin]`: the first admin account.
    pub admin: AdminAccount,
    /// `[metrics]`: the suite's scraper and embedded time-series store.
    pub metrics: MetricsSettings,
    /// `[bus]`: the embedded event log (default) or Kafka.
    pub bus: BusSettings,
    /// `[order]`: saga timeout and reservation margin.
    pub order: ballast_order::OrderConfig,
    /// `[inventory]`: the reservation sweeper.
    pub inventory: ballast_inventory::InventoryConfig,
    /// `[payment]`: the built-in payment provider (decline rate, latency).
    pub payment: ballast_payment::PaymentConfig,
    /// `[shipping]`: how fast shipments move.
    pub shipping: ballast_shipping::ShippingConfig,
    /// `[notification]`: the dispatcher.
    pub notification: ballast_notification::NotificationConfig,
    /// `[suite]`: the SRE suite's rule, routing and SLO files.
    pub suite: crate::suite::SuiteSettings,
    /// `[slack]`: Web API URL, bot token and signing secret (`BALLAST_SLACK__*`).
    pub slack: ballast_alerting::notify::settings::SlackSettings,
    /// `[pagerduty]`: Events API URL, routing key and webhook secret (`BALLAST_PAGERDUTY__*`).
    pub pagerduty: ballast_alerting::notify::settings::PagerDutySettings,
}

/// `[bus]`: where events travel.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusSettings {
    /// `[bus.kafka]`: use Apache Kafka (brokers, topic prefix, partitions); unset: the embedded
    /// durable log in the store (`bus.db` in the data directory, or a `bus` database on
    /// PostgreSQL).
    pub kafka: Option<ballast_kafka::KafkaConfig>,
}

/// `[metrics]`: how the suite scrapes every instance and keeps the samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Time between scrapes of each target.
    #[serde(with = "hts")]
    pub scrape_interval: std::time::Duration,
    /// Deadline of one scrape.
    #[serde(with = "hts")]
    pub scrape_timeout: std::time::Duration,
    /// How long samples are kept.
    #[serde(with = "hts")]
    pub retention: std::time::Duration,
    /// Memory bound of the store; the oldest chunks go first.
    pub max_bytes: usize,
    /// How often the store is also snapshotted while running (it always is on shutdown).
    #[serde(with = "hts")]
    pub snapshot_interval: std::time::Duration,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            scrape_interval: std::time::Duration::from_secs(5),
            scrape_timeout: std::time::Duration::from_secs(4),
            retention: std::time::Duration::from_secs(15 * 24 * 3600),
            max_bytes: 256 * 1024 * 1024,
            snapshot_interval: std::time::Duration::from_secs(60),
        }
    }
}

/// Per-service settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSettings {
    /// Instances to run.
    pub replicas: u32,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self { replicas: 1 }
    }
}

/// The first admin account, created on first start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminAccount {
    /// `BALLAST_ADMIN__EMAIL`.
    pub email: String,
    /// `BALLAST_ADMIN__PASSWORD`; generated and printed once when unset.
    pub password: Option<Secret>,
}

impl Default for AdminAccount {
    fn default() -> Self {
        Self {
            email: "admin@ballast.local".into(),
            password: None,
        }
    }
}

impl Default for BallastConfig {
    fn default() -> Self {
        let services = [
            ("user", 2),
            ("product", 2),
            ("order", 2),
            ("inventory", 2),
            ("payment", 2),
            ("shipping", 1),
            ("notification", 1),
        ]
        .into_iter()
        .map(|(name, replicas)| (name.to_owned(), ServiceSettings { replicas }))
        .collect();
        Self {
            data_dir: PathBuf::from(".ballast"),
            store: StoreConfig::default(),
            cache: CacheConfig::default(),
            auth: AuthConfig::default(),
            gateway: ballast_gateway::GatewayConfig::default(),
            orchestrator: OrchestratorConfig::default(),
            services,
            admin: AdminAccount::default(),
            metrics: MetricsSettings::default(),
            bus: BusSettings::default(),
            order: ballast_order::OrderConfig::default(),
            inventory: ballast_inventory::InventoryConfig::default(),
            payment: ballast_payment::PaymentConfig::default(),
            shipping: ballast_shipping::ShippingConfig::default(),
            notification: ballast_notification::NotificationConfig::default(),
            suite: crate::suite::SuiteSettings::default(),
            slack: ballast_alerting::notify::settings::SlackSettings::default(),
            pagerduty: ballast_alerting::notify::settings::PagerDutySettings::default(),
        }
    }
}

impl BallastConfig {
    /// Defaults, then `file`, then the environment.
    pub fn load(file: Option<&Path>, env: &EnvSource) -> anyhow::Result<Self> {
        Ok(ballast_kit::config::load(file, env)?)
    }

    /// Replicas configured for `service` (1 when not listed).
    pub fn replicas(&self, service: &str) -> u32 {
        self.services.get(service).map_or(1, |s| s.replicas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_reach_nested_sections() {
        let env = EnvSource::Map(
            [
                ("BALLAST_ADMIN__EMAIL", "root@example.com"),
                ("BALLAST_ADMIN__PASSWORD", "s3cret-pass"),
                ("BALLAST_SERVICES__PRODUCT__REPLICAS", "3"),
                ("BALLAST_ORCHESTRATOR__TIME_SCALE", "60"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        );
        let config = BallastConfig::load(None, &env).unwrap();
        assert_eq!(config.admin.email, "root@example.com");
        assert_eq!(config.replicas("product"), 3);
        assert_eq!(config.replicas("user"), 2);
        assert!((config.orchestrator.time_scale - 60.0).abs() < f64::EPSILON);
        assert!(!format!("{config:?}").contains("s3cret-pass"));
    }

    #[test]
    fn the_documented_slack_and_pagerduty_variables_are_read_and_never_printed() {
        let env = EnvSource::Map(
            [
                ("BALLAST_SLACK__API_URL", "http://127.0.0.1:9/api"),
                ("BALLAST_SLACK__BOT_TOKEN", "xoxb-not-for-logs"),
                (
                    "BALLAST_SLACK__SIGNING_SECRET",
                    "slack-signing-not-for-logs",
                ),
                (
                    "BALLAST_PAGERDUTY__EVENTS_URL",
                    "http://127.0.0.1:9/v2/enqueue",
                ),
                ("BALLAST_PAGERDUTY__ROUTING_KEY", "routing-key-not-for-logs"),
                ("BALLAST_PAGERDUTY__WEBHOOK_SECRET", "webhook-not-for-logs"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        );
        let config = BallastConfig::load(None, &env).unwrap();
        assert_eq!(config.slack.api_url, "http://127.0.0.1:9/api");
        assert_eq!(config.pagerduty.events_url, "http://127.0.0.1:9/v2/enqueue");
        assert_eq!(
            config
                .slack
                .bot_token
                .as_ref()
                .map(|s| s.expose().to_owned()),
            Some("xoxb-not-for-logs".to_owned())
        );
        assert_eq!(
            config
                .pagerduty
                .routing_key
                .as_ref()
                .map(|s| s.expose().to_owned()),
            Some("routing-key-not-for-logs".to_owned())
        );
        let printed = format!("{config:?}");
        assert!(!printed.contains("not-for-logs"), "{printed}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ballast.toml");
        std::fs::write(&file, "[gateway]\nmax_in_flite = 3\n").unwrap();
        let error = BallastConfig::load(Some(&file), &EnvSource::Map(BTreeMap::new()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("max_in_flite"), "{error}");
    }
}
