//! The user service's error type: what its domain, queries and password hashing can fail with,
//! and the HTTP status each answers with.

use ballast_kit::ApiError;

/// Everything the user service can fail with.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// 422: a field fails validation.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field as the client wrote it.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// 409: another account already uses this email.
    #[error("a user with this email already exists")]
    EmailTaken,
    /// 401: unknown email or wrong password (one message for both: no user enumeration).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// 404: no user with this id.
    #[error("user not found")]
    NotFound,
    /// 500: hashing or verifying a password failed for a reason other than a mismatch.
    #[error("password hashing: {0}")]
    Hashing(String),
    /// 500: the database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// 500: issuing a token or another internal step failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl UserError {
    /// A 422 for one field.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::Invalid { field, reason } => ApiError::invalid(field, reason),
            UserError::EmailTaken => ApiError::Conflict(error.to_string()),
            UserError::InvalidCredentials => ApiError::Unauthorized(error.to_string()),
            UserError::NotFound => ApiError::NotFound(error.to_string()),
            UserError::Hashing(_) | UserError::Database(_) => {
                ApiError::Internal(anyhow::Error::new(error))
            }
            UserError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn each_error_answers_its_status_and_internals_stay_internal() {
        let status = |e: UserError| ApiError::from(e).status();
        assert_eq!(
            status(UserError::invalid("email", "bad")),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(status(UserError::EmailTaken), StatusCode::CONFLICT);
        assert_eq!(
            status(UserError::InvalidCredentials),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(status(UserError::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            status(UserError::Hashing("x".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(UserError::Database(sqlx::Error::PoolTimedOut)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
