//! Forwarding one request upstream: header hygiene (hop-by-hop headers stripped, trace context
//! and request id carried, `X-Forwarded-For` appended), the choice of instance with retries on
//! connection errors, the timeout, and the response streamed back.

use std::net::IpAddr;

use axum::body::Body;
use axum::response::Response;
use ballast_kit::ApiError;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;

use crate::auth::API_KEY_HEADER;
use crate::balancer::{Balancer, Endpoint};
use crate::metrics::GatewayMetrics;
use crate::routes::{Rule, upstream_path};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus `host` and
/// `content-length`, which the outgoing client sets itself.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// How the `Authorization` header goes upstream.
#[derive(Debug, Clone)]
pub enum UpstreamAuth {
    /// As the client sent it (a verified token, or none).
    AsSent,
    /// Replaced by a token the gateway issued for an API-key principal.
    Bearer(String),
    /// Removed (an API-key principal when the gateway cannot sign).
    Removed,
}

/// The request head as it goes upstream.
pub fn upstream_headers(
    incoming: &HeaderMap,
    auth: &UpstreamAuth,
    client: Option<IpAddr>,
) -> HeaderMap {
    let mut headers = incoming.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(API_KEY_HEADER);
    match auth {
        UpstreamAuth::AsSent => {}
        UpstreamAuth::Bearer(token) => {
            if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
                headers.insert(header::AUTHORIZATION, value);
            }
        }
        UpstreamAuth::Removed => {
            headers.remove(header::AUTHORIZATION);
        }
    }
    // Continue the trace in the gateway's request span; keep the caller's context only when no
    // tracer is installed (nothing injected).
    let mut traced = HeaderMap::new();
    ballast_kit::telemetry::inject_current(&mut traced);
    if traced.contains_key("traceparent") {
        headers.remove("tracestate");
        headers.extend(traced);
    }
    if let Some(ip) = client {
        let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(previous) => format!("{previous}, {ip}"),
            None => ip.to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded) {
            headers.insert("x-forwarded-for", value);
        }
    }
    headers
}

/// Methods whose repetition has the same effect as one request (RFC 9110 9.2.2).
fn is_idempotent(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::GET
            | http::Method::HEAD
            | http::Method::OPTIONS
            | http::Method::PUT
            | http::Method::DELETE
    )
}

/// Sends requests to upstream instances.
pub struct Forwarder {
    client: reqwest::Client,
    balancer: Balancer,
    metrics: GatewayMetrics,
}

impl Forwarder {
    /// Forwards with `client` (its timeout is the upstream timeout) to instances `balancer` picks.
    pub fn new(client: reqwest::Client, balancer: Balancer, metrics: GatewayMetrics) -> Self {
        Self {
            client,
            balancer,
            metrics,
        }
    }

    /// The balancer, for other components that need an instance (the OpenAPI merger).
    pub fn balancer(&self) -> &Balancer {
        &self.balancer
    }

    /// The pooled client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request to a ready instance of the rule's upstream. A connection error means
    /// the request never left, so the next ready instance is tried (each at most once); an
    /// idempotent request whose connection broke before the response is retried the same way.
    pub async fn forward(
        &self,
        rule: &Rule,
        parts: &Parts,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        let path = upstream_path(parts.uri.path())
            .ok_or_else(|| ApiError::NotFound("no such route".into()))?;
        let path_and_query = match parts.uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let candidates = self.balancer.candidates(rule.upstream);
        if candidates.is_empty() {
            return Err(ApiError::Unavailable {
                reason: format!("no ready instance of {}", rule.upstream),
                retry_after_secs: 1,
            });
        }
        for endpoint in &candidates {
            match self
                .send(
                    endpoint,
                    parts,
                    &path_and_query,
                    headers.clone(),
                    body.clone(),
                )
                .await
            {
                Ok(upstream) => {
                    self.metrics
                        .upstream(rule.upstream, upstream.status().as_str());
                    return Ok(into_response(upstream));
                }
                Err(error) if error.is_connect() => {
                    self.metrics.upstream(rule.upstream, "connect_error");
                    tracing::warn!(
                        upstream = rule.upstream,
                        instance = endpoint.instance,
                        error = %error,
                        "instance unreachable, trying the next"
                    );
                }
                Err(error) if error.is_timeout() => {
                    self.metrics.upstream(rule.upstream, "timeout");
                    return Err(ApiError::GatewayTimeout(format!(
                        "{} did not answer in time",
                        rule.upstream
                    )));
                }
                Err(error) if is_idempotent(&parts.method) => {
                    // The connection broke before a response (the instance crashed mid-request).
                    // An idempotent request may be sent again (RFC 9110 9.2.2), as Envoy's
                    // `retry_on: reset` does; the next ready instance gets it.
                    self.metrics.upstream(rule.upstream, "reset");
                    tracing::warn!(
                        upstream = rule.upstream,
                        instance = endpoint.instance,
                        error = %error,
                        "connection reset; retrying the idempotent request on the next instance"
                    );
                }
                Err(error) => {
                    self.metrics.upstream(rule.upstream, "error");
                    tracing::warn!(
                        upstream = rule.upstream,
                        instance = endpoint.instance,
                        error = %error,
                        "upstream request failed"
                    );
                    return Err(ApiError::BadGateway(format!(
                        "{} failed to answer",
                        rule.upstream
                    )));
                }
            }
        }
        Err(ApiError::Unavailable {
            reason: format!("no reachable instance of {}", rule.upstream),
            retry_after_secs: 1,
        })
    }

    async fn send(
        &self,
        endpoint: &Endpoint,
        parts: &Parts,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let url = format!("{}{path_and_query}", endpoint.url.trim_end_matches('/'));
        let mut request = self
            .client
            .request(parts.method.clone(), url)
            .headers(headers);
        if !body.is_empty() {
            request = request.body(body);
        }
        request.send().await
    }
}

/// The upstream response as the gateway's response: hop-by-hop headers stripped, body streamed.
fn into_response(upstream: reqwest::Response) -> Response {
    let response: http::Response<reqwest::Body> = upstream.into();
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, Body::new(body))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn hop_by_hop_and_gateway_credentials_stay_behind() {
        let mut incoming = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("upgrade", "websocket"),
            ("host", "gateway"),
            ("x-api-key", "k"),
            ("authorization", "Bearer client"),
            ("x-request-id", "r-1"),
            ("x-forwarded-for", "10.0.0.1"),
        ] {
            incoming.insert(name, HeaderValue::from_static(value));
        }
        let ip = Some("127.0.0.1".parse().unwrap());
        let out = upstream_headers(&incoming, &UpstreamAuth::Bearer("minted".into()), ip);
        for gone in [
            "connection",
            "x-secret-hop",
            "keep-alive",
            "upgrade",
            "host",
            "x-api-key",
        ] {
            assert!(!out.contains_key(gone), "{gone} forwarded");
        }
        assert_eq!(out["authorization"], "Bearer minted");
        assert_eq!(out["x-request-id"], "r-1");
        assert_eq!(out["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        let removed = upstream_headers(&incoming, &UpstreamAuth::Removed, None);
        assert!(!removed.contains_key("authorization"));
        let as_sent = upstream_headers(&incoming, &UpstreamAuth::AsSent, None);
        assert_eq!(as_sent["authorization"], "Bearer client");
    }
}
