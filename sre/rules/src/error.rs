//! The crate's one error type at its library boundary.

use crate::problem::Problem;

/// Everything that can go wrong evaluating rules or reading rule test files.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A rule's query failed.
    #[error("{0}")]
    Query(#[from] ballast_metrics::MetricsError),
    /// A rule's expression returned a range vector or a string.
    #[error("rule result is not a vector or scalar")]
    NotAVector,
    /// Two samples of a recording rule got the same labels.
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateRecordLabelset,
    /// Two samples of an alerting rule got the same labels.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlertLabelset,
    /// A rule produced more series or alerts than the group's `limit`.
    #[error("exceeded limit of {limit} with {got} {what}")]
    Limit {
        /// The group's limit.
        limit: usize,
        /// What the rule produced.
        got: usize,
        /// `series` or `alerts`.
        what: &'static str,
    },
    /// A rule or test file has problems.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Problems(Vec<Problem>),
}

/// Result alias for this crate.
pub type Result<T, E = RulesError> = std::result::Result<T, E>;
