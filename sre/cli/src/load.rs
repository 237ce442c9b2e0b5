//! `ballast load`: synthetic users against the gateway, open loop at a target rate for a fixed
//! duration, loopback only, with a progress bar and a latency summary.
//!
//! Users register and log in first; then each tick starts one operation drawn from the mix
//! (place an order, browse a page, search, read a product, write a review) whether or not
//! earlier ones have finished, so a slow platform shows as latency and errors rather than as a
//! slower client. Placed orders are followed until they reach a terminal status (polling every
//! 100 ms, so order-to-terminal latency has that resolution); after the run the command waits
//! `--settle` for the rest.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;
use serde::Serialize;

use crate::cli::LoadArgs;

/// One kind of synthetic request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Read a product or two ("add to cart"), then `POST /orders`.
    PlaceOrder,
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
    /// Draws from the mix: `order_share` orders; the rest 40% browse, 20% search, 30% detail,
    /// 10% review. `roll` is uniform in [0, 1).
    fn draw(roll: f64, order_share: f64) -> Self {
        if roll < order_share {
            return Self::PlaceOrder;
        }
        let rest = (roll - order_share) / (1.0 - order_share).max(f64::EPSILON);
        match (rest * 100.0) as u32 {
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
    /// Request latency percentiles in milliseconds.
    pub latency_ms: Percentiles,
    /// Achieved request rate.
    pub rate_per_second: f64,
    /// Wall time of the load phase, seconds.
    pub elapsed_seconds: f64,
    /// Orders placed and what became of them.
    pub orders: OrderSummary,
}

/// What became of the orders.
#[derive(Debug, Default, Serialize)]
pub struct OrderSummary {
    /// `POST /orders` answered 200 or 202.
    pub accepted: u64,
    /// `POST /orders` answered anything else.
    pub rejected: u64,
    /// Reached `confirmed` (or `shipped`, `delivered`).
    pub confirmed: u64,
    /// Reached `failed`.
    pub failed: u64,
    /// Reached `cancelled`.
    pub cancelled: u64,
    /// Still not terminal when the settle time ran out.
    pub unsettled: u64,
    /// Placed with the declining card.
    pub declining_cards: u64,
    /// Order placed to terminal status observed, milliseconds.
    pub to_terminal_ms: Percentiles,
}

/// Latency percentiles, milliseconds.
#[derive(Debug, Default, Serialize)]
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

impl Percentiles {
    fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        Self {
            p50: ms(0.50),
            p95: ms(0.95),
            p99: ms(0.99),
            max: histogram.max() as f64 / 1000.0,
        }
    }
}

struct PendingOrder {
    token: usize,
    placed: Instant,
}

struct Shared {
    histogram: Mutex<Histogram<u64>>,
    by_status: Mutex<BTreeMap<String, u64>>,
    by_operation: Mutex<BTreeMap<Operation, u64>>,
    pending: Mutex<HashMap<String, PendingOrder>>,
    orders: Mutex<OrderSummary>,
    to_terminal: Mutex<Histogram<u64>>,
    record: Mutex<Option<std::fs::File>>,
}

struct World {
    client: reqwest::Client,
    base: String,
    tokens: Vec<String>,
    products: Vec<String>,
    words: Vec<String>,
    decline_share: f64,
}

/// Runs the load and prints the summary.
pub async fn run(args: LoadArgs) -> anyhow::Result<Summary> {
    ensure_loopback(&args.gateway)?;
    anyhow::ensure!(
        args.rate > 0.0 && args.rate <= 10_000.0,
        "--rate must be between 0 and 10000"
    );
    anyhow::ensure!(
        *args.duration <= Duration::from_secs(3600) && *args.settle <= Duration::from_secs(3600),
        "--duration and --settle are capped at 1h"
    );
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.order_share) && (0.0..=1.0).contains(&args.decline_share),
        "--order-share and --decline-share must be between 0 and 1"
    );
    let client = ballast_kit::client::http_client(Duration::from_secs(30))?;
    let base = format!("{}/api/v1", args.gateway.trim_end_matches('/'));
    let mut world = prepare(client, base, args.users).await?;
    world.decline_share = args.decline_share;
    let world = Arc::new(world);
    let record = match &args.record {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| anyhow::anyhow!("--record {}: {e}", path.display()))?,
        ),
        None => None,
    };

    let shared = Arc::new(Shared {
        histogram: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
        by_status: Mutex::new(BTreeMap::new()),
        by_operation: Mutex::new(BTreeMap::new()),
        pending: Mutex::new(HashMap::new()),
        orders: Mutex::new(OrderSummary::default()),
        to_terminal: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3)?),
        record: Mutex::new(record),
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
    let tracker_stop = tokio_util::sync::CancellationToken::new();
    let tracker = tokio::spawn(track_orders(
        world.clone(),
        shared.clone(),
        tracker_stop.clone(),
    ));

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
        let order_share = args.order_share;
        tasks.spawn(async move {
            let operation = Operation::draw(rand::random::<f64>(), order_share);
            let begun = Instant::now();
            let outcome = perform(&world, &shared, operation, sequence).await;
            let micros = u64::try_from(begun.elapsed().as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            let _ = shared.histogram.lock().record(micros);
            *shared.by_status.lock().entry(outcome).or_default() += 1;
            *shared.by_operation.lock().entry(operation).or_default() += 1;
            bar.inc(1);
            let pending = shared.pending.lock().len();
            if pending > 0 {
                bar.set_message(format!("({pending} orders in flight)"));
            }
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();

    // Settle: wait for the orders still in flight.
    let settle_deadline = Instant::now() + *args.settle;
    while !shared.pending.lock().is_empty() && Instant::now() < settle_deadline {
        bar.set_message(format!(
            "settling: {} orders not terminal yet",
            shared.pending.lock().len()
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracker_stop.cancel();
    let _ = tracker.await;
    bar.finish_and_clear();

    let by_status = shared.by_status.lock().clone();
    let requests: u64 = by_status.values().sum();
    let succeeded = by_status
        .iter()
        .filter(|(code, _)| code.starts_with('2') || code.as_str() == "409")
        .map(|(_, n)| n)
        .sum();
    let mut orders = std::mem::take(&mut *shared.orders.lock());
    orders.unsettled = u64::try_from(shared.pending.lock().len()).unwrap_or(u64::MAX);
    orders.to_terminal_ms = Percentiles::of(&shared.to_terminal.lock());
    let summary = Summary {
        requests,
        succeeded,
        by_status,
        dropped,
        by_operation: shared.by_operation.lock().clone(),
        latency_ms: Percentiles::of(&shared.histogram.lock()),
        rate_per_second: requests as f64 / elapsed.max(1e-9),
        elapsed_seconds: elapsed,
        orders,
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
        let name = serde_json::to_string(operation).unwrap_or_default();
        out.push_str(&format!(" {}={n}", name.trim_matches('"')));
    }
    let l = &summary.latency_ms;
    out.push_str(&format!(
        "\nlatency   p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms\n",
        l.p50, l.p95, l.p99, l.max
    ));
    let o = &summary.orders;
    if o.accepted + o.rejected > 0 {
        let t = &o.to_terminal_ms;
        out.push_str(&format!(
            "orders    accepted {} (declining cards {}), rejected {}; confirmed {}, failed {}, cancelled {}, not terminal {}\n",
            o.accepted, o.declining_cards, o.rejected, o.confirmed, o.failed, o.cancelled, o.unsettled
        ));
        out.push_str(&format!(
            "to terminal p50 {:.0} ms  p95 {:.0} ms  p99 {:.0} ms  max {:.0} ms\n",
            t.p50, t.p95, t.p99, t.max
        ));
    }
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
    let run = format!("{:016x}", rand::random::<u64>());
    let mut tokens = Vec::with_capacity(users);
    for i in 0..users.max(1) {
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
        decline_share: 0.0,
    })
}

fn pick(n: usize) -> usize {
    (rand::random::<u64>() as usize) % n.max(1)
}

/// Performs one operation; returns the status code, or `transport` when no response came.
async fn perform(world: &World, shared: &Shared, operation: Operation, sequence: u64) -> String {
    let request = match operation {
        Operation::PlaceOrder => return place_order(world, shared).await,
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
    status_of(request.send().await).await
}

async fn status_of(result: reqwest::Result<reqwest::Response>) -> String {
    match result {
        Ok(response) => {
            let status = response.status().as_u16().to_string();
            let _ = response.bytes().await;
            status
        }
        Err(_) => "transport".to_owned(),
    }
}

/// Reads one or two different products ("adds them to the cart", as a cart holds each product
/// once: the order service refuses a repeated product with 422) and places the order.
async fn place_order(world: &World, shared: &Shared) -> String {
    let token_index = pick(world.tokens.len());
    let token = &world.tokens[token_index];
    let mut lines = Vec::new();
    let mut chosen: Vec<&String> = Vec::new();
    for _ in 0..(1 + pick(2)).min(world.products.len()) {
        let mut product = &world.products[pick(world.products.len())];
        while chosen.contains(&product) {
            product = &world.products[pick(world.products.len())];
        }
        chosen.push(product);
        let status = status_of(
            world
                .client
                .get(format!("{}/products/{product}", world.base))
                .send()
                .await,
        )
        .await;
        if status != "200" {
            return status;
        }
        lines.push(serde_json::json!({ "product_id": product, "quantity": 1 + pick(2) }));
    }
    let declining = rand::random::<f64>() < world.decline_share;
    let key = uuid_like();
    let placed = Instant::now();
    let body = serde_json::json!({
        "lines": lines,
        "card_token": if declining { "tok_decline" } else { "tok_ok" },
        "shipping_address": {
            "name": "Load User", "line1": "1 Loopback Way", "city": "Localhost",
            "postal_code": "12345", "country": "US",
        },
    });
    // A lost answer (an instance crashed mid-request) is retried with the same key, as a
    // careful client does: the key makes the retry safe.
    let mut attempt = 0;
    let response = loop {
        attempt += 1;
        let response = world
            .client
            .post(format!("{}/orders", world.base))
            .bearer_auth(token)
            .header("Idempotency-Key", &key)
            .json(&body)
            .send()
            .await;
        let retry = match &response {
            Ok(r) => matches!(r.status().as_u16(), 502..=504),
            Err(_) => true,
        };
        if !retry || attempt >= 4 {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
    };
    let Ok(response) = response else {
        shared.orders.lock().rejected += 1;
        return "transport".to_owned();
    };
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let id = body["id"].as_str().map(str::to_owned);
    match (status.as_u16(), id) {
        (200..=202, Some(id)) => {
            {
                let mut orders = shared.orders.lock();
                orders.accepted += 1;
                if declining {
                    orders.declining_cards += 1;
                }
            }
            if let Some(file) = shared.record.lock().as_mut() {
                let line = serde_json::json!({ "order_id": id, "idempotency_key": key });
                let _ = writeln!(file, "{line}");
            }
            shared.pending.lock().insert(
                id,
                PendingOrder {
                    token: token_index,
                    placed,
                },
            );
        }
        _ => shared.orders.lock().rejected += 1,
    }
    status.as_u16().to_string()
}

/// Polls the orders in flight until each is terminal.
async fn track_orders(
    world: Arc<World>,
    shared: Arc<Shared>,
    stop: tokio_util::sync::CancellationToken,
) {
    while !stop.is_cancelled() {
        let snapshot: Vec<(String, usize)> = shared
            .pending
            .lock()
            .iter()
            .map(|(id, p)| (id.clone(), p.token))
            .collect();
        futures::stream::iter(snapshot)
            .for_each_concurrent(16, |(id, token)| {
                let world = world.clone();
                let shared = shared.clone();
                async move {
                    let Ok(response) = world
                        .client
                        .get(format!("{}/orders/{id}", world.base))
                        .bearer_auth(&world.tokens[token])
                        .send()
                        .await
                    else {
                        return;
                    };
                    let Ok(body) = response.json::<serde_json::Value>().await else {
                        return;
                    };
                    let status = body["status"].as_str().unwrap_or_default();
                    if !matches!(
                        status,
                        "confirmed" | "shipped" | "delivered" | "failed" | "cancelled"
                    ) {
                        return;
                    }
                    let Some(pending) = shared.pending.lock().remove(&id) else {
                        return;
                    };
                    let micros = u64::try_from(pending.placed.elapsed().as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1);
                    let _ = shared.to_terminal.lock().record(micros);
                    let mut orders = shared.orders.lock();
                    match status {
                        "failed" => orders.failed += 1,
                        "cancelled" => orders.cancelled += 1,
                        _ => orders.confirmed += 1,
                    }
                }
            })
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn uuid_like() -> String {
    format!("load-{:032x}", rand::random::<u128>())
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
        for i in 0..1000 {
            let roll = (f64::from(i) + 0.5) / 1000.0;
            *counts.entry(Operation::draw(roll, 0.2)).or_insert(0) += 1;
        }
        assert_eq!(counts[&Operation::PlaceOrder], 200);
        assert_eq!(counts[&Operation::Browse], 320);
        assert_eq!(counts[&Operation::Search], 160);
        assert_eq!(counts[&Operation::Detail], 240);
        assert_eq!(counts[&Operation::Review], 80);
        assert_eq!(Operation::draw(0.99, 0.0), Operation::Review);
    }
}
