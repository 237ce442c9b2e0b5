//! `GET /v1/categories` (anyone) and `POST /v1/categories` (admins).

use axum::extract::State;
use axum::http::StatusCode;
use ballast_kit::auth::AdminUser;
use ballast_kit::error::{ApiResult, Problem};
use ballast_kit::extract::Json;
use ballast_kit::service::ServiceContext;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::model::{CategoryInput, CategoryView};
use crate::store;

/// The categories routes.
pub fn router() -> OpenApiRouter<ServiceContext> {
    OpenApiRouter::new().routes(routes!(list_categories, create_category))
}

/// Every category with the number of products in it.
#[utoipa::path(
    get,
    path = "/v1/categories",
    tag = "categories",
    responses((status = 200, description = "The categories, by name", body = Vec<CategoryView>))
)]
#[tracing::instrument(skip_all)]
pub async fn list_categories(
    State(ctx): State<ServiceContext>,
) -> ApiResult<Json<Vec<CategoryView>>> {
    Ok(Json(store::list_categories(&ctx.store).await?))
}

/// Creates a category (admins only).
#[utoipa::path(
    post,
    path = "/v1/categories",
    tag = "categories",
    request_body = CategoryInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = CategoryView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The slug is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(admin = %admin.0.sub))]
pub async fn create_category(
    State(ctx): State<ServiceContext>,
    admin: AdminUser,
    Json(input): Json<CategoryInput>,
) -> ApiResult<(StatusCode, Json<CategoryView>)> {
    let category = input.validate()?;
    let created = store::insert_category(&ctx.store, &category).await?;
    tracing::info!(category = %created.id, slug = %created.slug, "category created");
    Ok((StatusCode::CREATED, Json(created)))
}
