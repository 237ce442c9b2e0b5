//! Outgoing HTTP: one rustls crypto provider for the process, and clients whose requests carry
//! the current trace context.

use std::sync::Once;
use std::time::Duration;

static PROVIDER: Once = Once::new();

/// Installs ring as the process' rustls crypto provider (idempotent). Must run before the first
/// TLS client is built; every entry point calls it.
pub fn install_crypto_provider() {
    PROVIDER.call_once(|| {
        // Err means another provider is installed already, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client for calls between components: pooled keep-alive connections, bounded connect time.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()?)
}

/// Adds the current span's `traceparent` to an outgoing request.
pub fn traced(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let mut headers = http::HeaderMap::new();
    crate::telemetry::inject_current(&mut headers);
    request.headers(headers)
}
