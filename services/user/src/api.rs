//! The `/v1` HTTP API: request and response bodies, handlers, and the documented router.
//!
//! | method | path | who | what |
//! | --- | --- | --- | --- |
//! | POST | `/v1/users` | anyone | register (role `customer`) |
//! | POST | `/v1/auth/login` | anyone | exchange email and password for an access token |
//! | GET, PATCH | `/v1/users/me` | the user | read or change one's own name and password |
//! | GET | `/v1/users` | admin | list accounts, paged |
//! | GET | `/v1/users/{id}` | admin | read one account |
//! | PUT | `/v1/users/{id}/roles` | admin | replace an account's roles |

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ballast_kit::ApiResult;
use ballast_kit::auth::BearerAuth;
use ballast_kit::auth::{AdminUser, AuthUser, Role};
use ballast_kit::error::Problem;
use ballast_kit::extract::{Json, Path, Query};
use ballast_kit::service::ServiceContext;
use ballast_kit::store::{millis_to_rfc3339, now_millis};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{DisplayName, Email, Password, canonical, parse_roles};
use crate::error::UserError;
use crate::metrics::UserMetrics;
use crate::password;
use crate::queries::{self, NewUser, StoredUser};

/// The default page size of `GET /v1/users`.
pub const DEFAULT_PER_PAGE: i64 = 20;
/// The largest page size of `GET /v1/users`.
pub const MAX_PER_PAGE: i64 = 100;

/// What the handlers share.
#[derive(Clone)]
struct AppState {
    context: ServiceContext,
    metrics: UserMetrics,
}

/// An account as the API shows it (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// The user id (uuid v7).
    pub id: String,
    /// The lowercased email.
    pub email: String,
    /// The display name.
    pub name: String,
    /// The roles held.
    pub roles: Vec<Role>,
    /// When the account was created (RFC 3339).
    pub created_at: String,
    /// When the account last changed (RFC 3339).
    pub updated_at: String,
}

impl From<StoredUser> for UserView {
    fn from(user: StoredUser) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
            roles: user.roles,
            created_at: millis_to_rfc3339(user.created_at),
            updated_at: millis_to_rfc3339(user.updated_at),
        }
    }
}

/// `POST /v1/users`: a new account.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Email address (trimmed and lowercased; at most 254 characters).
    pub email: String,
    /// Password, 8 to 128 characters.
    pub password: String,
    /// Display name, 1 to 100 characters.
    pub name: String,
}

/// `POST /v1/auth/login`: credentials.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// An access token and the account it was issued to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The signed JWT (EdDSA).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// The account.
    pub user: UserView,
}

/// `PATCH /v1/users/me`: the fields to change; absent fields stay as they are.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// A new display name.
    pub name: Option<String>,
    /// A new password.
    pub password: Option<String>,
}

/// `PUT /v1/users/{id}/roles`: the complete new role list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    /// Role names: `customer`, `admin`, `sre`.
    pub roles: Vec<String>,
}

/// Paging of `GET /v1/users`.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    pub page: Option<i64>,
    /// Page size, 1 to 100 (default 20).
    pub per_page: Option<i64>,
}

/// One page of accounts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    /// The accounts on this page, oldest first.
    pub items: Vec<UserView>,
    /// The number of accounts in all.
    pub total: i64,
    /// This page's number.
    pub page: i64,
    /// The page size.
    pub per_page: i64,
}

/// Validates paging parameters: `(page, per_page)`.
fn paging(query: PageQuery) -> Result<(i64, i64), UserError> {
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page < 1 {
        return Err(UserError::invalid("page", "must be at least 1"));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(UserError::invalid("per_page", "must be 1 to 100"));
    }
    Ok((page, per_page))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Ballast user service", description = "Accounts, authentication and roles."),
    modifiers(&BearerAuth),
    tags(
        (name = "users", description = "Accounts and profiles"),
        (name = "auth", description = "Access tokens")
    )
)]
struct ApiDoc;

/// The documented `/v1` router of one instance.
pub fn router(context: ServiceContext) -> OpenApiRouter {
    let metrics = UserMetrics::register(&context.metrics);
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(create_user, list_users))
        .routes(routes!(login))
        .routes(routes!(get_me, update_me))
        .routes(routes!(get_user))
        .routes(routes!(set_roles))
        .with_state(AppState { context, metrics })
}

/// Registers an account with the `customer` role.
#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already registered", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
async fn create_user(
    State(state): State<AppState>,
    Json(body): Json<CreateUser>,
) -> ApiResult<Response> {
    let email = Email::parse(&body.email)?;
    let name = DisplayName::parse(&body.name)?;
    let password = Password::parse(&body.password)?;
    let hash = password::hash(&password).await?;
    let user = queries::insert(
        &state.context.store,
        NewUser {
            email: email.as_str(),
            name: name.as_str(),
            password_hash: &hash,
            roles: &[Role::Customer],
        },
        now_millis(),
    )
    .await?;
    tracing::info!(user_id = %user.id, "user registered");
    state.metrics.registered();
    let location = format!("/v1/users/{}", user.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UserView::from(user)),
    )
        .into_response())
}

/// Exchanges email and password for an access token.
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Token issued", body = TokenResponse),
        (status = 401, description = "Invalid email or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let result = authenticate(&state.context, &body).await;
    state.metrics.login(result.is_ok());
    let user = result?;
    let access_token = state
        .context
        .keys
        .issue(&user.id, &user.email, &user.roles)
        .map_err(UserError::Internal)?;
    tracing::info!(user_id = %user.id, "login succeeded");
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: state.context.keys.token_ttl().as_secs(),
        user: user.into(),
    }))
}

/// The account matching the credentials; an unknown email and a wrong password fail alike,
/// after the same hashing work.
async fn authenticate(
    context: &ServiceContext,
    body: &LoginRequest,
) -> Result<StoredUser, UserError> {
    let email = Email::parse(&body.email)?;
    if body.password.is_empty() || body.password.chars().count() > crate::domain::PASSWORD_MAX {
        // No stored password can have this shape.
        return Err(UserError::InvalidCredentials);
    }
    match queries::find_by_email(&context.store, email.as_str()).await? {
        Some(user) => {
            if password::verify(&body.password, user.password_hash.clone()).await? {
                Ok(user)
            } else {
                tracing::info!(user_id = %user.id, "login failed: wrong password");
                Err(UserError::InvalidCredentials)
            }
        }
        None => {
            password::verify_nothing(&body.password).await?;
            tracing::info!("login failed: unknown email");
            Err(UserError::InvalidCredentials)
        }
    }
}

/// The caller's own account.
#[utoipa::path(
    get,
    path = "/v1/users/me",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = UserView),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The token's account no longer exists", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id()))]
async fn get_me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<UserView>> {
    let found = queries::find_by_id(&state.context.store, user.id())
        .await?
        .ok_or(UserError::NotFound)?;
    Ok(Json(found.into()))
}

/// Changes the caller's name and/or password.
#[utoipa::path(
    patch,
    path = "/v1/users/me",
    tag = "users",
    security(("bearer" = [])),
    request_body = UpdateMe,
    responses(
        (status = 200, description = "The updated account", body = UserView),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id()))]
async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<UpdateMe>,
) -> ApiResult<Json<UserView>> {
    let name = body.name.as_deref().map(DisplayName::parse).transpose()?;
    let password = body.password.as_deref().map(Password::parse).transpose()?;
    let hash = match &password {
        Some(password) => Some(password::hash(password).await?),
        None => None,
    };
    let updated = queries::update_profile(
        &state.context.store,
        user.id(),
        name.as_ref().map(DisplayName::as_str),
        hash.as_deref(),
        now_millis(),
    )
    .await?
    .ok_or(UserError::NotFound)?;
    tracing::info!(
        name_changed = name.is_some(),
        password_changed = hash.is_some(),
        "profile updated"
    );
    Ok(Json(updated.into()))
}

/// Lists accounts, oldest first (admin).
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of accounts", body = UserPage),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid paging", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(admin_id = %admin.0.sub))]
async fn list_users(
    State(state): State<AppState>,
    admin: AdminUser,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<UserPage>> {
    let (page, per_page) = paging(query)?;
    let offset = (page - 1).saturating_mul(per_page);
    let (users, total) = queries::list(&state.context.store, per_page, offset).await?;
    Ok(Json(UserPage {
        items: users.into_iter().map(UserView::from).collect(),
        total,
        page,
        per_page,
    }))
}

/// One account (admin).
#[utoipa::path(
    get,
    path = "/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The account", body = UserView),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(admin_id = %admin.0.sub, user_id = %id))]
async fn get_user(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = queries::find_by_id(&state.context.store, &id)
        .await?
        .ok_or(UserError::NotFound)?;
    Ok(Json(user.into()))
}

/// Replaces an account's roles (admin). An admin cannot remove their own admin role, so the
/// platform cannot lose its last admin by accident.
#[utoipa::path(
    put,
    path = "/v1/users/{id}/roles",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = SetRoles,
    responses(
        (status = 200, description = "The updated account", body = UserView),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown role", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(admin_id = %admin.0.sub, user_id = %id))]
async fn set_roles(
    State(state): State<AppState>,
    admin: AdminUser,
    Path(id): Path<String>,
    Json(body): Json<SetRoles>,
) -> ApiResult<Json<UserView>> {
    let roles = parse_roles(&body.roles)?;
    if admin.0.sub == id && !roles.contains(&Role::Admin) {
        return Err(
            UserError::invalid("roles", "an admin cannot remove their own admin role").into(),
        );
    }
    let user = queries::set_roles(&state.context.store, &id, &canonical(&roles), now_millis())
        .await?
        .ok_or(UserError::NotFound)?;
    tracing::info!(roles = %crate::domain::roles_to_text(&user.roles), "roles replaced");
    Ok(Json(user.into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn paging_defaults_and_bounds() {
        let query = |page, per_page| PageQuery { page, per_page };
        assert_eq!(paging(query(None, None)).unwrap(), (1, 20));
        assert_eq!(paging(query(Some(3), Some(100))).unwrap(), (3, 100));
        assert!(paging(query(Some(0), None)).is_err());
        assert!(paging(query(None, Some(0))).is_err());
        assert!(paging(query(None, Some(101))).is_err());
    }
}
