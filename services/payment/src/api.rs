//! The `/v1` HTTP API of payment.
//!
//! | method | path | who | what |
//! | --- | --- | --- | --- |
//! | GET | `/v1/payments/{order_id}` | the buyer, admin | the order's charge with its refunds |
//! | POST | `/v1/payments/{order_id}/refunds` | admin | refund part of a captured charge |
//! | GET | `/v1/audit/charges` | admin, sre | every charge with its refunded total |

use axum::extract::State;
use axum::http::StatusCode;
use ballast_kit::ApiResult;
use ballast_kit::auth::BearerAuth;
use ballast_kit::auth::{AdminUser, AuditorUser, AuthUser, Role};
use ballast_kit::error::{ApiError, Problem};
use ballast_kit::extract::{Json, Path};
use ballast_kit::service::ServiceContext;
use ballast_kit::store::now_millis;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::charges::{self, Charge, Refund, RefundOutcome};
use crate::error::PaymentError;

/// A charge with its refunds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChargeView {
    /// The charge.
    #[serde(flatten)]
    pub charge: Charge,
    /// What could still be refunded, minor units.
    pub refundable_minor: i64,
    /// Its refunds, oldest first.
    pub refunds: Vec<Refund>,
}

/// `POST /v1/payments/{order_id}/refunds`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Amount to refund, minor units (at least 1, at most what is left).
    pub amount_minor: i64,
    /// Why, 1 to 200 characters.
    pub reason: String,
}

/// A refund made, and the charge after it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefundCreated {
    /// The refund.
    pub refund: Refund,
    /// The charge with every refund.
    pub charge: ChargeView,
}

/// Every charge.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChargeAudit {
    /// The charges, oldest first.
    pub items: Vec<Charge>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Ballast payment service", description = "Charges, refunds, and a built-in payment provider."),
    modifiers(&BearerAuth),
    tags(
        (name = "payments", description = "Charges and refunds"),
        (name = "audit", description = "Read-only state for `ballast verify`")
    )
)]
struct ApiDoc;

/// The documented `/v1` router of one instance.
pub fn router(context: ServiceContext) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(get_payment))
        .routes(routes!(create_refund))
        .routes(routes!(audit_charges))
        .with_state(context)
}

async fn view(conn: &mut sqlx::AnyConnection, charge: Charge) -> Result<ChargeView, PaymentError> {
    let refunds = charges::refunds_of(conn, &charge.id).await?;
    let refundable_minor = if charge.status == "captured" {
        charge.amount_minor - charge.refunded_minor
    } else {
        0
    };
    Ok(ChargeView {
        charge,
        refundable_minor,
        refunds,
    })
}

/// The charge of an order with its refunds (the buyer's own, or any for an admin).
#[utoipa::path(
    get,
    path = "/v1/payments/{order_id}",
    tag = "payments",
    security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The charge", body = ChargeView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No charge of the caller's for this order", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(context, user), fields(user = %user.id()))]
async fn get_payment(
    State(context): State<ServiceContext>,
    user: AuthUser,
    Path(order_id): Path<String>,
) -> ApiResult<Json<ChargeView>> {
    let mut conn = context.store.pool().acquire().await?;
    let charge = charges::by_order(&mut conn, &order_id)
        .await?
        .filter(|c| c.user_id == user.id() || user.has(Role::Admin))
        .ok_or_else(|| PaymentError::NotFound(order_id.clone()))?;
    Ok(Json(view(&mut conn, charge).await?))
}

/// Refunds part of a captured charge (admin); 409 when the charge is not captured or less
/// than asked is left.
#[utoipa::path(
    post,
    path = "/v1/payments/{order_id}/refunds",
    tag = "payments",
    security(("bearer" = [])),
    params(("order_id" = String, Path, description = "Order id")),
    request_body = RefundRequest,
    responses(
        (status = 201, description = "Refunded", body = RefundCreated),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No charge for this order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not captured, or less left than asked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid amount or reason", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(context, admin, body), fields(admin = %admin.0.sub))]
async fn create_refund(
    State(context): State<ServiceContext>,
    admin: AdminUser,
    Path(order_id): Path<String>,
    Json(body): Json<RefundRequest>,
) -> ApiResult<(StatusCode, Json<RefundCreated>)> {
    if body.amount_minor < 1 {
        return Err(ApiError::invalid("amount_minor", "must be at least 1"));
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::invalid("reason", "must be 1 to 200 characters"));
    }
    let now = now_millis();
    let mut tx = charges::begin_write(&context.store).await?;
    let charge = charges::by_order(&mut tx, &order_id)
        .await?
        .ok_or_else(|| PaymentError::NotFound(order_id.clone()))?;
    if charge.status != "captured" {
        return Err(ApiError::Conflict(format!(
            "the charge is {}, not captured",
            charge.status
        )));
    }
    let refund =
        match charges::refund_captured(&mut tx, &charge, Some(body.amount_minor), reason, now)
            .await?
        {
            RefundOutcome::Refunded(refund) => refund,
            RefundOutcome::NothingLeft => {
                return Err(ApiError::Conflict("the charge is fully refunded".into()));
            }
            RefundOutcome::TooMuch { remaining } => {
                return Err(ApiError::Conflict(format!(
                    "only {remaining} minor units are left to refund"
                )));
            }
        };
    ballast_kit::events::outbox::enqueue(
        &mut tx,
        &ballast_kit::events::Event::of(
            &order_id,
            &crate::commands::refunded(&charge, &refund.id, refund.amount_minor),
        )
        .map_err(ApiError::Internal)?,
    )
    .await
    .map_err(ApiError::Internal)?;
    let charge = charges::by_order(&mut tx, &order_id)
        .await?
        .ok_or_else(|| PaymentError::NotFound(order_id.clone()))?;
    let charge = view(&mut tx, charge).await?;
    tx.commit().await?;
    tracing::info!(order_id, amount_minor = refund.amount_minor, "admin refund");
    Ok((StatusCode::CREATED, Json(RefundCreated { refund, charge })))
}

/// Every charge with its refunded total, for `ballast verify`.
#[utoipa::path(
    get,
    path = "/v1/audit/charges",
    tag = "audit",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every charge", body = ChargeAudit),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor sre", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn audit_charges(
    State(context): State<ServiceContext>,
    _auditor: AuditorUser,
) -> ApiResult<Json<ChargeAudit>> {
    Ok(Json(ChargeAudit {
        items: charges::all(&context.store).await?,
    }))
}
