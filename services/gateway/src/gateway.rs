//! The request pipeline of a proxied route: authenticate, rate-limit, authorize, check the
//! body, forward. Plus the load-shedding middleware in front of every `/api` route.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ballast_kit::ApiError;
use ballast_kit::auth::Keys;
use http_body_util::BodyExt;
use tokio::sync::Semaphore;

use crate::auth::{Authenticator, Principal, authorize};
use crate::config::GatewayConfig;
use crate::metrics::GatewayMetrics;
use crate::openapi::OpenApiMerger;
use crate::proxy::{Forwarder, UpstreamAuth, upstream_headers};
use crate::ratelimit::{Cell, Decision, RateLimiter, retry_after_secs};
use crate::routes::Rule;

/// How long a rate-limit store may take before the request is let through unlimited.
const LIMITER_TIMEOUT: Duration = Duration::from_millis(500);

/// The rate-limit cells of the three scopes (`None`: that scope is unlimited).
#[derive(Debug, Clone, Copy)]
pub struct Cells {
    /// Per user.
    pub user: Option<Cell>,
    /// Per API key.
    pub api_key: Option<Cell>,
    /// Per client IP, anonymous requests.
    pub anonymous: Option<Cell>,
}

/// Everything the gateway's handlers share.
pub struct Gateway {
    /// The configuration it was built with.
    pub config: GatewayConfig,
    /// Token keys (for JWKS).
    pub keys: Arc<Keys>,
    /// Credential resolution.
    pub authenticator: Authenticator,
    /// Rate-limit state.
    pub limiter: Arc<dyn RateLimiter>,
    /// The limits in algorithm units.
    pub cells: Cells,
    /// Upstream calls.
    pub forwarder: Forwarder,
    /// The gateway's own counters.
    pub metrics: GatewayMetrics,
    /// Permits for requests in flight.
    pub in_flight: Arc<Semaphore>,
    /// The merged OpenAPI document.
    pub openapi: OpenApiMerger,
}

fn client_ip(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

impl Gateway {
    /// Handles one request of a proxied route.
    pub async fn handle(self: Arc<Self>, rule: &'static Rule, request: Request) -> Response {
        match self.pipeline(rule, request).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        }
    }

    async fn pipeline(&self, rule: &'static Rule, request: Request) -> Result<Response, ApiError> {
        let ip = client_ip(&request);
        let (parts, body) = request.into_parts();
        let principal = self.authenticator.authenticate(&parts.headers);
        // Bad credentials count against the caller's IP, so guessing keys is rate limited too.
        self.rate_limit(principal.as_ref().ok(), ip).await?;
        let principal = principal?;
        authorize(&principal, rule.access)?;
        let body = crate::body::read(&parts, body, self.config.max_body_bytes).await?;
        let auth = match &principal {
            Principal::ApiKey { name, roles } => match self.authenticator.token_for(name, roles) {
                Some(token) => UpstreamAuth::Bearer(token),
                None => UpstreamAuth::Removed,
            },
            Principal::User(_) | Principal::Anonymous => UpstreamAuth::AsSent,
        };
        let headers = upstream_headers(&parts.headers, &auth, ip);
        self.forwarder.forward(rule, &parts, headers, body).await
    }

    async fn rate_limit(
        &self,
        principal: Option<&Principal>,
        ip: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        let (scope, key, cell) = match principal {
            Some(Principal::User(claims)) => {
                ("user", format!("user:{}", claims.sub), self.cells.user)
            }
            Some(Principal::ApiKey { name, .. }) => {
                ("api_key", format!("key:{name}"), self.cells.api_key)
            }
            Some(Principal::Anonymous) | None => {
                let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
                ("anonymous", format!("ip:{ip}"), self.cells.anonymous)
            }
        };
        let Some(cell) = cell else {
            return Ok(());
        };
        match tokio::time::timeout(LIMITER_TIMEOUT, self.limiter.check(&key, cell)).await {
            Ok(Ok(Decision::Allowed)) => Ok(()),
            Ok(Ok(Decision::Limited(wait))) => {
                self.metrics.rate_limited(scope);
                let micros = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX);
                Err(ApiError::TooManyRequests {
                    retry_after_secs: retry_after_secs(micros),
                })
            }
            Ok(Err(error)) => {
                tracing::warn!(scope, error = %error, "rate limiter failed; request let through");
                Ok(())
            }
            Err(_) => {
                tracing::warn!(scope, "rate limiter timed out; request let through");
                Ok(())
            }
        }
    }
}

/// Middleware: takes an in-flight permit or sheds the request at once (503, `Retry-After: 1`).
/// The permit is held until the response body has been sent.
pub async fn shed(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    let Ok(permit) = gateway.in_flight.clone().try_acquire_owned() else {
        gateway.metrics.shed();
        return ApiError::Unavailable {
            reason: "the gateway is at capacity".into(),
            retry_after_secs: 1,
        }
        .into_response();
    };
    let response = next.run(request).await;
    response.map(move |body| {
        Body::new(body.map_err(move |error| {
            let _held = &permit;
            error
        }))
    })
}
