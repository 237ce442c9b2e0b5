//! [`NotificationError`], the one error type of the notification API, and its HTTP statuses.

use ballast_kit::ApiError;

/// What can go wrong answering a request.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    /// 422: a query parameter is out of range.
    #[error("{field}: {reason}")]
    Invalid {
        /// The parameter.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// 403: the caller's roles do not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 500: the database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<NotificationError> for ApiError {
    fn from(error: NotificationError) -> Self {
        match error {
            NotificationError::Invalid { field, reason } => ApiError::invalid(field, reason),
            NotificationError::Forbidden(reason) => ApiError::Forbidden(reason.into()),
            NotificationError::Database(e) => ApiError::from(e),
        }
    }
}
