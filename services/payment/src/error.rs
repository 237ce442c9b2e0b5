//! [`PaymentError`], the one error type of the payment service, and its HTTP statuses.

use ballast_kit::ApiError;

/// What can go wrong in payment.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// 404: no charge for the order (or not the caller's).
    #[error("no charge for order {0}")]
    NotFound(String),
    /// 409: the request conflicts with the charge's state (nothing left to refund, ...).
    #[error("{0}")]
    Conflict(String),
    /// 422: a request field is invalid.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// 500: the charge changed under a compare-and-set; the caller retries.
    #[error("charge {0} changed concurrently")]
    Contended(String),
    /// 500 (or the kit's 409/404 mapping): the database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// 500: writing an event to the outbox failed.
    #[error(transparent)]
    Outbox(#[from] anyhow::Error),
}

impl From<PaymentError> for ApiError {
    fn from(error: PaymentError) -> Self {
        match error {
            PaymentError::NotFound(order) => {
                ApiError::NotFound(format!("no charge for order {order}"))
            }
            PaymentError::Conflict(reason) => ApiError::Conflict(reason),
            PaymentError::Invalid { field, reason } => ApiError::invalid(field, reason),
            PaymentError::Database(e) => ApiError::from(e),
            PaymentError::Contended(_) | PaymentError::Outbox(_) => {
                ApiError::Internal(anyhow::Error::new(error))
            }
        }
    }
}
