//! [`ShippingError`], the one error type of the shipping service, and its HTTP statuses.

use ballast_kit::ApiError;

use crate::rates::Invalid;

/// What can go wrong in shipping.
#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    /// 404: no such shipment (or not the caller's).
    #[error("no such shipment")]
    NotFound,
    /// 422: a request field is invalid.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// 409: the shipment is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// 403: the caller's roles do not allow this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 500 (or the kit's 409/404 mapping): the database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// 500: writing an event to the outbox failed.
    #[error(transparent)]
    Outbox(#[from] anyhow::Error),
}

impl From<ShippingError> for ApiError {
    fn from(error: ShippingError) -> Self {
        match error {
            ShippingError::NotFound => ApiError::NotFound("no such shipment".into()),
            ShippingError::Invalid(invalid) => ApiError::invalid(invalid.field, invalid.reason),
            ShippingError::Conflict(reason) => ApiError::Conflict(reason),
            ShippingError::Forbidden(reason) => ApiError::Forbidden(reason.into()),
            ShippingError::Database(e) => ApiError::from(e),
            ShippingError::Outbox(e) => ApiError::Internal(e),
        }
    }
}
