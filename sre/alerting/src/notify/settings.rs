//! Where the integrations send and with which secrets: `[slack]` and `[pagerduty]`
//! configuration sections, or `BALLAST_SLACK__*` / `BALLAST_PAGERDUTY__*` variables.

use std::collections::BTreeMap;

use ballast_kit::config::Secret;
use serde::{Deserialize, Serialize};

/// Slack's Web API base URL.
pub const SLACK_API_URL: &str = "https://slack.com/api";
/// PagerDuty's Events API v2 enqueue URL.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// `[slack]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackSettings {
    /// Web API base URL (`BALLAST_SLACK__API_URL`).
    pub api_url: String,
    /// Bot token (`BALLAST_SLACK__BOT_TOKEN`); Slack is off without it.
    pub bot_token: Option<Secret>,
    /// Signing secret for interactivity (`BALLAST_SLACK__SIGNING_SECRET`).
    pub signing_secret: Option<Secret>,
}

impl Default for SlackSettings {
    fn default() -> Self {
        SlackSettings {
            api_url: SLACK_API_URL.into(),
            bot_token: None,
            signing_secret: None,
        }
    }
}

/// `[pagerduty]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerDutySettings {
    /// Events API v2 URL (`BALLAST_PAGERDUTY__EVENTS_URL`).
    pub events_url: String,
    /// Default routing key (`BALLAST_PAGERDUTY__ROUTING_KEY`).
    pub routing_key: Option<Secret>,
    /// Webhook v3 signing secret (`BALLAST_PAGERDUTY__WEBHOOK_SECRET`).
    pub webhook_secret: Option<Secret>,
}

impl Default for PagerDutySettings {
    fn default() -> Self {
        PagerDutySettings {
            events_url: PAGERDUTY_EVENTS_URL.into(),
            routing_key: None,
            webhook_secret: None,
        }
    }
}

/// Both sections.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// Slack.
    pub slack: SlackSettings,
    /// PagerDuty.
    pub pagerduty: PagerDutySettings,
}

impl NotifySettings {
    /// Reads the six `BALLAST_SLACK__*` / `BALLAST_PAGERDUTY__*` variables from `vars` (the
    /// process environment: `std::env::vars().collect()`), other variables ignored.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let mut s = NotifySettings::default();
        if let Some(v) = get("BALLAST_SLACK__API_URL") {
            s.slack.api_url = v;
        }
        s.slack.bot_token = get("BALLAST_SLACK__BOT_TOKEN").map(Secret::new);
        s.slack.signing_secret = get("BALLAST_SLACK__SIGNING_SECRET").map(Secret::new);
        if let Some(v) = get("BALLAST_PAGERDUTY__EVENTS_URL") {
            s.pagerduty.events_url = v;
        }
        s.pagerduty.routing_key = get("BALLAST_PAGERDUTY__ROUTING_KEY").map(Secret::new);
        s.pagerduty.webhook_secret = get("BALLAST_PAGERDUTY__WEBHOOK_SECRET").map(Secret::new);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_variables_and_never_prints_secrets() {
        let vars: BTreeMap<String, String> = [
            ("BALLAST_SLACK__API_URL", "http://127.0.0.1:9/api"),
            ("BALLAST_SLACK__BOT_TOKEN", "xoxb-secret"),
            ("BALLAST_SLACK__SIGNING_SECRET", "sign"),
            (
                "BALLAST_PAGERDUTY__EVENTS_URL",
                "http://127.0.0.1:9/v2/enqueue",
            ),
            ("BALLAST_PAGERDUTY__ROUTING_KEY", "rk"),
            ("BALLAST_PAGERDUTY__WEBHOOK_SECRET", "wh"),
            ("BALLAST_STORE__MAX_CONNECTIONS", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let s = NotifySettings::from_vars(&vars);
        assert_eq!(s.slack.api_url, "http://127.0.0.1:9/api");
        assert_eq!(s.pagerduty.events_url, "http://127.0.0.1:9/v2/enqueue");
        assert_eq!(
            s.slack.bot_token.as_ref().map(Secret::expose),
            Some("xoxb-secret")
        );
        assert_eq!(
            s.pagerduty.routing_key.as_ref().map(Secret::expose),
            Some("rk")
        );
        assert!(!format!("{s:?}").contains("xoxb-secret"));
        let defaults = NotifySettings::from_vars(&BTreeMap::new());
        assert_eq!(defaults.slack.api_url, SLACK_API_URL);
        assert_eq!(defaults.pagerduty.events_url, PAGERDUTY_EVENTS_URL);
        assert!(defaults.slack.bot_token.is_none());
    }
}
