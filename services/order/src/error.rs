//! The order service's error type and the HTTP status each variant answers with.

use ballast_kit::ApiError;

/// Everything the order service's API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// 400: the request is malformed (a missing or bad `Idempotency-Key` header).
    #[error("{0}")]
    BadRequest(String),
    /// 422: a field fails validation, or a key is reused with a different body.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field as the client wrote it.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such order (or not the caller's).
    #[error("order not found")]
    NotFound,
    /// 409: the order's state does not allow this (cancel once shipped or finished).
    #[error("{0}")]
    Conflict(String),
    /// 500: the database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// 500: anything else.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl OrderError {
    /// A 422 for one field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::BadRequest(detail) => ApiError::BadRequest(detail),
            OrderError::Invalid { field, reason } => ApiError::invalid(field, reason),
            OrderError::Forbidden(detail) => ApiError::Forbidden(detail),
            OrderError::NotFound => ApiError::NotFound(error.to_string()),
            OrderError::Conflict(detail) => ApiError::Conflict(detail),
            OrderError::Database(_) => ApiError::Internal(anyhow::Error::new(error)),
            OrderError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn each_error_answers_its_status() {
        let status = |e: OrderError| ApiError::from(e).status();
        assert_eq!(
            status(OrderError::BadRequest("x".into())),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(OrderError::invalid("lines", "bad")),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status(OrderError::Forbidden("x".into())),
            StatusCode::FORBIDDEN
        );
        assert_eq!(status(OrderError::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            status(OrderError::Conflict("x".into())),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(OrderError::Database(sqlx::Error::PoolTimedOut)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
