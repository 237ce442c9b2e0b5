//! The `/v1` HTTP API of inventory.
//!
//! | method | path | who | what |
//! | --- | --- | --- | --- |
//! | GET | `/v1/inventory/{product_id}` | anyone | available and reserved units |
//! | PUT | `/v1/inventory/{product_id}` | admin | stock take: set available (`{"available": N}`) |
//! | POST | `/v1/inventory/{product_id}/restock` | admin | add units (`{"quantity": N}`) |
//! | GET | `/v1/audit/stock` | admin, sre | every stock row with every figure |
//! | GET | `/v1/audit/reservations` | admin, sre | every reservation with its lines |

use axum::extract::State;
use ballast_kit::ApiResult;
use ballast_kit::auth::BearerAuth;
use ballast_kit::auth::{AdminUser, AuditorUser};
use ballast_kit::error::Problem;
use ballast_kit::extract::{Json, Path};
use ballast_kit::service::ServiceContext;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::InventoryError;
use crate::reservations::{self, Reservation};
use crate::stock::{self, StockRow};

/// A product's stock as the shop shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockView {
    /// Product id.
    pub product_id: String,
    /// Units free to order.
    pub available: i64,
    /// Units held by orders in progress.
    pub reserved: i64,
}

/// `POST /v1/inventory/{product_id}/restock`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockRequest {
    /// Units to add, 1 to 1,000,000.
    pub quantity: i64,
}

/// `PUT /v1/inventory/{product_id}`: a stock take.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStockRequest {
    /// Units available now, 0 to 1,000,000 (the difference is booked as a restock).
    pub available: i64,
}

/// Every stock row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockAudit {
    /// The rows, by product id.
    pub items: Vec<StockRow>,
}

/// Every reservation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReservationAudit {
    /// The reservations, oldest first, with their lines.
    pub items: Vec<Reservation>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Ballast inventory service", description = "Stock per product, reservations, restock."),
    modifiers(&BearerAuth),
    tags(
        (name = "inventory", description = "Stock levels and restock"),
        (name = "audit", description = "Read-only state for `ballast verify`")
    )
)]
struct ApiDoc;

/// The documented `/v1` router of one instance.
pub fn router(context: ServiceContext) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(get_stock, set_stock))
        .routes(routes!(restock))
        .routes(routes!(audit_stock))
        .routes(routes!(audit_reservations))
        .with_state(context)
}

/// A product's available and reserved units.
#[utoipa::path(
    get,
    path = "/v1/inventory/{product_id}",
    tag = "inventory",
    params(("product_id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "Stock", body = StockView),
        (status = 404, description = "No stock record", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(context))]
async fn get_stock(
    State(context): State<ServiceContext>,
    Path(product_id): Path<String>,
) -> ApiResult<Json<StockView>> {
    let mut conn = context.store.pool().acquire().await?;
    let row = stock::get(&mut conn, &product_id)
        .await?
        .ok_or(InventoryError::UnknownProduct(product_id))?;
    Ok(Json(StockView {
        product_id: row.product_id,
        available: row.available,
        reserved: row.reserved,
    }))
}

/// Adds units to a product's stock (restocked and available grow together).
#[utoipa::path(
    post,
    path = "/v1/inventory/{product_id}/restock",
    tag = "inventory",
    security(("bearer" = [])),
    params(("product_id" = String, Path, description = "Product id")),
    request_body = RestockRequest,
    responses(
        (status = 200, description = "The new figures", body = StockRow),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No stock record", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Quantity out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(context, admin, body), fields(admin = %admin.0.sub))]
async fn restock(
    State(context): State<ServiceContext>,
    admin: AdminUser,
    Path(product_id): Path<String>,
    Json(body): Json<RestockRequest>,
) -> ApiResult<Json<StockRow>> {
    let row = stock::restock(&context.store, &product_id, body.quantity).await?;
    tracing::info!(product_id, quantity = body.quantity, "restocked");
    Ok(Json(row))
}

/// Sets the units available after a stock take (admin); the difference is booked as a
/// restock, so `initial + restocked = available + reserved + sold` still holds.
#[utoipa::path(
    put,
    path = "/v1/inventory/{product_id}",
    tag = "inventory",
    security(("bearer" = [])),
    params(("product_id" = String, Path, description = "Product id")),
    request_body = SetStockRequest,
    responses(
        (status = 200, description = "The new figures", body = StockRow),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No stock record", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would remove initial stock", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(context, admin, body), fields(admin = %admin.0.sub))]
async fn set_stock(
    State(context): State<ServiceContext>,
    admin: AdminUser,
    Path(product_id): Path<String>,
    Json(body): Json<SetStockRequest>,
) -> ApiResult<Json<StockRow>> {
    let row = stock::set_available(&context.store, &product_id, body.available).await?;
    tracing::info!(product_id, available = body.available, "stock set");
    Ok(Json(row))
}

/// Every stock row with every figure, for `ballast verify`.
#[utoipa::path(
    get,
    path = "/v1/audit/stock",
    tag = "audit",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every stock row", body = StockAudit),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor sre", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn audit_stock(
    State(context): State<ServiceContext>,
    _auditor: AuditorUser,
) -> ApiResult<Json<StockAudit>> {
    Ok(Json(StockAudit {
        items: stock::all(&context.store).await?,
    }))
}

/// Every reservation with its lines, for `ballast verify`.
#[utoipa::path(
    get,
    path = "/v1/audit/reservations",
    tag = "audit",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every reservation", body = ReservationAudit),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor sre", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn audit_reservations(
    State(context): State<ServiceContext>,
    _auditor: AuditorUser,
) -> ApiResult<Json<ReservationAudit>> {
    Ok(Json(ReservationAudit {
        items: reservations::all(&context.store).await?,
    }))
}
