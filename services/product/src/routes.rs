//! The `/v1` API: one module per resource, each contributing its handlers to one
//! OpenAPI-documented router.
//!
//! - [`categories`]: `GET`/`POST /v1/categories`
//! - [`products`]: listing with search and filters, the cached detail, admin create/update/delete
//! - [`reviews`]: `GET`/`POST /v1/products/{id}/reviews`

use ballast_kit::auth::BearerAuth;
use ballast_kit::service::ServiceContext;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub mod categories;
pub mod products;
pub mod reviews;

/// The OpenAPI document's fixed parts: title, tags and the bearer security scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "Ballast product service", description = "Catalog, categories, search and reviews."),
    modifiers(&BearerAuth),
    tags(
        (name = "categories", description = "Product categories"),
        (name = "products", description = "The catalog"),
        (name = "reviews", description = "Customer reviews and ratings"),
    )
)]
pub struct ApiDoc;

/// The service's API with its handlers' shared context.
pub fn router(context: ServiceContext) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(categories::router())
        .merge(products::router())
        .merge(reviews::router())
        .with_state(context)
}
