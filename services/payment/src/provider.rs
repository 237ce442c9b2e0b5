//! The built-in payment provider: deterministic for the test card tokens, configurable for
//! the rest.
//!
//! | token | answer |
//! | --- | --- |
//! | `tok_ok` | approved |
//! | `tok_decline` | declined (`card_declined`) |
//! | `tok_timeout` | never answers (the charge stays `pending` until voided) |
//! | any other `tok_*` | approved, or declined (`card_declined`) with probability `decline_rate` |
//! | anything else | declined (`invalid_card_token`) |
//!
//! Every answer takes `latency` first.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Payment settings (`[payment]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentConfig {
    /// Share of other `tok_*` charges the provider declines, 0 to 1.
    pub decline_rate: f64,
    /// How long the provider takes to answer.
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub latency: Duration,
    /// A pending charge untouched this long is offered to the provider again (its first
    /// call was lost in a crash).
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub retry_after: Duration,
    /// How often the sweeper looks for such charges.
    #[serde(with = "ballast_kit::store::humantime_serde_compat")]
    pub sweep_interval: Duration,
}

impl Default for PaymentConfig {
    fn default() -> Self {
        Self {
            decline_rate: 0.0,
            latency: Duration::ZERO,
            retry_after: Duration::from_secs(5),
            sweep_interval: Duration::from_secs(1),
        }
    }
}

/// What kind of card token a charge carries (the token itself is not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `tok_ok`.
    Ok,
    /// `tok_decline`.
    Decline,
    /// `tok_timeout`.
    Timeout,
    /// Another `tok_*`.
    Other,
    /// Not a provider token.
    Invalid,
}

impl TokenKind {
    /// Classifies a card token.
    pub fn of(token: &str) -> Self {
        match token {
            "tok_ok" => Self::Ok,
            "tok_decline" => Self::Decline,
            "tok_timeout" => Self::Timeout,
            other if other.starts_with("tok_") && other.len() > 4 => Self::Other,
            _ => Self::Invalid,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Decline => "decline",
            Self::Timeout => "timeout",
            Self::Other => "other",
            Self::Invalid => "invalid",
        }
    }

    /// Parses a stored name (unknown names are invalid tokens).
    pub fn parse(text: &str) -> Self {
        match text {
            "ok" => Self::Ok,
            "decline" => Self::Decline,
            "timeout" => Self::Timeout,
            "other" => Self::Other,
            _ => Self::Invalid,
        }
    }
}

/// The provider's answer to an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The money is captured.
    Approved,
    /// Declined, for this reason.
    Declined(String),
    /// No answer (the call timed out): the charge stays pending.
    NoAnswer,
}

/// The decline reason of `tok_decline` and of random declines.
pub const CARD_DECLINED: &str = "card_declined";
/// The decline reason of a token the provider does not know.
pub const INVALID_CARD_TOKEN: &str = "invalid_card_token";

/// The built-in provider.
#[derive(Debug, Clone)]
pub struct Provider {
    decline_rate: f64,
    latency: Duration,
}

impl Provider {
    /// A provider with `config`'s decline rate (clamped to 0..=1) and latency.
    pub fn new(config: &PaymentConfig) -> Self {
        let rate = if config.decline_rate.is_finite() {
            config.decline_rate.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Self {
            decline_rate: rate,
            latency: config.latency,
        }
    }

    /// Authorizes and captures a charge paid with a `kind` token.
    pub async fn authorize(&self, kind: TokenKind) -> Answer {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        decide(kind, self.decline_rate, rand::random::<f64>())
    }
}

/// The provider's decision, given a uniform random `roll` in 0..1 (pure, for tests).
pub fn decide(kind: TokenKind, decline_rate: f64, roll: f64) -> Answer {
    match kind {
        TokenKind::Ok => Answer::Approved,
        TokenKind::Decline => Answer::Declined(CARD_DECLINED.to_owned()),
        TokenKind::Timeout => Answer::NoAnswer,
        TokenKind::Other if roll < decline_rate => Answer::Declined(CARD_DECLINED.to_owned()),
        TokenKind::Other => Answer::Approved,
        TokenKind::Invalid => Answer::Declined(INVALID_CARD_TOKEN.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_tokens_are_deterministic() {
        for roll in [0.0, 0.5, 0.999] {
            assert_eq!(decide(TokenKind::of("tok_ok"), 1.0, roll), Answer::Approved);
            assert_eq!(
                decide(TokenKind::of("tok_decline"), 0.0, roll),
                Answer::Declined(CARD_DECLINED.into())
            );
            assert_eq!(
                decide(TokenKind::of("tok_timeout"), 0.0, roll),
                Answer::NoAnswer
            );
        }
    }

    #[test]
    fn other_tokens_follow_the_decline_rate() {
        let kind = TokenKind::of("tok_visa");
        assert_eq!(kind, TokenKind::Other);
        assert_eq!(decide(kind, 0.0, 0.0), Answer::Approved);
        assert_eq!(
            decide(kind, 0.25, 0.1),
            Answer::Declined(CARD_DECLINED.into())
        );
        assert_eq!(decide(kind, 0.25, 0.3), Answer::Approved);
        assert_eq!(
            decide(kind, 1.0, 0.999),
            Answer::Declined(CARD_DECLINED.into())
        );
    }

    #[test]
    fn non_tokens_are_declined() {
        for token in ["4111111111111111", "", "tok_"] {
            assert_eq!(
                decide(TokenKind::of(token), 0.0, 0.5),
                Answer::Declined(INVALID_CARD_TOKEN.into())
            );
        }
    }

    #[test]
    fn kinds_round_trip_and_config_has_defaults() {
        for kind in [
            TokenKind::Ok,
            TokenKind::Decline,
            TokenKind::Timeout,
            TokenKind::Other,
            TokenKind::Invalid,
        ] {
            assert_eq!(TokenKind::parse(kind.as_str()), kind);
        }
        let config: PaymentConfig = serde_json::from_str(r#"{"latency":"250ms"}"#).unwrap();
        assert_eq!(config.latency, Duration::from_millis(250));
        assert_eq!(config.decline_rate, 0.0);
        assert!(serde_json::from_str::<PaymentConfig>(r#"{"rate":1}"#).is_err());
        let wild = Provider::new(&PaymentConfig {
            decline_rate: 7.0,
            ..PaymentConfig::default()
        });
        assert_eq!(wild.decline_rate, 1.0);
    }
}
