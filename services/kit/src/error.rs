//! One error type for every service boundary, rendered as RFC 9457 `application/problem+json`.
//!
//! Each variant documents its HTTP status. A 5xx logs its cause and answers a generic body, so
//! database errors and internal details never reach a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error a handler returns; it knows its HTTP status and problem title.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a field is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// 422: the body is well-formed JSON but a field fails validation.
    #[error("{field}: {reason}")]
    Invalid {
        /// The offending field, as the client wrote it.
        field: String,
        /// Why it was rejected.
        reason: String,
    },
    /// 401: no credentials, or credentials that do not verify.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the current state (duplicate, already done).
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the body is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: a rate limit was exceeded; retry after the given number of seconds.
    #[error("rate limit exceeded")]
    TooManyRequests {
        /// Whole seconds until a retry can succeed (at least 1).
        retry_after_secs: u64,
    },
    /// 502: an upstream answered in a way the gateway could not use.
    #[error("bad gateway: {0}")]
    BadGateway(String),
    /// 503: overloaded or no ready instance; retry after the given number of seconds.
    #[error("service unavailable: {reason}")]
    Unavailable {
        /// Why (logged, and safe to show: it names no internals).
        reason: String,
        /// Whole seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// 504: an upstream did not answer in time.
    #[error("gateway timeout: {0}")]
    GatewayTimeout(String),
    /// 500: anything else. The cause is logged, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The RFC 9457 problem document.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank` for plain HTTP semantics).
    #[serde(rename = "type")]
    pub kind: String,
    /// The status phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for a human.
    pub detail: String,
    /// The field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Builds a problem+json response for any status and detail.
pub fn problem_response(
    status: StatusCode,
    detail: impl Into<String>,
    field: Option<String>,
) -> Response {
    let body = Problem {
        kind: "about:blank".to_owned(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.into(),
        field,
    };
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                problem_response(status, "an internal error occurred", None)
            }
            Self::Invalid { field, reason } => {
                problem_response(status, format!("{field}: {reason}"), Some(field))
            }
            Self::TooManyRequests { retry_after_secs } => with_retry_after(
                problem_response(status, "rate limit exceeded", None),
                retry_after_secs,
            ),
            Self::Unavailable {
                reason,
                retry_after_secs,
            } => {
                tracing::warn!(reason, "service unavailable");
                with_retry_after(problem_response(status, reason, None), retry_after_secs)
            }
            other => {
                if status.is_server_error() {
                    tracing::error!(error = %other, "upstream error");
                }
                problem_response(status, other.to_string(), None)
            }
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error
            && db.is_unique_violation()
        {
            return Self::Conflict("a resource with the same unique key already exists".into());
        }
        if matches!(error, sqlx::Error::RowNotFound) {
            return Self::NotFound("not found".into());
        }
        Self::Internal(anyhow::Error::new(error).context("database"))
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util_shim::body_to_json;

    mod http_body_util_shim {
        pub async fn body_to_json(response: axum::response::Response) -> serde_json::Value {
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            serde_json::from_slice(&bytes).unwrap_or_default()
        }
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let response =
            ApiError::Internal(anyhow::anyhow!("password=hunter2 at db")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = body_to_json(response).await;
        assert_eq!(body["detail"], "an internal error occurred");
        assert!(!body.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn rate_limits_carry_retry_after() {
        let response = ApiError::TooManyRequests {
            retry_after_secs: 0,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[tokio::test]
    async fn validation_errors_name_the_field() {
        let response = ApiError::invalid("rating", "must be 1 to 5").into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = body_to_json(response).await;
        assert_eq!(body["field"], "rating");
        assert_eq!(body["status"], 422);
    }
}
