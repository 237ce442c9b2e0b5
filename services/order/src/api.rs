//! The `/v1` HTTP API: request and response bodies, handlers, and the documented router.
//!
//! | method | path | who | what |
//! | --- | --- | --- | --- |
//! | POST | `/v1/orders` | a user | place an order (`Idempotency-Key` header required) |
//! | GET | `/v1/orders` | a user | one's own orders, newest first, paged |
//! | GET | `/v1/orders/{id}` | the owner or an admin | one order |
//! | POST | `/v1/orders/{id}/cancel` | the owner | cancel before the shipment is in transit |
//! | GET | `/v1/audit/orders` | admin or sre | every order with its saga, for `ballast verify` |

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ballast_kit::ApiResult;
use ballast_kit::auth::BearerAuth;
use ballast_kit::auth::{AuditorUser, AuthUser, Role};
use ballast_kit::error::Problem;
use ballast_kit::events::catalog::Address;
use ballast_kit::events::outbox;
use ballast_kit::extract::{Json, Path, Query};
use ballast_kit::service::ServiceContext;
use ballast_kit::store::{millis_to_rfc3339, now_millis};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::OrderConfig;
use crate::domain::{IdempotencyKey, LineInput, OrderRequest};
use crate::error::OrderError;
use crate::metrics::OrderMetrics;
use crate::saga::{self, CancelRefusal, Input, Status};
use crate::store::{self, Order, OrderLine};
use crate::transition::{self, Outcome};

/// The header that makes order creation idempotent.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The default page size of `GET /v1/orders`.
pub const DEFAULT_PER_PAGE: i64 = 20;
/// The largest page size of `GET /v1/orders`.
pub const MAX_PER_PAGE: i64 = 100;
/// The largest page of `GET /v1/audit/orders`.
pub const MAX_AUDIT_LIMIT: i64 = 10_000;

/// What the handlers share.
#[derive(Clone)]
struct AppState {
    context: ServiceContext,
    config: OrderConfig,
    metrics: OrderMetrics,
}

/// An amount of money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Money {
    /// Minor units (cents).
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
}

/// One requested line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    /// Product id.
    pub product_id: String,
    /// Units, 1 to 100.
    pub quantity: i64,
}

/// `POST /v1/orders`: what to buy, how to pay, where to ship.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// 1 to 50 lines, each product once.
    pub lines: Vec<LineRequest>,
    /// The card token (`tok_ok`, `tok_decline`, `tok_timeout` with the built-in provider).
    pub card_token: String,
    /// Where to ship.
    pub shipping_address: Address,
}

/// One order line as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderLineView {
    /// Product id.
    pub product_id: String,
    /// Product name when ordered.
    pub name: String,
    /// Units.
    pub quantity: i64,
    /// Unit price when ordered.
    pub unit_price: Money,
}

/// An order as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    /// Order id (uuid v7).
    pub id: String,
    /// `pending`, `confirmed`, `shipped`, `delivered`, `cancelling`, `failed`, `cancelled`.
    pub status: String,
    /// Why it failed or was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Total price.
    pub total: Money,
    /// Lines.
    pub lines: Vec<OrderLineView>,
    /// Where it ships.
    pub shipping_address: Address,
    /// Total shipping weight.
    pub weight_grams: i64,
    /// When it was placed (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

impl From<Order> for OrderView {
    fn from(order: Order) -> Self {
        let currency = order.currency.clone();
        Self {
            id: order.id,
            status: order.status.as_str().to_owned(),
            reason: order.reason,
            total: Money {
                amount_minor: order.total_minor,
                currency: order.currency,
            },
            lines: order
                .lines
                .into_iter()
                .map(|l| OrderLineView {
                    product_id: l.product_id,
                    name: l.name,
                    quantity: l.quantity,
                    unit_price: Money {
                        amount_minor: l.unit_price_minor,
                        currency: currency.clone(),
                    },
                })
                .collect(),
            shipping_address: order.shipping_address,
            weight_grams: order.weight_grams,
            created_at: millis_to_rfc3339(order.created_at),
            updated_at: millis_to_rfc3339(order.updated_at),
        }
    }
}

/// Paging of `GET /v1/orders`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<i64>,
    /// Page size, 1 to 100 (default 20).
    pub per_page: Option<i64>,
}

/// One page of orders.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderPage {
    /// The orders on this page, newest first.
    pub items: Vec<OrderView>,
    /// How many orders the user has.
    pub total: i64,
    /// This page's number.
    pub page: i64,
    /// The page size.
    pub per_page: i64,
}

/// Paging of `GET /v1/audit/orders` (by order id).
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only orders with an id greater than this (the previous page's `next_after`).
    pub after: Option<String>,
    /// At most this many orders, 1 to 10000 (default 10000).
    pub limit: Option<i64>,
}

/// What the saga knows happened to one order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditFlags {
    /// Inventory held the stock.
    pub reserved: bool,
    /// Inventory said it holds nothing (rejected or expired).
    pub nothing_held: bool,
    /// A charge was asked for.
    pub charge_requested: bool,
    /// Payment captured.
    pub captured: bool,
    /// Payment declined.
    pub declined: bool,
    /// Inventory sold the stock.
    pub committed: bool,
    /// A release was asked for.
    pub release_requested: bool,
    /// Inventory released the stock.
    pub released: bool,
    /// A refund (or void) was asked for.
    pub refund_requested: bool,
    /// Payment refunded (or voided).
    pub refunded: bool,
}

/// One order and its saga, for `ballast verify`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditOrder {
    /// Order id.
    pub id: String,
    /// Buyer.
    pub user_id: String,
    /// Order status.
    pub status: String,
    /// Whether the status is an outcome (`confirmed` or later, `failed`, `cancelled`).
    pub terminal: bool,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// The idempotency key it was created with.
    pub idempotency_key: String,
    /// The saga step (`reserving`, `charging`, `committing`, `compensating`, `cancelling`, `done`).
    pub step: String,
    /// The saga's deadline (unix ms); for a compensation, when it re-sends its commands.
    pub deadline_at_ms: i64,
    /// The same, RFC 3339.
    pub deadline_at: String,
    /// Total price.
    pub total: Money,
    /// What payment captured, minor units.
    pub captured_minor: i64,
    /// The shipment's last status.
    pub shipment_status: Option<String>,
    /// What happened.
    pub flags: AuditFlags,
    /// When it was placed (unix ms).
    pub created_at_ms: i64,
    /// When it last changed (unix ms).
    pub updated_at_ms: i64,
}

/// A page of the audit listing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// Orders by id.
    pub orders: Vec<AuditOrder>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
    /// When this was read (unix ms), to compare deadlines with.
    pub now_ms: i64,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Ballast order service", description = "Orders and the order saga."),
    modifiers(&BearerAuth),
    tags(
        (name = "orders", description = "Placing, reading and cancelling orders"),
        (name = "audit", description = "Read-only views for `ballast verify`")
    )
)]
struct ApiDoc;

/// The documented `/v1` router of one instance.
pub fn router(context: ServiceContext, config: OrderConfig) -> OpenApiRouter {
    let metrics = OrderMetrics::for_instance(&context);
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(create_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(cancel_order))
        .routes(routes!(audit_orders))
        .with_state(AppState {
            context,
            config,
            metrics,
        })
}

/// Places an order and starts its saga; the same key (and body) returns the same order.
#[utoipa::path(
    post,
    path = "/v1/orders",
    tag = "orders",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "1 to 128 characters; the same key returns the same order")),
    request_body = CreateOrder,
    responses(
        (status = 202, description = "Accepted; the saga runs", body = OrderView),
        (status = 200, description = "The order this key already placed", body = OrderView),
        (status = 400, description = "Missing or bad Idempotency-Key, or malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, unknown product, or the key reused with another body", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id()))]
async fn create_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<CreateOrder>,
) -> ApiResult<Response> {
    let key = match headers.get(IDEMPOTENCY_KEY) {
        None => IdempotencyKey::parse(None)?,
        Some(value) => IdempotencyKey::parse(Some(value.to_str().map_err(|_| {
            OrderError::BadRequest("the Idempotency-Key header must be visible ASCII".into())
        })?))?,
    };
    let lines: Vec<LineInput<'_>> = body
        .lines
        .iter()
        .map(|l| LineInput {
            product_id: &l.product_id,
            quantity: l.quantity,
        })
        .collect();
    let request = OrderRequest::parse(&lines, &body.card_token, &body.shipping_address)?;
    let hash = request.hash();
    if let Some(existing) = replay(&state, user.id(), &key, &hash).await? {
        return Ok((StatusCode::OK, Json(OrderView::from(existing))).into_response());
    }
    let order = price(&state, user.id(), &key, &request).await?;
    let now = order.created_at;
    let (saga, commands) = saga::start(now, state.config.saga_timeout_ms());
    let events = transition::events_for(
        &order,
        &saga,
        &commands,
        state.config.reservation_margin_ms(),
    )?;
    let mut tx = state
        .context
        .store
        .pool()
        .begin()
        .await
        .map_err(OrderError::from)?;
    if let Err(error) = store::insert_order(&mut tx, &order, &hash, &saga).await {
        let _ = tx.rollback().await;
        let duplicate = matches!(
            error.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::Database(db)) if db.is_unique_violation()
        );
        if duplicate {
            // The same key placed concurrently: answer with the order that won.
            if let Some(existing) = replay(&state, user.id(), &key, &hash).await? {
                return Ok((StatusCode::OK, Json(OrderView::from(existing))).into_response());
            }
        }
        return Err(OrderError::Internal(error).into());
    }
    for event in &events {
        outbox::enqueue(&mut tx, event)
            .await
            .map_err(OrderError::Internal)?;
    }
    tx.commit().await.map_err(OrderError::from)?;
    state.metrics.reached(Status::Pending);
    tracing::info!(
        order_id = order.id,
        total_minor = order.total_minor,
        "order placed"
    );
    let location = format!("/v1/orders/{}", order.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(OrderView::from(order)),
    )
        .into_response())
}

/// The order an earlier request with this key placed; a 422 when its body differed.
async fn replay(
    state: &AppState,
    user_id: &str,
    key: &IdempotencyKey,
    hash: &str,
) -> Result<Option<Order>, OrderError> {
    let Some((order_id, stored_hash)) =
        store::find_idempotency_key(&state.context.store, user_id, key.as_str()).await?
    else {
        return Ok(None);
    };
    if stored_hash != hash {
        return Err(OrderError::invalid(
            "Idempotency-Key",
            "this key was already used with a different request body",
        ));
    }
    let mut conn = state
        .context
        .store
        .pool()
        .acquire()
        .await
        .map_err(OrderError::from)?;
    let order = store::order(&mut conn, &order_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("idempotency key points at missing order {order_id}"))?;
    Ok(Some(order))
}

/// A new pending order priced from the catalog copy.
async fn price(
    state: &AppState,
    user_id: &str,
    key: &IdempotencyKey,
    request: &OrderRequest,
) -> Result<Order, OrderError> {
    let ids: Vec<&str> = request
        .lines
        .iter()
        .map(|l| l.product_id.as_str())
        .collect();
    let products = store::products(&state.context.store, &ids).await?;
    let mut lines = Vec::with_capacity(request.lines.len());
    let mut currency: Option<String> = None;
    let (mut total, mut weight) = (0i64, 0i64);
    for (i, line) in request.lines.iter().enumerate() {
        let field = || format!("lines[{i}].product_id");
        let product = products
            .iter()
            .find(|p| p.product_id == line.product_id && p.active)
            .ok_or_else(|| OrderError::invalid(field(), "unknown or discontinued product"))?;
        match &currency {
            None => currency = Some(product.currency.clone()),
            Some(c) if *c != product.currency => {
                return Err(OrderError::invalid(
                    field(),
                    "all products of an order must have the same currency",
                ));
            }
            Some(_) => {}
        }
        let overflow = || OrderError::invalid("lines", "the total is too large");
        total = product
            .price_minor
            .checked_mul(line.quantity)
            .and_then(|t| t.checked_add(total))
            .ok_or_else(overflow)?;
        weight = product
            .weight_grams
            .checked_mul(line.quantity)
            .and_then(|w| w.checked_add(weight))
            .ok_or_else(overflow)?;
        lines.push(OrderLine {
            product_id: product.product_id.clone(),
            name: product.name.clone(),
            quantity: line.quantity,
            unit_price_minor: product.price_minor,
            weight_grams: product.weight_grams,
        });
    }
    let now = now_millis();
    Ok(Order {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user_id.to_owned(),
        status: Status::Pending,
        total_minor: total,
        currency: currency.unwrap_or_default(),
        card_token: request.card_token.clone(),
        shipping_address: request.shipping_address.clone(),
        weight_grams: weight,
        reason: None,
        idempotency_key: key.as_str().to_owned(),
        created_at: now,
        updated_at: now,
        lines,
    })
}

/// Lists the caller's orders, newest first.
#[utoipa::path(
    get,
    path = "/v1/orders",
    tag = "orders",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of the caller's orders", body = OrderPage),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid paging", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id()))]
async fn list_orders(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<OrderPage>> {
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page < 1 {
        return Err(OrderError::invalid("page", "must be at least 1").into());
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(OrderError::invalid("per_page", "must be 1 to 100").into());
    }
    let offset = (page - 1).saturating_mul(per_page);
    let (orders, total) = store::orders_of(&state.context.store, user.id(), per_page, offset)
        .await
        .map_err(OrderError::Internal)?;
    Ok(Json(OrderPage {
        items: orders.into_iter().map(OrderView::from).collect(),
        total,
        page,
        per_page,
    }))
}

/// The order if `user` may see it (its owner, or an admin); otherwise 404.
async fn visible_order(
    state: &AppState,
    user: &AuthUser,
    id: &str,
    admin_sees_all: bool,
) -> Result<Order, OrderError> {
    let mut conn = state
        .context
        .store
        .pool()
        .acquire()
        .await
        .map_err(OrderError::from)?;
    let order = store::order(&mut conn, id)
        .await?
        .ok_or(OrderError::NotFound)?;
    if order.user_id == user.id() || (admin_sees_all && user.has(Role::Admin)) {
        Ok(order)
    } else {
        Err(OrderError::NotFound)
    }
}

/// One order (its owner or an admin).
#[utoipa::path(
    get,
    path = "/v1/orders/{id}",
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id(), order_id = %id))]
async fn get_order(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderView>> {
    Ok(Json(visible_order(&state, &user, &id, true).await?.into()))
}

/// Cancels an order before its shipment is in transit: stock and money go back, then the
/// order is `cancelled`.
#[utoipa::path(
    post,
    path = "/v1/orders/{id}/cancel",
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 202, description = "Cancelling (status `cancelling`, then `cancelled`)", body = OrderView),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Shipped, failed, or already cancelled", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id(), order_id = %id))]
async fn cancel_order(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    visible_order(&state, &user, &id, false).await?;
    for _attempt in 0..5 {
        let mut tx = store::begin_write(&state.context.store)
            .await
            .map_err(OrderError::from)?;
        let stored = store::saga(&mut tx, &id)
            .await?
            .ok_or(OrderError::NotFound)?;
        match saga::cancel_allowed(&stored.saga) {
            Ok(()) => {}
            Err(CancelRefusal::AlreadyCancelling) => {
                tx.rollback().await.map_err(OrderError::from)?;
                return accepted(&state, &user, &id).await;
            }
            Err(CancelRefusal::Shipped) => {
                return Err(OrderError::Conflict("the order has already shipped".into()).into());
            }
            Err(CancelRefusal::NotCancellable(status)) => {
                let detail = if status == Status::Pending {
                    "the order is failing and being compensated".to_owned()
                } else {
                    format!("the order is {status}")
                };
                return Err(OrderError::Conflict(detail).into());
            }
        }
        let now = now_millis();
        match transition::apply(&mut tx, &id, Input::Cancel { now }, &state.metrics).await? {
            Outcome::Applied { .. } => {
                tx.commit().await.map_err(OrderError::from)?;
                tracing::info!("order cancelling");
                return accepted(&state, &user, &id).await;
            }
            Outcome::Conflict => {
                tx.rollback().await.map_err(OrderError::from)?;
            }
            Outcome::Missing | Outcome::Unchanged(_) => {
                return Err(OrderError::Conflict("the order cannot be cancelled".into()).into());
            }
        }
    }
    Err(OrderError::Conflict("the order is changing; try again".into()).into())
}

async fn accepted(state: &AppState, user: &AuthUser, id: &str) -> ApiResult<Response> {
    let order = visible_order(state, user, id, false).await?;
    Ok((StatusCode::ACCEPTED, Json(OrderView::from(order))).into_response())
}

/// Every order with its saga state (admin or sre), by id, for `ballast verify`.
#[utoipa::path(
    get,
    path = "/v1/audit/orders",
    tag = "audit",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "Orders and their sagas", body = AuditPage),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor sre", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %auditor.0.sub))]
async fn audit_orders(
    State(state): State<AppState>,
    auditor: AuditorUser,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let limit = query.limit.unwrap_or(MAX_AUDIT_LIMIT);
    if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
        return Err(OrderError::invalid("limit", "must be 1 to 10000").into());
    }
    let now_ms = now_millis();
    let rows = store::audit(&state.context.store, query.after.as_deref(), limit)
        .await
        .map_err(OrderError::Internal)?;
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) == limit;
    let orders: Vec<AuditOrder> = rows
        .into_iter()
        .map(|row| {
            let (order, saga) = (row.order, row.saga);
            let f = saga.flags;
            AuditOrder {
                terminal: order.status.is_terminal(),
                status: order.status.as_str().to_owned(),
                id: order.id,
                user_id: order.user_id,
                reason: order.reason,
                idempotency_key: order.idempotency_key,
                step: saga.step.as_str().to_owned(),
                deadline_at_ms: saga.deadline_at,
                deadline_at: millis_to_rfc3339(saga.deadline_at),
                total: Money {
                    amount_minor: order.total_minor,
                    currency: order.currency,
                },
                captured_minor: saga.captured_minor,
                shipment_status: saga.shipment_status,
                flags: AuditFlags {
                    reserved: f.reserved,
                    nothing_held: f.nothing_held,
                    charge_requested: f.charge_requested,
                    captured: f.captured,
                    declined: f.declined,
                    committed: f.committed,
                    release_requested: f.release_requested,
                    released: f.released,
                    refund_requested: f.refund_requested,
                    refunded: f.refunded,
                },
                created_at_ms: order.created_at,
                updated_at_ms: order.updated_at,
            }
        })
        .collect();
    let next_after = if full {
        orders.last().map(|o| o.id.clone())
    } else {
        None
    };
    Ok(Json(AuditPage {
        orders,
        next_after,
        now_ms,
    }))
}
