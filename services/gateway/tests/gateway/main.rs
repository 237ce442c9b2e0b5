//! Integration tests: stand-in upstreams and the gateway on loopback port 0, driven over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod auth;
mod limits;
mod openapi;
mod routing;
mod shared_limits;
mod shedding;
mod support;
