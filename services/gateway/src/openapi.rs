//! The public OpenAPI document: each upstream service's `/openapi.json`, fetched from a ready
//! instance, reduced to the operations the route table publishes, with `/v1/...` paths
//! rewritten to `/api/v1/...`, merged (paths and components), and cached briefly.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::proxy::Forwarder;
use crate::routes::{Access, ROUTES, public_rule};

/// How long a merged document is served before it is rebuilt.
pub const CACHE_TTL: Duration = Duration::from_secs(15);

/// How long one upstream may take to serve its document.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Builds and caches the merged document.
pub struct OpenApiMerger {
    cached: Mutex<Option<(Instant, Arc<Value>)>>,
}

impl Default for OpenApiMerger {
    fn default() -> Self {
        Self {
            cached: Mutex::new(None),
        }
    }
}

impl OpenApiMerger {
    /// The merged document: cached, or rebuilt from the upstreams now.
    pub async fn document(&self, forwarder: &Forwarder) -> Arc<Value> {
        let mut cached = self.cached.lock().await;
        if let Some((built, document)) = cached.as_ref()
            && built.elapsed() < CACHE_TTL
        {
            return document.clone();
        }
        let upstreams: BTreeSet<&'static str> = ROUTES.iter().map(|r| r.upstream).collect();
        let fetches = upstreams
            .iter()
            .map(|service| async move { (*service, fetch(forwarder, service).await) });
        let documents = futures::future::join_all(fetches).await;
        let document = Arc::new(merge(&documents));
        *cached = Some((Instant::now(), document.clone()));
        document
    }
}

/// The document of one service from the first ready instance that serves it.
async fn fetch(forwarder: &Forwarder, service: &str) -> Option<Value> {
    for endpoint in forwarder.balancer().candidates(service) {
        let url = format!("{}/openapi.json", endpoint.url.trim_end_matches('/'));
        let request =
            ballast_kit::client::traced(forwarder.client().get(url).timeout(FETCH_TIMEOUT));
        match request.send().await {
            Ok(response) if response.status().is_success() => match response.json().await {
                Ok(document) => return Some(document),
                Err(error) => {
                    tracing::warn!(service, error = %error, "unreadable OpenAPI document")
                }
            },
            Ok(response) => {
                tracing::warn!(
                    service,
                    status = response.status().as_u16(),
                    "no OpenAPI document"
                )
            }
            Err(error) => tracing::warn!(service, error = %error, "fetching OpenAPI document"),
        }
    }
    None
}

fn security_for(access: Access) -> Option<Value> {
    match access {
        Access::Public => None,
        Access::Authenticated | Access::Roles(_) => {
            Some(json!([{ "bearerAuth": [] }, { "apiKeyAuth": [] }]))
        }
    }
}

/// Merges service documents into the public one (pure: no I/O).
pub fn merge(documents: &[(&str, Option<Value>)]) -> Value {
    let mut paths = Map::new();
    let mut components = Map::new();
    let mut missing = Vec::new();
    for (service, document) in documents {
        let Some(document) = document else {
            missing.push(Value::from(*service));
            continue;
        };
        if let Some(upstream_paths) = document.get("paths").and_then(Value::as_object) {
            for (path, item) in upstream_paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                let mut published = Map::new();
                for (key, operation) in item {
                    match public_rule(service, key, path) {
                        Some(rule) => {
                            let mut operation = operation.clone();
                            if let (Some(security), Some(object)) =
                                (security_for(rule.access), operation.as_object_mut())
                            {
                                object.insert("security".into(), security);
                            }
                            published.insert(key.clone(), operation);
                        }
                        // Path-level fields (parameters, summary) are not operations.
                        None if !is_method(key) => {
                            published.insert(key.clone(), operation.clone());
                        }
                        None => {}
                    }
                }
                if published.keys().any(|k| is_method(k)) {
                    let target = paths
                        .entry(format!("/api{path}"))
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Some(target) = target.as_object_mut() {
                        for (key, value) in published {
                            target.entry(key).or_insert(value);
                        }
                    }
                }
            }
        }
        if let Some(sections) = document.get("components").and_then(Value::as_object) {
            for (section, entries) in sections {
                let Some(entries) = entries.as_object() else {
                    continue;
                };
                let target = components
                    .entry(section.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(target) = target.as_object_mut() {
                    for (name, value) in entries {
                        target.entry(name.clone()).or_insert_with(|| value.clone());
                    }
                }
            }
        }
    }
    let schemes = components
        .entry("securitySchemes")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(schemes) = schemes.as_object_mut() {
        schemes.insert(
            "bearerAuth".into(),
            json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }),
        );
        schemes.insert(
            "apiKeyAuth".into(),
            json!({ "type": "apiKey", "in": "header", "name": "X-API-Key" }),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Ballast API",
            "description": "The public API of the Ballast shop, served by the gateway.",
            "version": env!("CARGO_PKG_VERSION"),
            "x-unavailable-services": missing,
        },
        "paths": paths,
        "components": components,
    })
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_operations_are_rewritten_and_the_rest_dropped() {
        let product = json!({
            "paths": {
                "/v1/products/{product_id}": {
                    "get": { "operationId": "get_product" },
                    "put": { "operationId": "update_product" },
                    "options": { "operationId": "not_published" }
                },
                "/v1/internal/reindex": { "post": { "operationId": "reindex" } }
            },
            "components": { "schemas": { "Product": { "type": "object" } } }
        });
        let user = json!({
            "paths": { "/v1/users/me": { "get": { "operationId": "me" } } },
            "components": { "schemas": { "User": { "type": "object" }, "Product": { "type": "string" } } }
        });
        let merged = merge(&[
            ("product", Some(product)),
            ("user", Some(user)),
            ("order", None),
        ]);
        let paths = &merged["paths"];
        let item = &paths["/api/v1/products/{product_id}"];
        assert_eq!(item["get"]["operationId"], "get_product");
        assert!(item["get"].get("security").is_none(), "public");
        assert!(item["put"]["security"].is_array(), "admin");
        assert!(item.get("options").is_none());
        assert!(paths.get("/api/v1/internal/reindex").is_none());
        assert_eq!(paths["/api/v1/users/me"]["get"]["operationId"], "me");
        let schemas = &merged["components"]["schemas"];
        assert_eq!(
            schemas["Product"]["type"], "object",
            "first definition wins"
        );
        assert_eq!(schemas["User"]["type"], "object");
        assert_eq!(merged["info"]["x-unavailable-services"], json!(["order"]));
        assert!(merged["components"]["securitySchemes"]["bearerAuth"].is_object());
    }
}
