//! `ballast verify`: reads every service's state through its audit endpoints (never another
//! service's database) and checks the shop's invariants. Each violation is printed with the
//! ids involved; the exit status is non-zero when there is one.
//!
//! The invariants: no accepted order lost; every order terminal or within its deadline; a
//! confirmed order has exactly one captured charge and a committed reservation; a failed or
//! cancelled order has no live reservation and no un-refunded charge; stock is never negative
//! and is conserved (initial + restocked = available + reserved + sold); every outbox event was
//! delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cli::VerifyArgs;

/// An order as the order service's audit endpoint reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditOrder {
    /// Order id.
    pub id: String,
    /// Status.
    pub status: String,
    /// The idempotency key it was accepted under.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Saga deadline (or, while compensating, the next re-send), Unix ms.
    #[serde(default)]
    pub deadline_at_ms: Option<i64>,
}

/// A stock record.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditStock {
    /// Product id.
    pub product_id: String,
    /// Initial stock.
    pub initial: i64,
    /// Restocked since.
    pub restocked: i64,
    /// Available now.
    pub available: i64,
    /// Held by reservations.
    pub reserved: i64,
    /// Sold (committed reservations).
    pub sold: i64,
}

/// A reservation.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditReservation {
    /// Order id.
    pub order_id: String,
    /// held, committed, released, expired.
    pub status: String,
}

/// A charge.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditCharge {
    /// Order id.
    pub order_id: String,
    /// pending, captured, declined, voided.
    pub status: String,
    /// Amount charged, minor units.
    pub amount_minor: i64,
    /// Refunded so far, minor units.
    #[serde(default)]
    pub refunded_minor: i64,
}

/// One service's outbox.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditOutbox {
    /// Events not yet published.
    pub pending: i64,
}

/// An accepted order as `ballast load --record` wrote it.
#[derive(Debug, Clone, Deserialize)]
pub struct Accepted {
    /// Order id.
    pub order_id: String,
    /// The key it was placed with.
    pub idempotency_key: String,
}

/// Everything verify reads.
#[derive(Debug, Default)]
pub struct State {
    /// Orders.
    pub orders: Vec<AuditOrder>,
    /// Stock records.
    pub stock: Vec<AuditStock>,
    /// Reservations.
    pub reservations: Vec<AuditReservation>,
    /// Charges.
    pub charges: Vec<AuditCharge>,
    /// Outbox per service.
    pub outboxes: BTreeMap<String, AuditOutbox>,
    /// Orders the client saw accepted.
    pub accepted: Vec<Accepted>,
    /// Now, Unix ms.
    pub now: i64,
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which invariant.
    pub invariant: &'static str,
    /// The ids involved.
    pub ids: Vec<String>,
    /// What is wrong.
    pub detail: String,
}

const TERMINAL: &[&str] = &["confirmed", "shipped", "delivered", "failed", "cancelled"];

fn violation(invariant: &'static str, ids: &[&str], detail: String) -> Violation {
    Violation {
        invariant,
        ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        detail,
    }
}

/// Checks every invariant over `state`.
pub fn check(state: &State) -> Vec<Violation> {
    let mut violations = Vec::new();
    let orders: BTreeMap<&str, &AuditOrder> =
        state.orders.iter().map(|o| (o.id.as_str(), o)).collect();

    for accepted in &state.accepted {
        match orders.get(accepted.order_id.as_str()) {
            None => violations.push(violation(
                "no order lost",
                &[&accepted.order_id, &accepted.idempotency_key],
                "accepted by the API but unknown to the order service".into(),
            )),
            Some(order) => {
                if let Some(key) = &order.idempotency_key
                    && key != &accepted.idempotency_key
                {
                    violations.push(violation(
                        "no order lost",
                        &[&order.id],
                        format!(
                            "idempotency key {key} differs from the accepted {}",
                            accepted.idempotency_key
                        ),
                    ));
                }
            }
        }
    }

    let mut charges: BTreeMap<&str, Vec<&AuditCharge>> = BTreeMap::new();
    for charge in &state.charges {
        charges
            .entry(charge.order_id.as_str())
            .or_default()
            .push(charge);
    }
    let mut reservations: BTreeMap<&str, Vec<&AuditReservation>> = BTreeMap::new();
    for reservation in &state.reservations {
        reservations
            .entry(reservation.order_id.as_str())
            .or_default()
            .push(reservation);
    }
    let unrefunded =
        |c: &&&AuditCharge| c.status == "captured" && c.refunded_minor < c.amount_minor;

    for order in &state.orders {
        let status = order.status.as_str();
        let order_charges = charges.get(order.id.as_str()).cloned().unwrap_or_default();
        let order_reservations = reservations
            .get(order.id.as_str())
            .cloned()
            .unwrap_or_default();
        if !TERMINAL.contains(&status) {
            match order.deadline_at_ms {
                Some(deadline) if state.now > deadline => violations.push(violation(
                    "every order terminal or within its deadline",
                    &[&order.id],
                    format!(
                        "still {status} {} ms after its deadline",
                        state.now - deadline
                    ),
                )),
                _ => {}
            }
            continue;
        }
        if matches!(status, "confirmed" | "shipped" | "delivered") {
            let captured: Vec<_> = order_charges.iter().filter(unrefunded).collect();
            if captured.len() != 1 {
                violations.push(violation(
                    "a confirmed order has exactly one captured charge",
                    &[&order.id],
                    format!("{} captured, un-refunded charges", captured.len()),
                ));
            }
            if !order_reservations.iter().any(|r| r.status == "committed") {
                violations.push(violation(
                    "a confirmed order has a committed reservation",
                    &[&order.id],
                    format!(
                        "reservations: {:?}",
                        order_reservations
                            .iter()
                            .map(|r| &r.status)
                            .collect::<Vec<_>>()
                    ),
                ));
            }
        } else {
            if let Some(live) = order_reservations
                .iter()
                .find(|r| r.status == "held" || r.status == "committed")
            {
                violations.push(violation(
                    "a failed order has no live reservation",
                    &[&order.id],
                    format!("order {status}, reservation {}", live.status),
                ));
            }
            for charge in order_charges.iter().filter(unrefunded) {
                violations.push(violation(
                    "a failed order has no un-refunded charge",
                    &[&order.id],
                    format!(
                        "order {status}, charge of {} with {} refunded",
                        charge.amount_minor, charge.refunded_minor
                    ),
                ));
            }
            if let Some(pending) = order_charges.iter().find(|c| c.status == "pending") {
                violations.push(violation(
                    "a failed order has no un-refunded charge",
                    &[&order.id],
                    format!("order {status}, charge still {}", pending.status),
                ));
            }
        }
    }
    let known: BTreeSet<&str> = orders.keys().copied().collect();
    for charge in &state.charges {
        if !known.contains(charge.order_id.as_str()) {
            violations.push(violation(
                "every charge belongs to an order",
                &[&charge.order_id],
                format!("a {} charge for an unknown order", charge.status),
            ));
        }
    }

    for stock in &state.stock {
        let figures = [stock.available, stock.reserved, stock.sold];
        if figures.iter().any(|&n| n < 0) {
            violations.push(violation(
                "stock never negative",
                &[&stock.product_id],
                format!(
                    "available {}, reserved {}, sold {}",
                    stock.available, stock.reserved, stock.sold
                ),
            ));
        }
        let left = stock.initial + stock.restocked;
        let right = stock.available + stock.reserved + stock.sold;
        if left != right {
            violations.push(violation(
                "stock conserved",
                &[&stock.product_id],
                format!(
                    "initial {} + restocked {} = {left}, but available {} + reserved {} + sold {} = {right}",
                    stock.initial, stock.restocked, stock.available, stock.reserved, stock.sold
                ),
            ));
        }
    }

    for (service, outbox) in &state.outboxes {
        if outbox.pending > 0 {
            violations.push(violation(
                "every outbox event delivered",
                &[service],
                format!("{} events not yet published", outbox.pending),
            ));
        }
    }
    violations
}

/// Reads the accepted-orders file `ballast load --record` writes.
pub fn read_accepted(path: &Path) -> anyhow::Result<Vec<Accepted>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), n + 1))
        })
        .collect()
}

/// Runs verify against a running platform; returns the violations.
pub async fn run(args: VerifyArgs) -> anyhow::Result<Vec<Violation>> {
    let client = ballast_kit::client::http_client(std::time::Duration::from_secs(30))?;
    let instances: Vec<serde_json::Value> = client
        .get(format!("http://{}/instances", args.admin_addr))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("admin listener {} unreachable: {e}", args.admin_addr))?
        .error_for_status()?
        .json()
        .await?;
    let mut addresses: BTreeMap<String, String> = BTreeMap::new();
    for instance in &instances {
        if instance["ready"] == true
            && let (Some(service), Some(address)) =
                (instance["service"].as_str(), instance["address"].as_str())
        {
            addresses
                .entry(service.to_owned())
                .or_insert_with(|| format!("http://{address}"));
        }
    }
    let at = |service: &str| {
        addresses
            .get(service)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no ready instance of {service}"))
    };
    let token = match args.token.clone() {
        Some(token) => token,
        None => login(&client, &at("user")?).await?,
    };
    let get = |url: String| {
        let client = client.clone();
        let token = token.clone();
        async move {
            let response = client.get(&url).bearer_auth(&token).send().await?;
            let status = response.status();
            anyhow::ensure!(status.is_success(), "GET {url}: {status}");
            Ok::<serde_json::Value, anyhow::Error>(response.json().await?)
        }
    };
    // Lists come as `{"items": [...]}`.
    let list = |service: &'static str, path: &'static str| {
        let base = at(service);
        let get = &get;
        async move {
            let url = format!("{}{path}", base?);
            let mut value = get(url.clone()).await?;
            anyhow::Ok((service, path, value["items"].take()))
        }
    };
    // Orders come in pages of the order service's audit listing.
    let mut orders = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{}/v1/audit/orders?limit=1000", at("order")?);
        if let Some(after) = &after {
            url.push_str(&format!("&after={after}"));
        }
        let mut page = get(url).await?;
        let batch: Vec<AuditOrder> = serde_json::from_value(page["orders"].take())
            .map_err(|e| anyhow::anyhow!("order /v1/audit/orders: unexpected answer: {e}"))?;
        orders.extend(batch);
        match page["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let mut state = State {
        orders,
        stock: decode(list("inventory", "/v1/audit/stock").await?)?,
        reservations: decode(list("inventory", "/v1/audit/reservations").await?)?,
        charges: decode(list("payment", "/v1/audit/charges").await?)?,
        now: ballast_kit::store::now_millis(),
        ..State::default()
    };
    for service in addresses.keys() {
        let outbox = get(format!("{}/v1/audit/outbox", at(service)?)).await?;
        state
            .outboxes
            .insert(service.clone(), serde_json::from_value(outbox)?);
    }
    if let Some(path) = &args.accepted {
        state.accepted = read_accepted(path)?;
    }
    let violations = check(&state);
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for order in &state.orders {
        *by_status.entry(order.status.as_str()).or_default() += 1;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "orders": by_status,
                "stock_records": state.stock.len(),
                "charges": state.charges.len(),
                "accepted_checked": state.accepted.len(),
                "violations": violations,
            }))?
        );
    } else {
        println!(
            "checked {} orders {:?}, {} stock records, {} reservations, {} charges, {} outboxes, {} accepted orders",
            state.orders.len(),
            by_status,
            state.stock.len(),
            state.reservations.len(),
            state.charges.len(),
            state.outboxes.len(),
            state.accepted.len()
        );
        for v in &violations {
            println!(
                "VIOLATION {}: {} [{}]",
                v.invariant,
                v.detail,
                v.ids.join(", ")
            );
        }
        println!("{} violations", violations.len());
    }
    Ok(violations)
}

/// Reads one audit list, naming the endpoint when its shape is not what verify expects.
fn decode<T: serde::de::DeserializeOwned>(
    (service, path, items): (&str, &str, serde_json::Value),
) -> anyhow::Result<T> {
    serde_json::from_value(items)
        .map_err(|e| anyhow::anyhow!("{service} {path}: unexpected answer: {e}"))
}

/// Logs in with `BALLAST_ADMIN__EMAIL` / `BALLAST_ADMIN__PASSWORD` at a user instance.
async fn login(client: &reqwest::Client, user_instance: &str) -> anyhow::Result<String> {
    let email = std::env::var("BALLAST_ADMIN__EMAIL")
        .unwrap_or_else(|_| crate::config::AdminAccount::default().email);
    let password = std::env::var("BALLAST_ADMIN__PASSWORD").map_err(|_| {
        anyhow::anyhow!(
            "set BALLAST_ADMIN__PASSWORD (or pass --token) so verify can read the audit endpoints"
        )
    })?;
    let response = client
        .post(format!("{user_instance}/v1/auth/login"))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "admin login failed: {}",
        response.status()
    );
    let body: serde_json::Value = response.json().await?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("login answered no access_token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, status: &str) -> AuditOrder {
        AuditOrder {
            id: id.into(),
            status: status.into(),
            idempotency_key: Some(format!("k-{id}")),
            deadline_at_ms: Some(1_000),
        }
    }

    fn charge(order: &str, status: &str, amount: i64, refunded: i64) -> AuditCharge {
        AuditCharge {
            order_id: order.into(),
            status: status.into(),
            amount_minor: amount,
            refunded_minor: refunded,
        }
    }

    fn reservation(order: &str, status: &str) -> AuditReservation {
        AuditReservation {
            order_id: order.into(),
            status: status.into(),
        }
    }

    fn consistent() -> State {
        State {
            orders: vec![
                order("a", "confirmed"),
                order("b", "failed"),
                order("c", "pending"),
            ],
            stock: vec![AuditStock {
                product_id: "p".into(),
                initial: 10,
                restocked: 5,
                available: 11,
                reserved: 1,
                sold: 3,
            }],
            reservations: vec![reservation("a", "committed"), reservation("b", "released")],
            charges: vec![
                charge("a", "captured", 500, 0),
                charge("b", "captured", 300, 300),
            ],
            outboxes: [("order".to_owned(), AuditOutbox { pending: 0 })].into(),
            accepted: vec![Accepted {
                order_id: "a".into(),
                idempotency_key: "k-a".into(),
            }],
            now: 500,
        }
    }

    #[test]
    fn a_consistent_state_has_no_violation() {
        assert_eq!(check(&consistent()), vec![]);
    }

    #[test]
    fn each_broken_invariant_is_reported_with_its_ids() {
        let mut state = consistent();
        state.now = 2_000; // "c" is past its deadline
        state.accepted.push(Accepted {
            order_id: "lost".into(),
            idempotency_key: "k-lost".into(),
        });
        state.charges.push(charge("a", "captured", 500, 0)); // double charge
        state.reservations[1].status = "held".into(); // failed order keeps stock
        state.charges[1].refunded_minor = 100; // and most of its money
        state.stock[0].sold = 4; // stock created from nothing
        state
            .outboxes
            .insert("payment".into(), AuditOutbox { pending: 2 });
        let violations = check(&state);
        let invariants: BTreeSet<&str> = violations.iter().map(|v| v.invariant).collect();
        assert_eq!(
            invariants,
            BTreeSet::from([
                "no order lost",
                "every order terminal or within its deadline",
                "a confirmed order has exactly one captured charge",
                "a failed order has no live reservation",
                "a failed order has no un-refunded charge",
                "stock conserved",
                "every outbox event delivered",
            ])
        );
        let lost = violations
            .iter()
            .find(|v| v.invariant == "no order lost")
            .unwrap();
        assert_eq!(lost.ids, vec!["lost", "k-lost"]);
    }

    #[test]
    fn negative_stock_is_a_violation() {
        let mut state = consistent();
        state.stock[0].available = -1;
        state.stock[0].sold = 5;
        let violations = check(&state);
        assert!(
            violations
                .iter()
                .any(|v| v.invariant == "stock never negative")
        );
    }
}
