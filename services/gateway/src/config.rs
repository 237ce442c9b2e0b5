//! The gateway's configuration (`[gateway]`): body and concurrency bounds, the upstream
//! timeout, rate limits and API keys. Unknown keys are an error; keys are [`Secret`]s.

use std::time::Duration;

use ballast_kit::auth::Role;
use ballast_kit::config::Secret;
use serde::{Deserialize, Serialize};

/// Gateway configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Largest request body accepted, in bytes (larger is 413).
    pub max_body_bytes: usize,
    /// Requests handled at once; beyond this the gateway sheds load with 503.
    pub max_in_flight: usize,
    /// How long an upstream may take to answer (then 504).
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub upstream_timeout: Duration,
    /// Rate limits per user, per API key and per client IP.
    pub rate_limit: RateLimitConfig,
    /// Machine clients and the roles each key grants.
    pub api_keys: Vec<ApiKeyConfig>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_in_flight: 512,
            upstream_timeout: Duration::from_secs(10),
            rate_limit: RateLimitConfig::default(),
            api_keys: Vec::new(),
        }
    }
}

/// Rate limits (`[gateway.rate_limit]`), GCRA per key; in memory unless `redis_url` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Per authenticated user (the token's `sub`).
    pub per_user: Limit,
    /// Per API key.
    pub per_api_key: Limit,
    /// Per client IP, for anonymous requests.
    pub anonymous: Limit,
    /// `redis://host:port/db`: share limits between gateway replicas through Redis.
    pub redis_url: Option<Secret>,
    /// Prefix of every Redis key the limiter writes.
    pub key_prefix: String,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_user: Limit {
                rate_per_second: 50.0,
                burst: 100,
            },
            per_api_key: Limit {
                rate_per_second: 200.0,
                burst: 400,
            },
            anonymous: Limit {
                rate_per_second: 100.0,
                burst: 200,
            },
            redis_url: None,
            key_prefix: "ballast:gateway:rl:".into(),
        }
    }
}

/// A GCRA limit: a sustained rate and the number of requests allowed at once.
///
/// A rate of zero or less disables the limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Sustained requests per second.
    pub rate_per_second: f64,
    /// Requests allowed back to back before the rate applies (at least 1).
    pub burst: u32,
}

impl Limit {
    /// Whether this limit restricts anything.
    pub fn enabled(&self) -> bool {
        self.rate_per_second > 0.0 && self.rate_per_second.is_finite()
    }
}

/// One machine client: a name (its rate-limit key and log name), its key, its roles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The client's name (`loadgen`, `sre-suite`).
    pub name: String,
    /// The key the client sends in `X-API-Key`.
    pub key: Secret,
    /// The roles the key grants.
    pub roles: Vec<Role>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn durations_and_limits_parse_and_unknown_keys_are_rejected() {
        let config: GatewayConfig = serde_json::from_value(serde_json::json!({
            "upstream_timeout": "250ms",
            "rate_limit": { "anonymous": { "rate_per_second": 2.5, "burst": 3 } },
            "api_keys": [{ "name": "loadgen", "key": "s3cret", "roles": ["admin"] }],
        }))
        .unwrap();
        assert_eq!(config.upstream_timeout, Duration::from_millis(250));
        assert_eq!(config.rate_limit.anonymous.burst, 3);
        assert_eq!(config.max_body_bytes, 64 * 1024);
        assert!(!format!("{config:?}").contains("s3cret"));
        let error = serde_json::from_value::<GatewayConfig>(serde_json::json!({ "max_body": 1 }))
            .unwrap_err();
        assert!(error.to_string().contains("max_body"));
    }
}
