//! The public route table: one [`Rule`] per public operation, as data.
//!
//! `/api/v1/<rest>` is proxied to `/v1/<rest>` on the rule's upstream service. Adding an
//! operation of a new service is one line in [`ROUTES`].

use axum::routing::MethodFilter;
use ballast_kit::auth::Role;

/// An HTTP method a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    /// `GET` (and `HEAD`).
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl Verb {
    /// The axum method filter.
    pub fn filter(self) -> MethodFilter {
        match self {
            Self::Get => MethodFilter::GET,
            Self::Post => MethodFilter::POST,
            Self::Put => MethodFilter::PUT,
            Self::Patch => MethodFilter::PATCH,
            Self::Delete => MethodFilter::DELETE,
        }
    }

    /// The method name (`GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// The lowercase name, as OpenAPI path items use it.
    pub fn openapi_name(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Put => "put",
            Self::Patch => "patch",
            Self::Delete => "delete",
        }
    }
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Public,
    /// Any authenticated principal (token or API key).
    Authenticated,
    /// A principal holding at least one of these roles.
    Roles(&'static [Role]),
}

/// One public operation and where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The method.
    pub method: Verb,
    /// The public path template (`/api/v1/products/{id}`).
    pub path: &'static str,
    /// The owning service (`product`), a key of the endpoints map.
    pub upstream: &'static str,
    /// Who may call it.
    pub access: Access,
}

const fn rule(method: Verb, path: &'static str, upstream: &'static str, access: Access) -> Rule {
    Rule {
        method,
        path,
        upstream,
        access,
    }
}

use Access::{Authenticated, Public};
use Verb::{Delete, Get, Patch, Post, Put};

const ADMIN: Access = Access::Roles(&[Role::Admin]);

/// Every public operation.
pub static ROUTES: &[Rule] = &[
    // user
    rule(Post, "/api/v1/users", "user", Public),
    rule(Post, "/api/v1/auth/login", "user", Public),
    rule(Get, "/api/v1/users/me", "user", Authenticated),
    rule(Patch, "/api/v1/users/me", "user", Authenticated),
    rule(Get, "/api/v1/users", "user", ADMIN),
    rule(Get, "/api/v1/users/{id}", "user", ADMIN),
    rule(Put, "/api/v1/users/{id}/roles", "user", ADMIN),
    // product
    rule(Get, "/api/v1/categories", "product", Public),
    rule(Post, "/api/v1/categories", "product", ADMIN),
    rule(Get, "/api/v1/products", "product", Public),
    rule(Post, "/api/v1/products", "product", ADMIN),
    rule(Get, "/api/v1/products/{id}", "product", Public),
    rule(Put, "/api/v1/products/{id}", "product", ADMIN),
    rule(Delete, "/api/v1/products/{id}", "product", ADMIN),
    rule(Get, "/api/v1/products/{id}/reviews", "product", Public),
    rule(
        Post,
        "/api/v1/products/{id}/reviews",
        "product",
        Authenticated,
    ),
    // order
    rule(Post, "/api/v1/orders", "order", Authenticated),
    rule(Get, "/api/v1/orders", "order", Authenticated),
    rule(Get, "/api/v1/orders/{id}", "order", Authenticated),
    rule(Post, "/api/v1/orders/{id}/cancel", "order", Authenticated),
    // inventory
    rule(Get, "/api/v1/inventory/{product_id}", "inventory", Public),
    rule(Put, "/api/v1/inventory/{product_id}", "inventory", ADMIN),
    rule(
        Post,
        "/api/v1/inventory/{product_id}/restock",
        "inventory",
        ADMIN,
    ),
    // payment
    rule(Get, "/api/v1/payments/{id}", "payment", Authenticated),
    rule(Post, "/api/v1/payments/{id}/refunds", "payment", ADMIN),
    // shipping
    rule(Post, "/api/v1/shipping/quote", "shipping", Public),
    rule(Get, "/api/v1/shipments", "shipping", Authenticated),
    rule(Get, "/api/v1/shipments/{id}", "shipping", Authenticated),
    rule(
        Post,
        "/api/v1/shipments/{id}/returns",
        "shipping",
        Authenticated,
    ),
    // notification
    rule(Get, "/api/v1/notifications", "notification", Authenticated),
];

/// The upstream path of a public request path: `/api/v1/x` becomes `/v1/x`.
pub fn upstream_path(public: &str) -> Option<&str> {
    public
        .strip_prefix("/api")
        .filter(|rest| rest.starts_with("/v1/"))
}

/// Whether an upstream OpenAPI path template (`/v1/products/{product_id}`) is the same
/// operation path as a public rule path (`/api/v1/products/{id}`); parameter names may differ.
pub fn same_template(upstream: &str, public: &str) -> bool {
    let Some(public) = upstream_path(public) else {
        return false;
    };
    let is_param = |segment: &str| segment.starts_with('{') && segment.ends_with('}');
    let left: Vec<&str> = upstream.split('/').collect();
    let right: Vec<&str> = public.split('/').collect();
    left.len() == right.len()
        && left
            .iter()
            .zip(&right)
            .all(|(a, b)| a == b || (is_param(a) && is_param(b)))
}

/// The rule an upstream operation is published under, if any.
pub fn public_rule(upstream: &str, method: &str, path: &str) -> Option<&'static Rule> {
    ROUTES.iter().find(|rule| {
        rule.upstream == upstream
            && rule.method.openapi_name() == method
            && same_template(path, rule.path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_rule_is_unique_and_under_api_v1() {
        let mut seen = BTreeSet::new();
        for rule in ROUTES {
            assert!(upstream_path(rule.path).is_some(), "{}", rule.path);
            assert!(seen.insert((rule.method, rule.path)), "duplicate {rule:?}");
        }
    }

    #[test]
    fn templates_match_regardless_of_parameter_names() {
        assert!(same_template(
            "/v1/products/{product_id}",
            "/api/v1/products/{id}"
        ));
        assert!(!same_template(
            "/v1/products/{id}/reviews",
            "/api/v1/products/{id}"
        ));
        assert!(!same_template("/v1/users/me", "/api/v1/users/{id}"));
        let rule = public_rule("user", "get", "/v1/users/me");
        assert_eq!(rule.map(|r| r.access), Some(Access::Authenticated));
        assert!(public_rule("user", "delete", "/v1/users/{id}").is_none());
    }
}
