//! `ballast bench`: `GET product by id` three ways in one run on this machine: (a) the product
//! instance directly with its full middleware, (b) through the gateway, (c) a bare axum
//! handler returning the same JSON. Closed loop: `concurrency` clients, `requests` each
//! variant, loopback only. The figures go to docs/BENCHMARKS.md; no test asserts on them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use ballast_kit::cache::MemoryBackend;
use ballast_kit::service::{Environment, Service, assemble, connect_instance};
use ballast_kit::store::StoreConfig;
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cli::BenchArgs;

/// The result of one variant.
#[derive(Debug, Serialize)]
pub struct Variant {
    /// What was measured.
    pub name: &'static str,
    /// Requests completed.
    pub requests: u64,
    /// Non-200 answers or transport errors.
    pub errors: u64,
    /// Requests per second.
    pub throughput: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
}

/// Runs the three variants and prints the table.
pub async fn run(args: BenchArgs) -> anyhow::Result<Vec<Variant>> {
    ballast_kit::client::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let mut auth = ballast_kit::auth::AuthConfig::default();
    auth.ensure_local_keys(&dir.path().join("keys"))?;
    let keys = Arc::new(ballast_kit::auth::Keys::load(&auth)?);
    let data_dir = dir.path().join("data");
    let bus_store =
        ballast_kit::store::Store::connect(&StoreConfig::default(), "bus", &data_dir).await?;
    let environment = Environment {
        data_dir,
        store: StoreConfig::default(),
        keys: keys.clone(),
        bus: Arc::new(ballast_kit::events::log::LogBus::open(bus_store).await?),
    };
    let shutdown = CancellationToken::new();

    // (a) the product instance.
    let service = ballast_product::ProductService;
    let context = connect_instance(
        &service,
        "product-bench".into(),
        &environment,
        Arc::new(MemoryBackend::new(10_000)),
    )
    .await?;
    context
        .store
        .migrate(service.name(), service.migrations())
        .await?;
    ballast_product::seed_catalog(&context.store).await?;
    let product_addr = spawn(assemble(&service, context), &shutdown).await?;
    let client = ballast_kit::client::http_client(Duration::from_secs(30))?;
    let page: serde_json::Value = client
        .get(format!("http://{product_addr}/v1/products?per_page=1"))
        .send()
        .await?
        .json()
        .await?;
    let id = page["items"][0]["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no seeded product"))?
        .to_owned();
    let body = client
        .get(format!("http://{product_addr}/v1/products/{id}"))
        .send()
        .await?
        .bytes()
        .await?;

    // (b) the gateway in front of it.
    let mut endpoints = ballast_gateway::Endpoints::new();
    endpoints.insert(
        "product".into(),
        vec![ballast_gateway::Endpoint {
            instance: "product-bench".into(),
            url: format!("http://{product_addr}"),
            ready: true,
        }],
    );
    let (_feed, rx) = tokio::sync::watch::channel(endpoints);
    let mut gateway_config = ballast_gateway::GatewayConfig::default();
    // Measure routing, not the anonymous rate limit.
    gateway_config.rate_limit.anonymous.rate_per_second = 1e9;
    gateway_config.rate_limit.anonymous.burst = u32::MAX / 2;
    let gateway_addr = spawn(
        ballast_gateway::router(gateway_config, keys, rx).await?,
        &shutdown,
    )
    .await?;

    // (c) a bare handler with the same JSON.
    let bare = Router::new().route(
        "/v1/products/{id}",
        get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }
        }),
    );
    let bare_addr = spawn(bare, &shutdown).await?;

    let variants = [
        (
            "bare axum handler",
            format!("http://{bare_addr}/v1/products/{id}"),
        ),
        (
            "product instance (full middleware)",
            format!("http://{product_addr}/v1/products/{id}"),
        ),
        (
            "through the gateway",
            format!("http://{gateway_addr}/api/v1/products/{id}"),
        ),
    ];
    let mut results = Vec::new();
    for (name, url) in variants {
        // Warm up connections and caches.
        measure(&client, &url, 200.min(args.requests), args.concurrency).await?;
        let (requests, errors, elapsed, histogram) =
            measure(&client, &url, args.requests, args.concurrency).await?;
        results.push(Variant {
            name,
            requests,
            errors,
            throughput: requests as f64 / elapsed.as_secs_f64(),
            p50_ms: histogram.value_at_quantile(0.5) as f64 / 1000.0,
            p99_ms: histogram.value_at_quantile(0.99) as f64 / 1000.0,
        });
    }
    shutdown.cancel();
    if args.markdown {
        println!(
            "| variant | requests | errors | req/s | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|"
        );
        for v in &results {
            println!(
                "| {} | {} | {} | {:.0} | {:.3} | {:.3} |",
                v.name, v.requests, v.errors, v.throughput, v.p50_ms, v.p99_ms
            );
        }
    } else {
        for v in &results {
            println!(
                "{:<36} {:>7} req  {:>4} err  {:>8.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms",
                v.name, v.requests, v.errors, v.throughput, v.p50_ms, v.p99_ms
            );
        }
    }
    Ok(results)
}

async fn spawn(
    router: Router,
    shutdown: &CancellationToken,
) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(ballast_kit::server::serve(
        listener,
        router,
        shutdown.clone(),
        CancellationToken::new(),
        Duration::from_secs(1),
    ));
    Ok(addr)
}

async fn measure(
    client: &reqwest::Client,
    url: &str,
    requests: u64,
    concurrency: usize,
) -> anyhow::Result<(u64, u64, Duration, Histogram<u64>)> {
    let remaining = Arc::new(std::sync::atomic::AtomicU64::new(requests));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let client = client.clone();
        let url = url.to_owned();
        let remaining = remaining.clone();
        workers.spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut errors = 0u64;
            let mut done = 0u64;
            while remaining
                .fetch_update(
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                    |n| n.checked_sub(1),
                )
                .is_ok()
            {
                let begun = Instant::now();
                match client.get(&url).send().await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                    }
                    _ => errors += 1,
                }
                histogram.record(
                    u64::try_from(begun.elapsed().as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1),
                )?;
                done += 1;
            }
            anyhow::Ok((done, errors, histogram))
        });
    }
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut done, mut errors) = (0, 0);
    while let Some(result) = workers.join_next().await {
        let (d, e, h) = result??;
        done += d;
        errors += e;
        total.add(&h)?;
    }
    Ok((done, errors, started.elapsed(), total))
}
