//! Orchestrator configuration (`[orchestrator]`): probes, restart backoff, time scale.

use std::time::Duration;

use ballast_kit::store::humantime_serde_compat as hts;
use serde::{Deserialize, Serialize};

/// One probe's timing, as a Kubernetes container probe has it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// Wait after start before the first probe.
    #[serde(with = "hts")]
    pub initial_delay: Duration,
    /// Time between probes.
    #[serde(with = "hts")]
    pub period: Duration,
    /// A probe not answered within this counts as failed (real time: never time-scaled).
    #[serde(with = "hts")]
    pub timeout: Duration,
    /// Consecutive failures that make the probe fail.
    pub failure_threshold: u32,
    /// Consecutive successes that make it pass again.
    pub success_threshold: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(5),
            timeout: Duration::from_secs(1),
            failure_threshold: 3,
            success_threshold: 1,
        }
    }
}

/// `[orchestrator]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OrchestratorConfig {
    /// Liveness: failing it restarts the instance.
    pub liveness: ProbeConfig,
    /// Readiness: failing it takes the instance out of the gateway's rotation.
    pub readiness: ProbeConfig,
    /// First restart delay after a crash; doubles per consecutive crash.
    #[serde(with = "hts")]
    pub restart_backoff_initial: Duration,
    /// The longest restart delay (Kubernetes: five minutes).
    #[serde(with = "hts")]
    pub restart_backoff_max: Duration,
    /// Running this long without a crash resets the backoff.
    #[serde(with = "hts")]
    pub restart_backoff_reset: Duration,
    /// Revisions kept per deployment (Kubernetes `revisionHistoryLimit`).
    pub revision_history_limit: usize,
    /// Grace period for an instance's in-flight requests when it is stopped.
    #[serde(with = "hts")]
    pub termination_grace: Duration,
    /// Runs probes and backoffs this many times faster than real time.
    pub time_scale: f64,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self {
            liveness: ProbeConfig {
                initial_delay: Duration::from_secs(5),
                period: Duration::from_secs(5),
                ..ProbeConfig::default()
            },
            readiness: ProbeConfig {
                initial_delay: Duration::ZERO,
                period: Duration::from_secs(2),
                ..ProbeConfig::default()
            },
            restart_backoff_initial: Duration::from_secs(1),
            restart_backoff_max: Duration::from_secs(300),
            restart_backoff_reset: Duration::from_secs(600),
            revision_history_limit: 10,
            termination_grace: Duration::from_secs(10),
            time_scale: 1.0,
        }
    }
}

impl OrchestratorConfig {
    /// `duration` divided by the time scale.
    pub fn scaled(&self, duration: Duration) -> Duration {
        if self.time_scale > 0.0 && self.time_scale.is_finite() {
            duration.div_f64(self.time_scale)
        } else {
            duration
        }
    }

    /// The delay before restart number `consecutive_crashes` (0 = the first crash).
    pub fn backoff(&self, consecutive_crashes: u32) -> Duration {
        let factor = 2u32.saturating_pow(consecutive_crashes.min(20));
        self.scaled(
            self.restart_backoff_initial
                .saturating_mul(factor)
                .min(self.restart_backoff_max),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_is_time_scaled() {
        let config = OrchestratorConfig::default();
        assert_eq!(config.backoff(0), Duration::from_secs(1));
        assert_eq!(config.backoff(3), Duration::from_secs(8));
        assert_eq!(config.backoff(30), Duration::from_secs(300));
        let fast = OrchestratorConfig {
            time_scale: 60.0,
            ..config
        };
        assert_eq!(fast.backoff(30), Duration::from_secs(5));
    }
}
