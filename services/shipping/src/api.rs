//! The `/v1` HTTP API of shipping.
//!
//! | method | path | who | what |
//! | --- | --- | --- | --- |
//! | POST | `/v1/shipping/quote` | anyone | price and days for a weight and destination |
//! | GET | `/v1/shipments` | any user | the caller's shipments (`?order_id=` to find an order's) |
//! | GET | `/v1/shipments/{id}` | owner, admin | the shipment with its tracking history |
//! | POST | `/v1/shipments/{id}/returns` | owner | return a delivered shipment |
//! | GET | `/v1/audit/shipments` | admin, sre | every shipment |

use axum::extract::State;
use axum::http::StatusCode;
use ballast_kit::ApiResult;
use ballast_kit::auth::BearerAuth;
use ballast_kit::auth::{AuditorUser, AuthUser, Role};
use ballast_kit::error::{ApiError, Problem};
use ballast_kit::extract::{Json, Path, Query};
use ballast_kit::service::ServiceContext;
use ballast_kit::store::now_millis;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ShippingError;
use crate::lifecycle;
use crate::rates::{self, Country};
use crate::store::{self, Shipment, ShipmentReturn, TrackingEvent};

/// Where a parcel would go.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Postal code.
    pub postal_code: String,
}

/// `POST /v1/shipping/quote`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    /// Parcel weight, 1 to 70000 grams.
    pub weight_grams: i64,
    /// Destination.
    pub destination: Destination,
}

/// A shipping price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    /// Price, minor units.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// `standard`.
    pub service_level: String,
    /// Days to deliver.
    pub estimated_days: i64,
    /// `domestic`, `near` or `far`.
    pub zone: String,
}

/// A shipment with its tracking history and return, if any.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShipmentDetail {
    /// The shipment.
    #[serde(flatten)]
    pub shipment: Shipment,
    /// Every status it reached, oldest first.
    pub history: Vec<TrackingEvent>,
    /// Its return, once requested.
    #[serde(rename = "return")]
    pub return_: Option<ShipmentReturn>,
}

/// `POST /v1/shipments/{id}/returns`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    /// Why it goes back (up to 500 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// `?order_id=`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ShipmentQuery {
    /// Only the shipment of this order.
    pub order_id: Option<String>,
}

/// The caller's shipments.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShipmentList {
    /// Newest first, at most 100.
    pub items: Vec<Shipment>,
}

/// Every shipment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShipmentAudit {
    /// How many.
    pub total: i64,
    /// The shipments, oldest first.
    pub items: Vec<Shipment>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Ballast shipping service", description = "Quotes, shipments, tracking and returns."),
    modifiers(&BearerAuth),
    tags(
        (name = "shipping", description = "Quotes, shipments and returns"),
        (name = "audit", description = "Read-only state for `ballast verify`")
    )
)]
struct ApiDoc;

/// The documented `/v1` router of one instance.
pub fn router(context: ServiceContext) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(quote))
        .routes(routes!(list_shipments))
        .routes(routes!(get_shipment))
        .routes(routes!(create_return))
        .routes(routes!(audit_shipments))
        .with_state(context)
}

/// Checks a quote request and prices it.
pub fn price(request: &QuoteRequest) -> Result<Quote, rates::Invalid> {
    let weight = rates::weight(request.weight_grams)?;
    let country = Country::parse(&request.destination.country)?;
    rates::postal_code(&request.destination.postal_code)?;
    let rate = rates::quote(weight, &country);
    Ok(Quote {
        amount_minor: rate.amount_minor,
        currency: rates::CURRENCY.to_owned(),
        service_level: rate.service_level.to_owned(),
        estimated_days: rate.estimated_days,
        zone: match rate.zone {
            rates::Zone::Domestic => "domestic",
            rates::Zone::Near => "near",
            rates::Zone::Far => "far",
        }
        .to_owned(),
    })
}

/// Prices a parcel by weight band and destination zone.
#[utoipa::path(
    post,
    path = "/v1/shipping/quote",
    tag = "shipping",
    request_body = QuoteRequest,
    responses(
        (status = 200, description = "The price", body = Quote),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(weight_grams = request.weight_grams))]
async fn quote(Json(request): Json<QuoteRequest>) -> ApiResult<Json<Quote>> {
    Ok(Json(price(&request).map_err(ShippingError::from)?))
}

/// The caller's shipments, newest first; admins see everyone's. `order_id` finds an order's.
#[utoipa::path(
    get,
    path = "/v1/shipments",
    tag = "shipping",
    params(ShipmentQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Shipments", body = ShipmentList),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(context, user, query), fields(user = user.id()))]
async fn list_shipments(
    State(context): State<ServiceContext>,
    user: AuthUser,
    Query(query): Query<ShipmentQuery>,
) -> ApiResult<Json<ShipmentList>> {
    let owner = (!user.has(Role::Admin)).then(|| user.id());
    let items = store::list(&context.store, owner, query.order_id.as_deref())
        .await
        .map_err(ShippingError::from)?;
    Ok(Json(ShipmentList { items }))
}

/// A shipment with its tracking history (its owner or an admin).
#[utoipa::path(
    get,
    path = "/v1/shipments/{id}",
    tag = "shipping",
    params(("id" = String, Path, description = "Shipment id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The shipment", body = ShipmentDetail),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shipment of the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(context, user), fields(user = user.id()))]
async fn get_shipment(
    State(context): State<ServiceContext>,
    Path(id): Path<String>,
    user: AuthUser,
) -> ApiResult<Json<ShipmentDetail>> {
    let mut conn = context.store.pool().acquire().await?;
    let shipment = store::shipment(&mut conn, &id)
        .await?
        .filter(|s| s.user_id == user.id() || user.has(Role::Admin))
        .ok_or(ShippingError::NotFound)?;
    let history = store::history(&mut conn, &id).await?;
    let return_ = store::return_of(&mut conn, &id).await?;
    Ok(Json(ShipmentDetail {
        shipment,
        history,
        return_,
    }))
}

/// Returns a delivered shipment (its owner only).
#[utoipa::path(
    post,
    path = "/v1/shipments/{id}/returns",
    tag = "shipping",
    params(("id" = String, Path, description = "Shipment id")),
    request_body = ReturnRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Return recorded; the shipment is now `returned`", body = ShipmentReturn),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shipment of the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not delivered, or already returned", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The reason is too long", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(context, user, request), fields(user = user.id()))]
async fn create_return(
    State(context): State<ServiceContext>,
    Path(id): Path<String>,
    user: AuthUser,
    Json(request): Json<ReturnRequest>,
) -> ApiResult<(StatusCode, Json<ShipmentReturn>)> {
    let reason = request.reason.unwrap_or_default().trim().to_owned();
    if reason.chars().count() > 500 {
        return Err(ApiError::invalid(
            "reason",
            "must be at most 500 characters",
        ));
    }
    let record =
        lifecycle::request_return(&context.store, &id, user.id(), &reason, now_millis()).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Every shipment (admin or sre), for `ballast verify`.
#[utoipa::path(
    get,
    path = "/v1/audit/shipments",
    tag = "audit",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every shipment", body = ShipmentAudit),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor sre", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
async fn audit_shipments(
    State(context): State<ServiceContext>,
    _auditor: AuditorUser,
) -> ApiResult<Json<ShipmentAudit>> {
    let items = store::all(&context.store).await?;
    Ok(Json(ShipmentAudit {
        total: i64::try_from(items.len()).unwrap_or(i64::MAX),
        items,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(weight_grams: i64, country: &str, postal_code: &str) -> QuoteRequest {
        QuoteRequest {
            weight_grams,
            destination: Destination {
                country: country.into(),
                postal_code: postal_code.into(),
            },
        }
    }

    #[test]
    fn quotes_are_priced_and_checked() {
        let quote = price(&request(1_200, "ca", "H2X 1Y4")).unwrap();
        assert_eq!(
            quote,
            Quote {
                amount_minor: 1_799,
                currency: "USD".into(),
                service_level: "standard".into(),
                estimated_days: 6,
                zone: "near".into(),
            }
        );
        assert_eq!(
            price(&request(0, "US", "94103")).unwrap_err().field,
            "weight_grams"
        );
        assert_eq!(
            price(&request(10, "USA", "94103")).unwrap_err().field,
            "destination.country"
        );
        assert_eq!(
            price(&request(10, "US", "")).unwrap_err().field,
            "destination.postal_code"
        );
    }
}
