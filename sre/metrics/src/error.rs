//! The crate's one error type at its library boundary.

/// Everything that can go wrong in the metrics layer.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// An exposition (Prometheus text or OpenMetrics) could not be parsed.
    #[error("exposition line {line}: {reason}")]
    Exposition {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// The query text is not valid PromQL, or a parameter is malformed (HTTP 400, `bad_data`).
    #[error("{0}")]
    BadData(String),
    /// The query parsed but evaluation failed (HTTP 422, `execution`).
    #[error("{0}")]
    Execution(String),
    /// The query uses a construct Ballast does not evaluate.
    #[error("unsupported PromQL construct: {0}")]
    Unsupported(String),
    /// A sample was older than the newest sample of its series.
    #[error("out of order sample")]
    OutOfOrder,
    /// A snapshot file is corrupt.
    #[error("snapshot {0}")]
    Snapshot(String),
    /// File I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A remote Prometheus could not be reached or answered garbage.
    #[error("remote: {0}")]
    Remote(String),
}

impl MetricsError {
    /// The Prometheus API `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::BadData(_) | Self::Unsupported(_) | Self::Exposition { .. } => "bad_data",
            Self::Execution(_) | Self::OutOfOrder => "execution",
            Self::Snapshot(_) | Self::Io(_) | Self::Remote(_) => "internal",
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
