//! `ballast load`: synthetic users against the gateway, open loop at a target rate for a fixed
//! duration, loopback only, with a progress bar and a latency summary.
//!
//! Users register and log in first; then each tick starts one operation drawn from the mix
//! (browse a page, search, read a product, write a review) whether or not earlier ones have
//! finished, so a slow platform shows as latency and errors rather than as a slower client.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;
use serde::Serialize;

use crate::cli::LoadArgs;

/// One kind of synthetic request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `GET /products?page=N`.
    Browse,
    /// `GET /products?q=WORD`.
    Search,
    /// `GET /products/{id}`.
    Detail,
    /// `POST /products/{id}/reviews`.
    Review,
}

impl Operation {
    /// Draws from the mix: 40% browse, 20% search, 30% detail, 10% review.
    fn draw(roll: u32) -> Self {
        match roll % 100 {
            0..40 => Self::Browse,
            40..60 => Self::Search,
            60..90 => Self::Detail,
            _ => Self::Review,
        }
    }
}

/// The outcome of a run.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Requests started.
    pub requests: u64,
    /// Requests that got a 2xx (or an expected 409 for a repeated review).
    pub succeeded: u64,
    /// Responses by status code, plus `transport` for requests that got none.
    pub by_status: BTreeMap<String, u64>,
    /// Requests not started because `max_in_flight` were outstanding.
    pub dropped: u64,
    /// Requests per operation.
    pub by_operation: BTreeMap<Operation, u64>,
    /// Latency percentiles in milliseconds.
    pub latency_ms: Percentiles,
    /// Achieved request rate.
    pub rate_per_second: f64,
    /// Wall time of the run, seconds.
    pub elapsed_seconds: f64,
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

struct Shared {
    histogram: Mutex<Histogram<u64>>,
    by_status: Mutex<BTreeMap<String, u64>>,
    by_operation: Mutex<BTreeMap<Operation, u64>>,
}

struct World {
    client: reqwest::Client,
    base: String,
    tokens: Vec<String>,
    products: Vec<String>,
    words: Vec<String>,
}

/// Runs the load and prints the summary.
pub async fn run(args: LoadArgs) -> anyhow::Result<Summary> {
    ensure_loopback(&args.gateway)?;
    anyhow::ensure!(
        args.rate > 0.0 && args.rate <= 10_000.0,
        "--rate must be between 0 and 10000"
    );
    anyhow::ensure!(
        *args.duration <= Duration::from_secs(3600),
        "--duration is capped at 1h"
    );
    let client = ballast_kit::client::http_client(Duration::from_secs(30))?;
    let base = format!("{}/api/v1", args.gateway.trim_end_matches('/'));
    let world = Arc::new(prepare(client, base, args.users).await?);

    let shared = Arc::new(Shared {
        histogram: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        by_status: Mutex::new(BTreeMap::new()),
        by_operation: Mutex::new(BTreeMap::new()),
    });
    let total = (args.rate * args.duration.as_secs_f64()).ceil() as u64;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} requests {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let semaphore = Arc::new(tokio::sync::Semaphore::new(args.max_in_flight.max(1)));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut dropped = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    for sequence in 0..total {
        ticker.tick().await;
        let Ok(permit) = semaphore.clone().try_acquire_owned() else {
            dropped += 1;
            continue;
        };
        let world = world.clone();
        let shared = shared.clone();
        let bar = bar.clone();
        tasks.spawn(async move {
            let operation = Operation::draw(rand::random::<u32>());
            let begun = Instant::now();
            let outcome = perform(&world, operation, sequence).await;
            let micros = u64::try_from(begun.elapsed().as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            let _ = shared.histogram.lock().record(micros);
            *shared.by_status.lock().entry(outcome).or_default() += 1;
            *shared.by_operation.lock().entry(operation).or_default() += 1;
            bar.inc(1);
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();

    let histogram = shared.histogram.lock();
    let by_status = shared.by_status.lock().clone();
    let requests: u64 = by_status.values().sum();
    let succeeded = by_status
        .iter()
        .filter(|(code, _)| code.starts_with('2') || code.as_str() == "409")
        .map(|(_, n)| n)
        .sum();
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    let summary = Summary {
        requests,
        succeeded,
        by_status,
        dropped,
        by_operation: shared.by_operation.lock().clone(),
        latency_ms: Percentiles {
            p50: ms(0.50),
            p95: ms(0.95),
            p99: ms(0.99),
            max: histogram.max() as f64 / 1000.0,
        },
        rate_per_second: requests as f64 / elapsed.max(1e-9),
        elapsed_seconds: elapsed,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", render(&summary));
    }
    Ok(summary)
}

fn render(summary: &Summary) -> String {
    let mut out = format!(
        "requests {} in {:.1}s ({:.1}/s), succeeded {}, dropped {}\n",
        summary.requests,
        summary.elapsed_seconds,
        summary.rate_per_second,
        summary.succeeded,
        summary.dropped
    );
    out.push_str("status   ");
    for (code, n) in &summary.by_status {
        out.push_str(&format!(" {code}={n}"));
    }
    out.push_str("\noperation");
    for (operation, n) in &summary.by_operation {
        out.push_str(&format!(
            " {}={n}",
            serde_json::to_string(operation)
                .unwrap_or_default()
                .trim_matches('"')
        ));
    }
    out.push_str(&format!(
        "\nlatency   p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms\n",
        summary.latency_ms.p50,
        summary.latency_ms.p95,
        summary.latency_ms.p99,
        summary.latency_ms.max
    ));
    out
}

/// Refuses any target but this machine.
fn ensure_loopback(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("--gateway {url:?}: {e}"))?;
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']']);
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(
        loopback,
        "ballast load only targets loopback addresses, not {host:?}"
    );
    Ok(())
}

/// Registers and logs in the users, and reads the catalog to draw products and words from.
async fn prepare(client: reqwest::Client, base: String, users: usize) -> anyhow::Result<World> {
    let run = uuid_like();
    let mut tokens = Vec::with_capacity(users);
    for i in 0..users {
        let email = format!("load-{run}-{i}@example.com");
        let password = format!("pw-{run}-{i}-load");
        let response = client
            .post(format!("{base}/users"))
            .json(&serde_json::json!({ "email": email, "password": password, "name": format!("Load User {i}") }))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "registering a load user: {}",
            response.status()
        );
        let login: serde_json::Value = client
            .post(format!("{base}/auth/login"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = login["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("login answered no access_token"))?;
        tokens.push(token.to_owned());
    }
    let page: serde_json::Value = client
        .get(format!("{base}/products?per_page=100"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let products: Vec<String> = items
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    let words: Vec<String> = items
        .iter()
        .filter_map(|p| p["name"].as_str())
        .flat_map(|name| {
            name.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .filter(|w| w.len() > 3 && w.chars().all(char::is_alphabetic))
        .collect();
    anyhow::ensure!(
        !products.is_empty(),
        "the catalog is empty; is the platform seeded?"
    );
    Ok(World {
        client,
        base,
        tokens,
        products,
        words,
    })
}

fn uuid_like() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Performs one operation; returns the status code, or `transport` when no response came.
async fn perform(world: &World, operation: Operation, sequence: u64) -> String {
    let pick = |n: usize| (rand::random::<u64>() as usize) % n.max(1);
    let request = match operation {
        Operation::Browse => world.client.get(format!(
            "{}/products?page={}&per_page=20",
            world.base,
            1 + pick(10)
        )),
        Operation::Search => {
            let word = world
                .words
                .get(pick(world.words.len()))
                .map_or("coffee", String::as_str);
            world
                .client
                .get(format!("{}/products?q={word}", world.base))
        }
        Operation::Detail => world.client.get(format!(
            "{}/products/{}",
            world.base,
            world.products[pick(world.products.len())]
        )),
        Operation::Review => {
            let token = &world.tokens[pick(world.tokens.len())];
            world
                .client
                .post(format!(
                    "{}/products/{}/reviews",
                    world.base,
                    world.products[pick(world.products.len())]
                ))
                .bearer_auth(token)
                .json(&serde_json::json!({
                    "rating": 1 + (sequence % 5),
                    "title": "Synthetic review",
                    "body": "Written by ballast load.",
                }))
        }
    };
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16().to_string();
            let _ = response.bytes().await;
            status
        }
        Err(_) => "transport".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert!(ensure_loopback("http://127.0.0.1:8080").is_ok());
        assert!(ensure_loopback("http://localhost:8080").is_ok());
        assert!(ensure_loopback("http://[::1]:8080").is_ok());
        assert!(ensure_loopback("http://10.0.0.1:8080").is_err());
        assert!(ensure_loopback("http://example.com").is_err());
    }

    #[test]
    fn the_mix_covers_every_operation_in_proportion() {
        let mut counts = BTreeMap::new();
        for roll in 0..100 {
            *counts.entry(Operation::draw(roll)).or_insert(0) += 1;
        }
        assert_eq!(counts[&Operation::Browse], 40);
        assert_eq!(counts[&Operation::Search], 20);
        assert_eq!(counts[&Operation::Detail], 30);
        assert_eq!(counts[&Operation::Review], 10);
    }
}
