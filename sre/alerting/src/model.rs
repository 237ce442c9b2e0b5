//! The alert model (as Prometheus posts it to Alertmanager's `/api/v2/alerts`), label
//! matchers, and fingerprints.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A set of labels, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

/// One alert as Prometheus sends it (Alertmanager API v2 `postableAlert`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Identifying labels (`alertname`, `severity`, ...).
    pub labels: LabelSet,
    /// Descriptive annotations (`summary`, `runbook_url`, ...).
    #[serde(default)]
    pub annotations: LabelSet,
    /// When it started firing; the receive time when absent.
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// When it resolved (or will resolve unless refreshed); absent means still firing.
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// Link to the expression that produced it.
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
}

impl Alert {
    /// A firing alert with these labels, starting at `starts_at`.
    pub fn firing(labels: &[(&str, &str)], starts_at: DateTime<Utc>) -> Self {
        Alert {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            annotations: LabelSet::new(),
            starts_at: Some(starts_at),
            ends_at: None,
            generator_url: String::new(),
        }
    }

    /// The fingerprint of its labels.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.labels)
    }
}

/// A stable identifier for a label set (hex of SHA-256 over the sorted pairs, 16 digits).
pub fn fingerprint(labels: &LabelSet) -> String {
    let mut hasher = Sha256::new();
    for (k, v) in labels {
        hasher.update(k.as_bytes());
        hasher.update([0xff]);
        hasher.update(v.as_bytes());
        hasher.update([0xff]);
    }
    hex::encode(&hasher.finalize()[..8])
}

/// An alert as the dispatcher holds it: times resolved to Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    /// Fingerprint of the labels.
    pub fingerprint: String,
    /// Labels.
    pub labels: LabelSet,
    /// Annotations.
    pub annotations: LabelSet,
    /// Start, Unix ms.
    pub starts_at: i64,
    /// End, Unix ms (firing while in the future).
    pub ends_at: i64,
    /// Whether `ends_at` was given by the sender (rather than `now + resolve_timeout`).
    pub ends_at_explicit: bool,
    /// Link to the producing expression.
    pub generator_url: String,
    /// Last time it was received, Unix ms.
    pub updated_at: i64,
}

impl StoredAlert {
    /// Whether it has resolved at `now`.
    pub fn resolved_at(&self, now: i64) -> bool {
        self.ends_at <= now
    }
}

/// How a matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (anchored)
    Regex,
    /// `!~` (anchored)
    NotRegex,
}

/// A label matcher, `name="value"`, `name=~"re"`, `name!="value"`, `name!~"re"`.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Comparison.
    pub op: MatchOp,
    /// Value or pattern.
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Matcher {
    /// Builds a matcher; regexes are anchored as Alertmanager does.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, String> {
        let name = name.trim();
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(format!("invalid label name `{name}`"));
        }
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("invalid regex `{value}`: {e}"))?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_owned(),
            op,
            value: value.to_owned(),
            regex,
        })
    }

    /// Parses `a="b"`, `a=~"re"`, `a!="b"`, `a!~"re"` (quotes optional).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (pos, op, len) = ["=~", "!~", "!=", "="]
            .iter()
            .filter_map(|op| text.find(op).map(|p| (p, *op)))
            .min_by_key(|(p, op)| (*p, std::cmp::Reverse(op.len())))
            .map(|(p, op)| {
                let m = match op {
                    "=~" => MatchOp::Regex,
                    "!~" => MatchOp::NotRegex,
                    "!=" => MatchOp::NotEqual,
                    _ => MatchOp::Equal,
                };
                (p, m, op.len())
            })
            .ok_or_else(|| format!("matcher `{text}` has no operator (=, !=, =~, !~)"))?;
        let name = &text[..pos];
        let raw = text[pos + len..].trim();
        let value = if raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"') {
            raw[1..raw.len() - 1]
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
        } else if raw.starts_with('"') {
            return Err(format!("matcher `{text}` has an unterminated quote"));
        } else {
            raw.to_owned()
        };
        Matcher::new(name, op, &value)
    }

    /// Whether `labels` satisfy it (a missing label is the empty string).
    pub fn matches(&self, labels: &LabelSet) -> bool {
        let v = labels.get(&self.name).map(String::as_str).unwrap_or("");
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::NotRegex => !self.regex.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        };
        write!(f, "{}{op}{:?}", self.name, self.value)
    }
}

/// Whether every matcher matches.
pub fn all_match(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// Formats a label set as `{a="b", c="d"}`.
pub fn format_labels(labels: &LabelSet) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn matchers_parse_and_match() {
        let l = labels(&[("tier", "page"), ("slo", "order-availability")]);
        assert!(Matcher::parse(r#"tier="page""#).unwrap().matches(&l));
        assert!(Matcher::parse(r#"slo=~"order-.*""#).unwrap().matches(&l));
        assert!(!Matcher::parse(r#"slo=~"order""#).unwrap().matches(&l));
        assert!(Matcher::parse(r#"tier!="ticket""#).unwrap().matches(&l));
        assert!(Matcher::parse("missing!~x").unwrap().matches(&l));
        assert!(Matcher::parse("missing=").unwrap().matches(&l));
        assert!(Matcher::parse("=x").is_err());
        assert!(Matcher::parse("a=~\"(\"").is_err());
        assert_eq!(Matcher::parse(r#"a="b""#).unwrap().to_string(), r#"a="b""#);
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        let a = labels(&[("a", "1")]);
        let b = labels(&[("a", "2")]);
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 16);
    }

    #[test]
    fn alert_json_is_alertmanagers() {
        let json = r#"[{"labels":{"alertname":"X"},"annotations":{"summary":"s"},
            "startsAt":"2026-01-01T00:00:00Z","generatorURL":"http://p/graph"}]"#;
        let alerts: Vec<Alert> = serde_json::from_str(json).unwrap();
        assert_eq!(alerts[0].generator_url, "http://p/graph");
        assert!(alerts[0].ends_at.is_none());
    }
}
