//! The catalog: `GET /v1/products` (search, filters, pages), `GET /v1/products/{id}` (through
//! the cache), and the admins' `POST`, `PUT` and `DELETE`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use ballast_kit::auth::AdminUser;
use ballast_kit::error::{ApiError, ApiResult, Problem};
use ballast_kit::extract::{Json, Path, Query};
use ballast_kit::service::ServiceContext;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{Invalid, Page};
use crate::model::{CategoryRef, NewProduct, Paged, ProductInput, ProductQuery, ProductView};
use crate::search;
use crate::store::{self, ProductFilter};

/// How long a product detail stays in the cache.
pub const PRODUCT_CACHE_TTL: Duration = Duration::from_secs(60);

/// The cache key of a product's detail.
pub fn cache_key(id: &str) -> String {
    format!("product:{id}")
}

/// The products routes.
pub fn router() -> OpenApiRouter<ServiceContext> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product, delete_product))
}

/// Checks the listing's query into a filter and a page.
fn filter_of(query: &ProductQuery) -> Result<(ProductFilter, Page), Invalid> {
    let page = Page::parse(query.page, query.per_page)?;
    for (field, value) in [
        ("min_price", query.min_price),
        ("max_price", query.max_price),
    ] {
        if value.is_some_and(|v| v < 0) {
            return Err(Invalid::new(field, "must be 0 or more"));
        }
    }
    if let (Some(min), Some(max)) = (query.min_price, query.max_price)
        && min > max
    {
        return Err(Invalid::new("min_price", "must not exceed max_price"));
    }
    let filter = ProductFilter {
        search: query.q.as_deref().and_then(search::normalise),
        category: query
            .category
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        min_price: query.min_price,
        max_price: query.max_price,
    };
    Ok((filter, page))
}

/// The category a product input names, or a 422.
async fn category_of(ctx: &ServiceContext, product: &NewProduct) -> ApiResult<CategoryRef> {
    store::find_category(&ctx.store, &product.category)
        .await?
        .ok_or_else(|| ApiError::invalid("category", "no such category"))
}

/// Lists products: full-text search (`q`), category (slug or id), price range in minor units,
/// paginated; by relevance when searching, by name otherwise.
#[utoipa::path(
    get,
    path = "/v1/products",
    tag = "products",
    params(ProductQuery),
    responses(
        (status = 200, description = "One page of products", body = Paged<ProductView>),
        (status = 400, description = "A parameter does not parse", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(q = query.q.as_deref().unwrap_or_default()))]
pub async fn list_products(
    State(ctx): State<ServiceContext>,
    Query(query): Query<ProductQuery>,
) -> ApiResult<Json<Paged<ProductView>>> {
    let (filter, page) = filter_of(&query)?;
    let (items, total) = store::list_products(&ctx.store, &filter, page).await?;
    Ok(Json(Paged {
        items,
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// One product, served from the cache when it is there.
#[utoipa::path(
    get,
    path = "/v1/products/{id}",
    tag = "products",
    params(("id" = String, Path, description = "The product id")),
    responses(
        (status = 200, description = "The product", body = ProductView),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(ctx))]
pub async fn get_product(
    State(ctx): State<ServiceContext>,
    Path(id): Path<String>,
) -> ApiResult<Json<ProductView>> {
    let key = cache_key(&id);
    if let Some(product) = ctx.cache.get::<ProductView>(&key).await {
        return Ok(Json(product));
    }
    let product = store::get_product(&ctx.store, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no product {id}")))?;
    ctx.cache.set(&key, &product, PRODUCT_CACHE_TTL).await;
    Ok(Json(product))
}

/// Creates a product (admins only).
#[utoipa::path(
    post,
    path = "/v1/products",
    tag = "products",
    request_body = ProductInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ProductView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The SKU is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(admin = %admin.0.sub))]
pub async fn create_product(
    State(ctx): State<ServiceContext>,
    admin: AdminUser,
    Json(input): Json<ProductInput>,
) -> ApiResult<(StatusCode, Json<ProductView>)> {
    let product = input.validate()?;
    let category = category_of(&ctx, &product).await?;
    let created = store::insert_product(&ctx.store, &product, &category).await?;
    tracing::info!(product = %created.id, sku = %created.sku, "product created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// Replaces a product's fields (admins only).
#[utoipa::path(
    put,
    path = "/v1/products/{id}",
    tag = "products",
    params(("id" = String, Path, description = "The product id")),
    request_body = ProductInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = ProductView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The SKU is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(ctx, admin, input), fields(admin = %admin.0.sub))]
pub async fn update_product(
    State(ctx): State<ServiceContext>,
    Path(id): Path<String>,
    admin: AdminUser,
    Json(input): Json<ProductInput>,
) -> ApiResult<Json<ProductView>> {
    let product = input.validate()?;
    let category = category_of(&ctx, &product).await?;
    let updated = store::update_product(&ctx.store, &id, &product, &category).await?;
    ctx.cache.invalidate(&cache_key(&id)).await;
    let updated = updated.ok_or_else(|| ApiError::NotFound(format!("no product {id}")))?;
    tracing::info!(sku = %updated.sku, "product updated");
    Ok(Json(updated))
}

/// Deletes a product and its reviews (admins only).
#[utoipa::path(
    delete,
    path = "/v1/products/{id}",
    tag = "products",
    params(("id" = String, Path, description = "The product id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(ctx, admin), fields(admin = %admin.0.sub))]
pub async fn delete_product(
    State(ctx): State<ServiceContext>,
    Path(id): Path<String>,
    admin: AdminUser,
) -> ApiResult<StatusCode> {
    let deleted = store::delete_product(&ctx.store, &id).await?;
    ctx.cache.invalidate(&cache_key(&id)).await;
    if !deleted {
        return Err(ApiError::NotFound(format!("no product {id}")));
    }
    tracing::info!("product deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_queries_are_checked() {
        let (filter, page) = filter_of(&ProductQuery {
            q: Some("  espresso  ".into()),
            category: Some(" books ".into()),
            ..ProductQuery::default()
        })
        .unwrap();
        assert_eq!(filter.search.as_deref(), Some("espresso"));
        assert_eq!(filter.category.as_deref(), Some("books"));
        assert_eq!((page.page, page.per_page), (1, 20));

        let blank = filter_of(&ProductQuery {
            q: Some("   ".into()),
            category: Some("".into()),
            ..ProductQuery::default()
        })
        .unwrap()
        .0;
        assert_eq!((blank.search, blank.category), (None, None));

        let inverted = ProductQuery {
            min_price: Some(500),
            max_price: Some(100),
            ..ProductQuery::default()
        };
        assert_eq!(filter_of(&inverted).unwrap_err().field, "min_price");
        let negative = ProductQuery {
            max_price: Some(-1),
            ..ProductQuery::default()
        };
        assert_eq!(filter_of(&negative).unwrap_err().field, "max_price");
    }
}
