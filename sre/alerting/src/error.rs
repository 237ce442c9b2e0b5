//! Errors of the alerting crate: configuration problems (file, line, reason) and the
//! dispatcher's boundary error.

use std::path::PathBuf;

/// A problem in a configuration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
    }
}

/// The alerting crate's error.
#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    /// The routing file or a template is invalid (every problem listed).
    #[error("invalid configuration:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Config(Vec<Problem>),
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    /// Stored JSON could not be read back.
    #[error("stored data: {0}")]
    Json(#[from] serde_json::Error),
    /// A template failed to render.
    #[error("template {name}: {reason}")]
    Template {
        /// Template name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A notification could not be delivered (after retries).
    #[error("{integration}: {reason}")]
    Notify {
        /// `slack`, `pagerduty`, `webhook`.
        integration: &'static str,
        /// Why.
        reason: String,
    },
    /// Input was invalid.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field.
        field: String,
        /// Why.
        reason: String,
    },
    /// Not found.
    #[error("{0} not found")]
    NotFound(String),
}
