//! `GET /v1/products/{id}/reviews` (anyone) and `POST /v1/products/{id}/reviews` (signed-in
//! users, one review per user and product).

use axum::extract::State;
use axum::http::StatusCode;
use ballast_kit::auth::AuthUser;
use ballast_kit::error::{ApiError, ApiResult, Problem};
use ballast_kit::extract::{Json, Path, Query};
use ballast_kit::service::ServiceContext;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::Page;
use crate::model::{PageQuery, Paged, ReviewInput, ReviewView};
use crate::routes::products::cache_key;
use crate::store::{self, ReviewOutcome};

/// The reviews routes.
pub fn router() -> OpenApiRouter<ServiceContext> {
    OpenApiRouter::new().routes(routes!(list_reviews, create_review))
}

/// A product's reviews, newest first.
#[utoipa::path(
    get,
    path = "/v1/products/{id}/reviews",
    tag = "reviews",
    params(("id" = String, Path, description = "The product id"), PageQuery),
    responses(
        (status = 200, description = "One page of reviews", body = Paged<ReviewView>),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad page or per_page", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(ctx, query))]
pub async fn list_reviews(
    State(ctx): State<ServiceContext>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<Paged<ReviewView>>> {
    let page = Page::parse(query.page, query.per_page)?;
    if !store::product_exists(&ctx.store, &id).await? {
        return Err(ApiError::NotFound(format!("no product {id}")));
    }
    let (items, total) = store::list_reviews(&ctx.store, &id, page).await?;
    Ok(Json(Paged {
        items,
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Reviews a product as the signed-in user and updates its average rating.
#[utoipa::path(
    post,
    path = "/v1/products/{id}/reviews",
    tag = "reviews",
    params(("id" = String, Path, description = "The product id")),
    request_body = ReviewInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ReviewView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already reviewed by this user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rating not 1 to 5, or a field too long", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(ctx, user, input), fields(user = %user.id()))]
pub async fn create_review(
    State(ctx): State<ServiceContext>,
    Path(id): Path<String>,
    user: AuthUser,
    Json(input): Json<ReviewInput>,
) -> ApiResult<(StatusCode, Json<ReviewView>)> {
    let review = input.validate()?;
    match store::add_review(&ctx.store, &id, user.id(), &review).await? {
        ReviewOutcome::Added(view) => {
            ctx.cache.invalidate(&cache_key(&id)).await;
            tracing::info!(review = %view.id, rating = view.rating, "review added");
            Ok((StatusCode::CREATED, Json(view)))
        }
        ReviewOutcome::NoSuchProduct => Err(ApiError::NotFound(format!("no product {id}"))),
        ReviewOutcome::AlreadyReviewed => Err(ApiError::Conflict(
            "you have already reviewed this product".into(),
        )),
    }
}
