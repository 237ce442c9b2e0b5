//! [`InventoryError`], the one error type of the inventory service, and its HTTP statuses.

use ballast_kit::ApiError;

/// What can go wrong in inventory.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// 404: no stock record for the product.
    #[error("no stock record for product {0}")]
    UnknownProduct(String),
    /// 422: a request field is invalid.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// 409: the change conflicts with the stock's figures.
    #[error("{0}")]
    Conflict(String),
    /// 500: stored stock contradicts a reservation (a bug; the transaction rolls back).
    #[error("inventory invariant broken: {0}")]
    Invariant(String),
    /// 500 (or 409/404 per the kit's mapping): the database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// 500: writing an event to the outbox failed.
    #[error(transparent)]
    Outbox(#[from] anyhow::Error),
}

impl From<InventoryError> for ApiError {
    fn from(error: InventoryError) -> Self {
        match error {
            InventoryError::UnknownProduct(id) => {
                ApiError::NotFound(format!("no stock record for product {id}"))
            }
            InventoryError::Invalid { field, reason } => ApiError::invalid(field, reason),
            InventoryError::Conflict(reason) => ApiError::Conflict(reason),
            InventoryError::Database(e) => ApiError::from(e),
            InventoryError::Invariant(_) | InventoryError::Outbox(_) => {
                ApiError::Internal(anyhow::Error::new(error))
            }
        }
    }
}
