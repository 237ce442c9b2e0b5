//! Slack through slack-morphism: one message per group and channel, built with Block Kit,
//! updated in place with `chat.update`, a thread reply per change, 429 `Retry-After` honoured.
//! The API base URL is configuration (slack-morphism's `with_slack_api_url`), so a local
//! stand-in can answer.

use serde_json::{Value, json};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use super::settings::SlackSettings;
use super::{Notification, RetryPolicy};
use crate::error::AlertingError;
use crate::templates::Templates;

/// The action id of the Acknowledge button.
pub const ACTION_ACK: &str = "ballast_acknowledge";
/// The action id of the Silence 1h button.
pub const ACTION_SILENCE_1H: &str = "ballast_silence_1h";

/// A posted message: its channel id and timestamp (Slack's message id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// Channel id as Slack answered it.
    pub channel: String,
    /// Message timestamp.
    pub ts: String,
}

impl Posted {
    /// As stored in the notification log: `channel|ts`.
    pub fn remote_id(&self) -> String {
        format!("{}|{}", self.channel, self.ts)
    }

    /// Parses `channel|ts`.
    pub fn from_remote_id(id: &str) -> Option<Posted> {
        let (channel, ts) = id.split_once('|')?;
        Some(Posted {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
        })
    }
}

/// A Slack Web API client with a bot token.
pub struct SlackNotifier {
    client: SlackClient<SlackClientHyperHttpsConnector>,
    token: SlackApiToken,
    retry: RetryPolicy,
}

impl std::fmt::Debug for SlackNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackNotifier").finish_non_exhaustive()
    }
}

fn slack_err(reason: impl std::fmt::Display) -> AlertingError {
    AlertingError::Notify {
        integration: "slack",
        reason: reason.to_string(),
    }
}

impl SlackNotifier {
    /// A client when a bot token is configured, `None` otherwise.
    pub fn new(
        settings: &SlackSettings,
        retry: RetryPolicy,
    ) -> Result<Option<Self>, AlertingError> {
        let Some(token) = &settings.bot_token else {
            return Ok(None);
        };
        ballast_kit::client::install_crypto_provider();
        let builder = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
            Ok(b) => b,
            // No system certificates (a minimal container): plain-HTTP base URLs still work.
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                rustls::ClientConfig::builder()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            ),
        };
        let https = builder.https_or_http().enable_http1().build();
        let connector = SlackClientHyperConnector::from(https)
            .with_slack_api_url(settings.api_url.trim_end_matches('/'));
        Ok(Some(SlackNotifier {
            client: SlackClient::new(connector),
            token: SlackApiToken::new(SlackApiTokenValue(token.expose().to_owned())),
            retry,
        }))
    }

    async fn with_retries<T, F, Fut>(&self, what: &str, call: F) -> Result<T, AlertingError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, SlackClientError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let wait = match call().await {
                Ok(v) => return Ok(v),
                Err(SlackClientError::RateLimitError(e)) => {
                    e.retry_after.unwrap_or_else(|| self.retry.backoff(attempt))
                }
                Err(SlackClientError::HttpError(e)) if e.status_code.is_server_error() => {
                    self.retry.backoff(attempt)
                }
                Err(e) => return Err(slack_err(format!("{what}: {e}"))),
            };
            if attempt >= self.retry.attempts {
                return Err(slack_err(format!(
                    "{what}: gave up after {attempt} attempts"
                )));
            }
            tracing::warn!(
                what,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "slack: retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Posts a message (a thread reply when `thread_ts` is given).
    pub async fn post(
        &self,
        channel: &str,
        content: SlackMessageContent,
        thread_ts: Option<&str>,
    ) -> Result<Posted, AlertingError> {
        let session = self.client.open_session(&self.token);
        let mut request = SlackApiChatPostMessageRequest::new(channel.into(), content);
        if let Some(ts) = thread_ts {
            request = request.with_thread_ts(ts.into());
        }
        let response = self
            .with_retries("chat.postMessage", || session.chat_post_message(&request))
            .await?;
        Ok(Posted {
            channel: response.channel.to_string(),
            ts: response.ts.to_string(),
        })
    }

    /// Replaces a message in place.
    pub async fn update(
        &self,
        posted: &Posted,
        content: SlackMessageContent,
    ) -> Result<(), AlertingError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatUpdateRequest::new(
            posted.channel.clone().into(),
            content,
            posted.ts.clone().into(),
        );
        self.with_retries("chat.update", || session.chat_update(&request))
            .await
            .map(|_| ())
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// The Block Kit message of a group: header, body, links, and (while firing) the
/// Acknowledge and Silence 1h buttons carrying the group key.
pub fn message(
    n: &Notification,
    templates: &Templates,
) -> Result<SlackMessageContent, AlertingError> {
    let title = templates.render("slack_title", n)?;
    let body = templates.render("slack_message", n)?;
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&body, 3000)}}),
    ];
    let mut links = Vec::new();
    if !n.runbook_url.is_empty() {
        links.push(format!("<{}|:book: Runbook>", n.runbook_url));
    }
    if !n.dashboard_url.is_empty() {
        links.push(format!(
            "<{}|:chart_with_upwards_trend: Dashboard>",
            n.dashboard_url
        ));
    }
    if let Some(url) = n
        .alerts
        .iter()
        .map(|a| &a.generator_url)
        .find(|u| !u.is_empty())
    {
        links.push(format!("<{url}|:mag: Source>"));
    }
    if !links.is_empty() {
        blocks.push(
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": links.join("   ")}]}),
        );
    }
    if !n.is_resolved() {
        let mut elements = Vec::new();
        if n.acknowledged_by.is_empty() {
            elements.push(
                json!({"type": "button", "action_id": ACTION_ACK, "style": "primary",
                "text": {"type": "plain_text", "text": "Acknowledge"}, "value": n.group_key}),
            );
        }
        elements.push(json!({"type": "button", "action_id": ACTION_SILENCE_1H,
            "text": {"type": "plain_text", "text": "Silence 1h"}, "value": n.group_key}));
        blocks
            .push(json!({"type": "actions", "block_id": "ballast_actions", "elements": elements}));
    }
    let blocks: Vec<SlackBlock> =
        serde_json::from_value(Value::Array(blocks)).map_err(slack_err)?;
    Ok(SlackMessageContent::new()
        .with_text(title)
        .with_blocks(blocks))
}

/// The thread reply for a change of the group.
pub fn thread_reply(
    n: &Notification,
    templates: &Templates,
) -> Result<SlackMessageContent, AlertingError> {
    Ok(SlackMessageContent::new().with_text(templates.render("slack_thread", n)?))
}
