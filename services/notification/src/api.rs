//! The `/v1` HTTP API of notification.
//!
//! | method | path | who | what |
//! | --- | --- | --- | --- |
//! | GET | `/v1/notifications` | any user | the caller's notifications, newest first, paginated |
//! | GET | `/v1/audit/notifications` | admin, sre | counts: total, undelivered, per channel |

use std::collections::BTreeMap;

use axum::extract::State;
use ballast_kit::ApiResult;
use ballast_kit::auth::BearerAuth;
use ballast_kit::auth::{AuditorUser, AuthUser};
use ballast_kit::error::Problem;
use ballast_kit::extract::{Json, Query};
use ballast_kit::service::ServiceContext;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::NotificationError;
use crate::store::{self, NotificationView};

/// Page size when none is asked for.
pub const DEFAULT_PER_PAGE: i64 = 20;
/// Largest page size.
pub const MAX_PER_PAGE: i64 = 100;

/// `?page=&per_page=`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page number, from 1.
    pub page: Option<i64>,
    /// Items per page, 1 to 100 (default 20).
    pub per_page: Option<i64>,
}

/// A checked page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// From 1.
    pub page: i64,
    /// 1 to [`MAX_PER_PAGE`].
    pub per_page: i64,
}

impl Page {
    /// Checks a page query.
    pub fn parse(query: &PageQuery) -> Result<Self, NotificationError> {
        let page = query.page.unwrap_or(1);
        let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=1_000_000).contains(&page) {
            return Err(NotificationError::Invalid {
                field: "page",
                reason: "must be 1 or more",
            });
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(NotificationError::Invalid {
                field: "per_page",
                reason: "must be between 1 and 100",
            });
        }
        Ok(Self { page, per_page })
    }

    /// Rows to skip.
    pub fn offset(self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

/// One page of notifications.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationPage {
    /// The notifications, newest first.
    pub items: Vec<NotificationView>,
    /// How many the caller has in all.
    pub total: i64,
    /// This page's number.
    pub page: i64,
    /// Page size.
    pub per_page: i64,
}

/// Notification counts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationAudit {
    /// Every notification recorded.
    pub total: i64,
    /// Not delivered yet.
    pub pending: i64,
    /// Per channel.
    pub per_channel: BTreeMap<String, i64>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Ballast notification service", description = "Email, SMS and push notifications recorded from order, payment and shipping events."),
    modifiers(&BearerAuth),
    tags(
        (name = "notifications", description = "A user's notifications"),
        (name = "audit", description = "Read-only state for `ballast verify`")
    )
)]
struct ApiDoc;

/// The documented `/v1` router of one instance.
pub fn router(context: ServiceContext) -> OpenApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_notifications))
        .routes(routes!(audit_notifications))
        .with_state(context)
}

/// The caller's notifications, newest first.
#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "notifications",
    params(PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page", body = NotificationPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(context, user, query), fields(user = user.id()))]
async fn list_notifications(
    State(context): State<ServiceContext>,
    user: AuthUser,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<NotificationPage>> {
    let page = Page::parse(&query)?;
    let (items, total) =
        store::list_for_user(&context.store, user.id(), page.per_page, page.offset())
            .await
            .map_err(NotificationError::from)?;
    Ok(Json(NotificationPage {
        items,
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Notification counts (admin or sre), for `ballast verify`.
#[utoipa::path(
    get,
    path = "/v1/audit/notifications",
    tag = "audit",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts", body = NotificationAudit),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither admin nor sre", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
async fn audit_notifications(
    State(context): State<ServiceContext>,
    _auditor: AuditorUser,
) -> ApiResult<Json<NotificationAudit>> {
    let (total, pending, per_channel) = store::counts(&context.store)
        .await
        .map_err(NotificationError::from)?;
    Ok(Json(NotificationAudit {
        total,
        pending,
        per_channel: per_channel.into_iter().collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_checked() {
        let page = |page, per_page| Page::parse(&PageQuery { page, per_page });
        assert_eq!(
            page(None, None).unwrap(),
            Page {
                page: 1,
                per_page: 20
            }
        );
        assert_eq!(page(Some(3), Some(10)).unwrap().offset(), 20);
        assert!(page(Some(0), None).is_err());
        assert!(page(None, Some(0)).is_err());
        assert!(page(None, Some(101)).is_err());
    }
}
